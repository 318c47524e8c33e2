"""Sobol sensitivity indices: an analytic case, the shipped data, the command line."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import GIZMO_HEAD, chain_scenario

from urbanmine.cli import main
from urbanmine.errors import InputDataError
from urbanmine.estimate import load_inputs
from urbanmine.sensitivity import input_groups, sensitivity

# one product: 10 devices in 2000, fixed 2-year lifetime; magnet mass M ~ triangular(0.5, 1, 1.5)
# kg, Nd 50 %; collection 1, liberation L ~ triangular(0.2, 0.5, 0.8), yield 1:
# recovered Nd in 2002 = 10 x M x 0.5 x L / 1000 [t], a product of two independent inputs
PROFILE = GIZMO_HEAD + '''[segments.all]
[segments.all.shares]
year = [2000]
central = { pm = [1.0] }
assumption = "test"
[segments.all.technologies.pm]
composition = "grade"
magnet_kg_per_unit = { central = 1.0, low = 0.5, high = 1.5, assumption = "test" }
[compositions.grade]
Nd = { central = 0.5, assumption = "test" }
Pr = { central = 0.0, assumption = "test" }
Dy = { central = 0.0, assumption = "test" }
Tb = { central = 0.0, assumption = "test" }
[end_of_life]
route = "test"
'''
SCENARIO = chain_scenario(liberation="0.5\nlow = 0.2\nhigh = 0.8")


def _tri(a, b, c):
    """Mean and variance of a triangular distribution (low a, mode b, high c)."""
    return (a + b + c) / 3, (a * a + b * b + c * c - a * b - a * c - b * c) / 18


@pytest.fixture
def gizmo(gizmo_system):
    values = {(r, y): (10.0 if (r == "DEU" and y == 2000) else 0.0) for r in ("DEU",) for y in range(2000, 2006)}
    prof, data = gizmo_system(PROFILE, values)
    (prof.parent / "tiny.toml").write_text(SCENARIO)
    return load_inputs(prof, data), str(prof.parent / "tiny.toml")


def test_product_of_two_inputs_by_hand(gizmo):
    """Y = k M L with M, L independent: Var Y = k^2 (mM^2 vL + mL^2 vM + vM vL);
    S1_M = mL^2 vM / (...), S1_L = mM^2 vL / (...), ST_M = (mL^2 + vL) vM / (...)."""
    inputs, scen = gizmo
    r = sensitivity("DEU", 2002, element="Nd", product="gizmo", scenario=scen, base_samples=4096, inputs=inputs)
    m_m, v_m = _tri(0.5, 1.0, 1.5)
    m_l, v_l = _tri(0.2, 0.5, 0.8)
    total = m_m**2 * v_l + m_l**2 * v_m + v_m * v_l
    t = r.table.set_index("group")
    mass, lever = t.loc["Gizmo: magnet mass"], t.loc["Scenario lever: liberation achieved"]
    assert mass.S1 == pytest.approx(m_l**2 * v_m / total, abs=0.03)
    assert lever.S1 == pytest.approx(m_m**2 * v_l / total, abs=0.03)
    assert mass.ST == pytest.approx((m_l**2 + v_l) * v_m / total, abs=0.03)
    assert lever.ST == pytest.approx((m_m**2 + v_m) * v_l / total, abs=0.03)
    # the plain sample of the design has the output's mean: 10 x E[M] x 0.5 x E[L] / 1000
    assert r.output["mean"] == pytest.approx(10 * m_m * 0.5 * m_l / 1000, rel=0.01)
    assert r.model_runs == 4096 * (len(r.table) + 2)


def test_groups_leave_out_what_cannot_matter(gizmo):
    inputs, scen = gizmo
    labels = [g for g, _ in input_groups(inputs, ["gizmo"], inputs.scenario(scen))]
    # the scenario gives collection and yield no range and the profile names no collection model
    assert labels == ["Gizmo: magnet mass", "Scenario lever: liberation achieved"]


def test_same_seed_same_indices(gizmo):
    inputs, scen = gizmo
    a = sensitivity("DEU", 2002, product="gizmo", scenario=scen, base_samples=64, inputs=inputs, seed=3)
    b = sensitivity("DEU", 2002, product="gizmo", scenario=scen, base_samples=64, inputs=inputs, seed=3)
    pd.testing.assert_frame_equal(a.table, b.table)


def test_bad_arguments(gizmo):
    inputs, scen = gizmo
    with pytest.raises(InputDataError, match="samples = 100, expected a power of 2"):
        sensitivity("DEU", 2002, scenario=scen, base_samples=100, inputs=inputs)
    with pytest.raises(InputDataError, match="stage = 'recycled', expected one of"):
        sensitivity("DEU", 2002, scenario=scen, stage="recycled", inputs=inputs)
    with pytest.raises(InputDataError, match="year = 2200, expected a year within"):
        sensitivity("DEU", 2200, scenario=scen, inputs=inputs)


def test_shipped_data_cli_writes_csv_and_figure(tmp_path):
    out, fig = tmp_path / "s.csv", tmp_path / "s.png"
    res = CliRunner().invoke(main, ["sensitivity", "--region", "EU27", "--year", "2040", "--samples", "64",
                                    "--out", str(out), "--figure", str(fig)])
    assert res.exit_code == 0, res.output
    assert "Scenario lever: liberation achieved" in res.output
    df = pd.read_csv(out)
    assert list(df.columns[:8]) == ["region", "year", "element", "stage", "product", "scenario", "unit", "group"]
    assert (df.ST >= df.ST.shift(-1).fillna(-np.inf)).all()  # ranked by total index
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bad_samples_is_a_one_line_error_and_writes_nothing(tmp_path, assert_one_line_error):
    out = tmp_path / "s.csv"
    res = CliRunner().invoke(main, ["sensitivity", "--region", "EU27", "--year", "2040", "--samples", "1000",
                                    "--out", str(out)])
    assert_one_line_error(res, "samples = 1000, expected a power of 2")
    assert not out.exists()
