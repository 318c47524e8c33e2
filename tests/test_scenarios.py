"""Policy scenarios: hand-computed levers, inheritance, paired differences, totals, bad files."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import GIZMO_HEAD

from urbanmine.cli import main
from urbanmine.errors import InputDataError
from urbanmine.estimate import estimate, load_inputs

ROOT = Path(__file__).parents[1]

# two technologies in one segment: "pm" with 1 kg of magnet per unit, "free" without magnets;
# fixed 2-year lifetime, so a cohort of year c leaves use in year c + 2 exactly
PROFILE = GIZMO_HEAD + '''[segments.all]
[segments.all.shares]
year = [2000]
central = { pm = [0.5], free = [0.5] }
assumption = "test"
[segments.all.technologies.pm]
composition = "grade"
magnet_kg_per_unit = { central = 1.0, assumption = "test" }
[segments.all.technologies.free]
composition = "grade"
magnet_kg_per_unit = { central = 0.0, assumption = "test" }
[compositions.grade]
Nd = { central = 0.5, assumption = "test" }
Pr = { central = 0.1, assumption = "test" }
Dy = { central = 0.0, assumption = "test" }
Tb = { central = 0.0, assumption = "test" }
[end_of_life]
route = "test"
'''

BASE = '''schema_version = 1
name = "base"
description = "the test chain"
demand = "s"
[[levers]]
parameter = "collection"
value = 0.5
low = 0.4
high = 0.6
assumption = "test"
[[levers]]
parameter = "liberation"
value = 0.5
assumption = "test"
[[levers]]
parameter = "process_yield"
value = 0.8
assumption = "test"
'''

POLICY = '''schema_version = 1
name = "policy"
description = "liberation steps to 1 in 2005 in CHN only"
base = "base"
[[levers]]
parameter = "liberation"
product = "gizmo"
region = "CHN"
year = [2004, 2005]
value = [0.5, 1.0]
from_year = 2004
status = "proposed"
assumption = "test"
'''


@pytest.fixture
def system(tmp_path, gizmo_system):
    # devices per year, every year
    values = {(r, y): {"CHN": 10.0, "EU27": 4.0}.get(r, 0.0) for r in ("CHN", "EU27", "USA") for y in range(2000, 2011)}
    prof, data = gizmo_system(PROFILE, values)
    scen = tmp_path / "scen"
    scen.mkdir()
    (scen / "base.toml").write_text(BASE)
    (scen / "policy.toml").write_text(POLICY)
    return load_inputs(prof, data), scen


def _v(df, scenario, region, stage, year, element="Nd", col="value", product="gizmo"):
    row = df[(df.scenario == scenario) & (df.region == region) & (df.element == element)
             & (df.stage == stage) & (df.year == year) & (df["product"] == product)]
    assert len(row) == 1, (scenario, region, stage, year)
    return float(row[col].iloc[0])


def test_a_lever_stepping_in_2005_changes_only_flows_from_2005(system):
    inputs, scen = system
    df = estimate(scenario=[str(scen / "base.toml"), str(scen / "policy.toml")], inputs=inputs)
    # by hand: CHN sells 10 devices/yr, half with 1 kg magnet x 50 % Nd = 2.5 kg Nd/yr; after two
    # years they reach end of life: 2.5 kg = 0.0025 t/yr from 2002 on
    eol = 10 * 0.5 * 1.0 * 0.5 / 1000
    for y in range(2002, 2011):
        assert _v(df, "base", "CHN", "end_of_life", y) == pytest.approx(eol)
        assert _v(df, "base", "CHN", "recovered", y) == pytest.approx(eol * 0.5 * 0.5 * 0.8)
    for y in range(2000, 2004):  # before the lever's from_year: identical to the base
        for stage in ("collected", "liberated", "recovered"):
            assert _v(df, "policy", "CHN", stage, y) == _v(df, "base", "CHN", stage, y)
    assert _v(df, "policy", "CHN", "recovered", 2004) == pytest.approx(eol * 0.5 * 0.5 * 0.8)
    for y in range(2005, 2011):
        assert _v(df, "policy", "CHN", "recovered", y) == pytest.approx(eol * 0.5 * 1.0 * 0.8)
        # EU27 has no lever of its own: the base's "*" applies
        assert _v(df, "policy", "EU27", "recovered", y) == _v(df, "base", "EU27", "recovered", y)
    # the difference rows are policy minus base, and WORLD adds the regions
    d = _v(df, "policy minus base", "WORLD", "recovered", 2006)
    assert d == pytest.approx(eol * 0.5 * 0.5 * 0.8)
    # totals: REE = Nd + Pr (+ Dy + Tb = 0); one product, so no 'all' rows
    assert _v(df, "base", "CHN", "sales", 2003, "REE") == pytest.approx(10 * 0.5 * (0.5 + 0.1) / 1000)
    assert "all" not in set(df["product"])


def test_inheritance_overrides_and_specificity(tmp_path, system):
    inputs, scen = system
    (scen / "child.toml").write_text('''schema_version = 1
name = "child"
description = "overrides"
base = "policy"
[[levers]]
parameter = "liberation"
value = 0.25
assumption = "a later '*' replaces the base's '*' but not its CHN lever"
[[levers]]
parameter = "process_yield"
product = "gizmo"
value = 0.4
assumption = "a named product beats '*'"
''')
    sc = inputs.scenario(str(scen / "child.toml"))
    assert sc.chain == ["base", "policy", "child"] and sc.demand == "s"
    years = np.array([2003, 2006])
    lib = sc.paths("liberation", "gizmo", ["CHN", "EU27"], years)[0]
    np.testing.assert_allclose(lib, [[0.25, 1.0], [0.25, 0.25]])  # CHN before from_year: the '*'
    np.testing.assert_allclose(sc.paths("process_yield", "gizmo", ["USA"], years)[0], [[0.4, 0.4]])
    res = CliRunner().invoke(main, ["scenarios", "show", str(scen / "child.toml"), "--profiles",
                                    str(inputs.profile_dir), "--data", str(inputs.data_dir)])
    assert res.exit_code == 0, res.output
    assert "base -> policy -> child" in res.output and "[overridden]" in res.output


def test_paired_differences_and_totals_per_sample(system):
    inputs, scen = system
    names = [str(scen / "base.toml"), str(scen / "policy.toml")]
    df = estimate(scenario=names, samples=400, seed=5, inputs=inputs)
    # the policy changes only CHN's liberation; the collection rate is uncertain (0.4-0.6) in both,
    # drawn once per sample for both scenarios, so the difference is exactly
    # eol * collection * (1.0 - 0.5) * 0.8 per sample, spread by collection only
    eol = 10 * 0.5 * 0.5 / 1000
    p05 = _v(df, "policy minus base", "CHN", "recovered", 2008, col="p05")
    p95 = _v(df, "policy minus base", "CHN", "recovered", 2008, col="p95")
    c05 = 0.4 + np.sqrt(0.05 * 0.2 * 0.1)  # triangular(0.4, 0.5, 0.6) quantiles
    c95 = 0.6 - np.sqrt(0.05 * 0.2 * 0.1)
    assert p05 == pytest.approx(eol * c05 * 0.5 * 0.8, rel=0.02)
    assert p95 == pytest.approx(eol * c95 * 0.5 * 0.8, rel=0.02)
    # the difference of the percentiles would be another number: the ranges are paired
    naive = _v(df, "policy", "CHN", "recovered", 2008, col="p05") - _v(df, "base", "CHN", "recovered", 2008, col="p05")
    assert p05 == pytest.approx(naive, rel=1e-3)  # here the scenarios are comonotone ...
    # ... but the difference's mean is the difference of the means
    assert _v(df, "policy minus base", "CHN", "recovered", 2008, col="mean") == pytest.approx(
        _v(df, "policy", "CHN", "recovered", 2008, col="mean") - _v(df, "base", "CHN", "recovered", 2008, col="mean"),
        rel=1e-6)
    # totals per sample: mean(REE) = sum of the elements' means; percentiles of REE are its own
    for stage in ("sales", "recovered"):
        ree = _v(df, "base", "WORLD", stage, 2008, "REE", col="mean")
        parts = sum(_v(df, "base", "WORLD", stage, 2008, e, col="mean") for e in ("Nd", "Pr", "Dy", "Tb"))
        assert ree == pytest.approx(parts, rel=1e-6)


def test_common_random_numbers_same_rows_alone_or_together(system):
    inputs, scen = system
    alone = estimate(scenario=[str(scen / "base.toml")], samples=50, seed=2, inputs=inputs)
    both = estimate(scenario=[str(scen / "base.toml"), str(scen / "policy.toml")], samples=50, seed=2,
                    inputs=inputs)
    both = both[both.scenario == "base"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, both, check_categorical=False)


def test_technology_shift_and_lifetime_factor_by_hand(system):
    inputs, scen = system
    (scen / "shift.toml").write_text('''schema_version = 1
name = "shift"
description = "half of the pm sales move to magnet-free from 2004; products sold from 2004 last twice as long"
base = "base"
[[levers]]
parameter = "technology_shift"
product = "gizmo"
from = "pm"
to = "free"
value = 0.5
from_year = 2004
assumption = "test"
[[levers]]
parameter = "lifetime_factor"
product = "gizmo"
value = 2.0
from_year = 2004
assumption = "test"
''')
    df = estimate(scenario=[str(scen / "shift.toml")], inputs=inputs)
    per_year = 10 * 0.5 * 0.5 / 1000  # t Nd/yr in CHN before the shift
    assert _v(df, "shift", "CHN", "sales", 2003) == pytest.approx(per_year)
    assert _v(df, "shift", "CHN", "sales", 2004) == pytest.approx(per_year / 2)
    # cohorts up to 2003 live 2 years, from 2004 on 4 years: end of life 2005 comes from 2003,
    # 2006 and 2007 from no cohort (2004 and 2005 leave in 2008 and 2009), 2008 from 2004
    assert _v(df, "shift", "CHN", "end_of_life", 2005) == pytest.approx(per_year)
    assert _v(df, "shift", "CHN", "end_of_life", 2006) == pytest.approx(0.0, abs=1e-15)
    assert _v(df, "shift", "CHN", "end_of_life", 2007) == pytest.approx(0.0, abs=1e-15)
    assert _v(df, "shift", "CHN", "end_of_life", 2008) == pytest.approx(per_year / 2)
    assert _v(df, "shift", "CHN", "in_use_stock", 2007) == pytest.approx(4 * per_year / 2)


BAD = {
    "unknown_parameter": ('parameter = "liberation"\nvalue = 0.5', 'parameter = "liberaton"\nvalue = 0.5',
                          "[levers.2.parameter] = 'liberaton', expected one of"),
    "percent": ("value = 0.8", "value = 80", "looks like a percentage"),
    "unknown_product": ('[[levers]]\nparameter = "collection"', '[[levers]]\nproduct = "tv"\nparameter = "collection"',
                        "[levers.1.product] = 'tv'"),
    "unknown_region": ('[[levers]]\nparameter = "collection"', '[[levers]]\nregion = "MARS"\nparameter = "collection"',
                       "[levers.1.region] = 'MARS'"),
    "missing_source": ('value = 0.8\nassumption = "test"', "value = 0.8", "has no source and no assumption"),
    "unknown_reference": ('value = 0.8\nassumption = "test"', 'value = 0.8\nsource = ["NOPE99"]', "unknown reference 'NOPE99'"),
    "years_not_increasing": ("value = 0.8\n", "year = [2010, 2005]\nvalue = [0.8, 0.9]\n", "expected strictly increasing years"),
    "lengths_differ": ("value = 0.8\n", "year = [2005, 2010]\nvalue = [0.8]\n", "has 1 values for 2 years"),
    "low_above_value": ("low = 0.4", "low = 0.55", "low <= value <= high"),
    "name_not_file": ('name = "base"', 'name = "other"', "expected the file name"),
    "missing_base": ('name = "base"', 'name = "base"\nbase = "nowhere"', "unknown scenario 'nowhere'"),
    "unknown_key": ('description = "the test chain"', 'description = "the test chain"\nlevers_x = 1', "[levers_x] unknown key"),
    "malformed_toml": ("[[levers]]", "[[levers]", "malformed TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_scenario_files_end_in_one_line_errors(system, tmp_path, case, assert_one_line_error):
    inputs, scen = system
    old, new, fragment = BAD[case]
    assert old in BASE, case
    (scen / "base.toml").write_text(BASE.replace(old, new, 1))
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(main, ["estimate", "--scenario", str(scen / "base.toml"), "--profiles",
                                    str(inputs.profile_dir), "--data", str(inputs.data_dir), "--out",
                                    str(out), "-q"])
    assert_one_line_error(res, fragment, "base.toml")
    assert not out.exists()
    with pytest.raises(InputDataError, match=None):
        inputs.scenario(str(scen / "base.toml"))
    res = CliRunner().invoke(main, ["scenarios", "validate", str(scen / "base.toml"), "--profiles",
                                    str(inputs.profile_dir), "--data", str(inputs.data_dir)])
    assert res.exit_code == 1 and fragment in res.output


def test_cycle_of_bases(system):
    inputs, scen = system
    (scen / "a.toml").write_text(BASE.replace('name = "base"', 'name = "a"\nbase = "b"'))
    (scen / "b.toml").write_text(BASE.replace('name = "base"', 'name = "b"\nbase = "a"'))
    with pytest.raises(InputDataError, match="cycle of bases"):
        inputs.scenario(str(scen / "a.toml"))


def test_missing_rate_is_an_error_not_a_default(system):
    inputs, scen = system
    (scen / "bare.toml").write_text('schema_version = 1\nname = "bare"\ndescription = "no levers"\ndemand = "s"\n')
    with pytest.raises(InputDataError, match="sets no collection for gizmo"):
        estimate(scenario=[str(scen / "bare.toml")], inputs=inputs)


def test_shipped_scenarios_are_valid_and_current_practice_is_about_one_percent():
    res = CliRunner().invoke(main, ["scenarios", "validate"])
    assert res.exit_code == 0, res.output
    assert "3 scenarios valid" in res.output
    df = estimate(regions=["WORLD"], years=(2023, 2023), elements=["REE"])
    rec = df[(df["product"] == "all") & (df.stage == "recovered")].value.item()
    collected = df[(df["product"] == "all") & (df.stage == "collected")].value.item()
    # today's practice: about 1 % of the collected magnet rare earths are recovered (UNEP 2011: <1 %)
    assert 0.003 < rec / collected < 0.015
