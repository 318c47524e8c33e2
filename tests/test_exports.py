"""Used exports: products leaving a country at the end of their use there and reaching end of life
elsewhere (``data/used_exports.csv``, :func:`urbanmine.pipeline.used_exports`)."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from urbanmine.cli import main
from urbanmine.errors import InputDataError
from urbanmine.estimate import estimate, load_inputs
from urbanmine.inflows import load_used_exports
from urbanmine.pipeline import used_exports

DATA = Path(__file__).parents[1] / "data"


def test_used_exports_by_hand():
    """Three countries; country 0 exports 40 % of its outflow in year 1, 3/4 of it to country 1
    and 1/4 to country 2."""
    eol = xr.DataArray(np.array([[10.0, 10.0], [2.0, 2.0], [0.0, 0.0]]), dims=("country", "year"))
    share = np.array([[0.0, 0.4]])
    dest = np.zeros((3, 1, 2))
    dest[1, 0, :], dest[2, 0, :] = 0.75, 0.25
    domestic, net = used_exports(eol, [0], share, dest)
    np.testing.assert_allclose(domestic.values, [[10.0, 6.0], [2.0, 5.0], [0.0, 1.0]])
    np.testing.assert_allclose(net.values, [[0.0, 4.0], [0.0, -3.0], [0.0, -1.0]])
    np.testing.assert_allclose(domestic.sum("country"), eol.sum("country"))  # nothing lost


def test_shipped_exports_load_and_sum_to_one():
    inputs = load_inputs()
    exporters, years, share, dest = inputs.exports["ev_traction_motor"]
    assert exporters == ["JPN"]
    # 0.90 until 2017 falling to 0.28 in 2035 (data-raw/assumptions.toml)
    assert share[0, years == 2017][0] == pytest.approx(0.90, abs=1e-4)
    assert share[0, years == 2035][0] == pytest.approx(0.28, abs=1e-4)
    np.testing.assert_allclose(dest[:, 0].sum(axis=0), 1.0, atol=1e-9)
    regions = inputs.regions
    # Mongolia gets its FY2017 share of Japan's used hybrid exports, and more through ROW
    assert dest[regions.index(["MNG"])[0], 0, 0] >= 26373 / 131721
    assert dest[regions.index(["JPN"])[0], 0].max() == 0.0


def test_a_destination_alone_sees_its_imports():
    """Asking for Sri Lanka alone models Japan too (an exporter), so Sri Lanka's numbers do not
    depend on which other regions a run asks for."""
    inputs = load_inputs()
    kw = dict(products=["ev_traction_motor"], elements=["Nd"], years=[2030, 2040], inputs=inputs)
    alone = estimate(["LKA"], **kw).set_index(["stage", "year"])["value"]
    both = estimate(["LKA", "JPN"], **kw)
    both = both[both.region == "LKA"].set_index(["stage", "year"])["value"]
    np.testing.assert_allclose(alone.sort_index(), both.sort_index(), rtol=1e-12)
    assert alone[("net_export", 2030)] < 0  # an importer


BAD = {
    "exporter": ("exporter", "JAP", "exporter = 'JAP', expected a country code"),
    "share": ("share", "1.5", "share = '1.5', expected a fraction within [0, 1]"),
    "destination": ("destination", "NOWHERE", "unknown destination 'NOWHERE'"),
    "split_key": ("split_key", "cars", "split_key = 'cars', expected one of"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_used_exports_are_one_line_errors(tmp_path, case, assert_one_line_error):
    col, value, message = BAD[case]
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    lines = (data / "used_exports.csv").read_text().splitlines()
    header = lines[0].split(",")
    first = lines[1].split(",")
    first[header.index(col)] = value
    lines[1] = ",".join(first)
    (data / "used_exports.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputDataError, match="used_exports.csv, line 2"):
        load_used_exports(data)
    out = tmp_path / "o.csv"
    res = CliRunner().invoke(main, ["estimate", "--region", "JPN", "--data", str(data), "--out", str(out), "-q"])
    assert_one_line_error(res, "used_exports.csv, line 2", message)
    assert not out.exists()


def test_shares_above_one_in_a_year_are_an_error(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    text = (data / "used_exports.csv").read_text()
    (data / "used_exports.csv").write_text(text.replace(",0.180197,MNG,", ",0.9,MNG,", 1))
    with pytest.raises(InputDataError, match=r"exporter JPN, product ev_traction_motor, year 1990: the "
                                             r"destinations' shares add up to 1.62, expected at most 1"):
        load_used_exports(data)


def test_without_the_file_there_are_no_exports(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    (data / "used_exports.csv").unlink()
    assert load_used_exports(data) == {}
    df = estimate(["JPN"], years=[2030], products=["ev_traction_motor"], elements=["Nd"], data=data)
    assert float(df[df.stage == "net_export"].value.iloc[0]) == 0.0
