"""The IAMC long layout (``--format iamc``) that pyam reads.

pyam's documented format (``pyam.IamDataFrame``): columns ``model, scenario, region, variable,
unit, year, value``, one row per (model, scenario, region, variable, unit, year), ``|`` as the
variable hierarchy separator, no empty values. The test with pyam itself runs where pyam is
installed (it is not in the test extra: its database dependencies need pins and warn at import).
"""

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from urbanmine import __version__
from urbanmine.cli import main
from urbanmine.io import IAMC_COLUMNS, to_iamc


@pytest.fixture(scope="module")
def iamc_text(tmp_path_factory):
    out = tmp_path_factory.mktemp("iamc") / "eu.csv"
    res = CliRunner().invoke(main, ["estimate", "--region", "EU27", "--region", "JPN", "--from", "2030", "--to",
                                    "2031", "--scenario", "current-practice", "--scenario",
                                    "announced-policies", "--samples", "20", "--seed", "1", "--format", "iamc",
                                    "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert (out.parent / "eu.csv.meta.json").exists()
    return out.read_text()


def test_iamc_layout_is_pyams_documented_format(iamc_text):
    df = pd.read_csv(io.StringIO(iamc_text))
    assert tuple(df.columns) == IAMC_COLUMNS
    assert not df.isna().any().any()
    assert not df.duplicated(["model", "scenario", "region", "variable", "unit", "year"]).any()
    assert set(df["model"]) == {f"urbanmine {__version__}"}
    assert df["year"].dtype.kind == "i"
    assert {"current-practice", "announced-policies", "announced-policies minus current-practice"} == set(df.scenario)
    var = set(df["variable"])
    assert "Recovered|REE|Wind Turbine" in var and "End of Life|Nd|All Products" in var
    assert "Recovered|REE|EV Traction Motor|p95" in var and "Net Export|Dy|Smartphone|Mean" in var
    # every variable has three or four levels
    assert set(df["variable"].str.count(r"\|")) == {2, 3}


def test_iamc_values_are_the_tidy_values():
    tidy = pd.DataFrame({
        "scenario": ["s", "s"], "region": ["EU27", "EU27"], "product": ["wind_turbine", "all"],
        "element": ["REE", "Nd"], "stage": ["recovered", "secondary_share"], "unit": ["t/yr", "1"],
        "year": [2030, 2030], "value": [1.5, np.nan], "mean": [1.4, 0.1], "p05": [1.0, 0.0],
        "p50": [1.4, 0.1], "p95": [2.0, 0.2],
    })
    out = to_iamc(tidy, model="m").set_index("variable")["value"]
    # the central value and the statistics of the first row; the second has no central value
    assert out.to_dict() == {"Recovered|REE|Wind Turbine": 1.5, "Recovered|REE|Wind Turbine|Mean": 1.4,
                             "Recovered|REE|Wind Turbine|p05": 1.0, "Recovered|REE|Wind Turbine|p50": 1.4,
                             "Recovered|REE|Wind Turbine|p95": 2.0, "Secondary Share|Nd|All Products|Mean": 0.1,
                             "Secondary Share|Nd|All Products|p05": 0.0, "Secondary Share|Nd|All Products|p50": 0.1,
                             "Secondary Share|Nd|All Products|p95": 0.2}


def test_pyam_reads_it_without_edits(iamc_text, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pyam = pytest.importorskip("pyam")
        path = tmp_path / "x.csv"
        path.write_text(iamc_text)
        frame = pyam.IamDataFrame(str(path))
    assert "Recovered|REE|All Products" in frame.variable
    ts = frame.filter(variable="Recovered|REE|All Products", region="EU27", scenario="current-practice").timeseries()
    assert ts.shape == (1, 2)


def test_report_needs_the_tidy_csv(tmp_path, assert_one_line_error):
    res = CliRunner().invoke(main, ["estimate", "--region", "EU27", "--format", "iamc", "--out",
                                    str(tmp_path / "a.csv"), "--report", str(tmp_path / "r")])
    assert res.exit_code == 2 and "--report needs --out FILE.csv" in res.output
