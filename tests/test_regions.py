"""Countries as the base unit: groupings add up, user groupings, bad regions files, levers by group."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from urbanmine.cli import main
from urbanmine.errors import InputDataError
from urbanmine.estimate import estimate, load_inputs
from urbanmine.regions import WORLD, load_regions

SEVEN = ("CHN", "EU27", "USA", "JPN", "KOR", "IND", "ROW")  # the regions of 0.1, what --region all gives

ROOT = Path(__file__).parents[1]
EU27 = ["AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN", "IRL",
        "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE"]


@pytest.fixture(scope="module")
def inputs():
    return load_inputs()


def test_shipped_groupings():
    regs = load_regions()
    assert len(regs.countries) == 235
    assert sorted(regs.members("EU27")) == sorted(EU27)
    assert set(regs.members("G7")) == {"CAN", "FRA", "DEU", "ITA", "JPN", "GBR", "USA"}
    assert set(regs.members("AMERICAS")) == set(regs.members("LATIN_AMERICA_CARIBBEAN")) | {"USA", "CAN", "BMU", "GRL", "SPM"}
    # the seven regions of 0.1 partition the world
    parts = [set(regs.members(r)) for r in SEVEN]
    assert sum(len(p) for p in parts) == 235 and set().union(*parts) == set(regs.countries)
    # the UN regions too
    un = ["AFRICA", "ASIA", "EUROPE", "LATIN_AMERICA_CARIBBEAN", "NORTHERN_AMERICA", "OCEANIA"]
    assert sum(len(regs.members(r)) for r in un) == 235
    assert regs.resolve("gbr") == "GBR" and regs.resolve("eu27") == "EU27"
    assert regs.default == [*SEVEN, WORLD]  # --region all, from data/regions.csv
    with pytest.raises(InputDataError, match="did you mean 'EU27'"):
        regs.resolve("EU28")
    with pytest.raises(InputDataError, match="did you mean 'DEU', Germany"):
        regs.resolve("germany")


def test_aggregates_equal_the_sums_of_their_members(inputs, tmp_path):
    groups = tmp_path / "groups.csv"
    groups.write_text("region,member\nNORDIC,DNK\nNORDIC,FIN\nNORDIC,ISL\nNORDIC,NOR\nNORDIC,SWE\n"
                      "BIG,NORDIC\nBIG,g7\n")
    inp = load_inputs(regions=groups)
    codes = ["EU27", WORLD, "NORDIC", "BIG", *SEVEN, *EU27, "DNK", "FIN", "ISL", "NOR", "SWE", "CAN", "GBR"]
    df = estimate(codes, years=(2020, 2050), samples=40, seed=3, inputs=inp)
    flows = df[(df.stage != "secondary_share") & (df["product"] != "all") & (df.element != "REE")]
    tab = flows.set_index(["region", "product", "element", "stage", "year"])[["value", "mean"]]

    def total(members, col):
        return sum(tab.xs(m, level="region")[col] for m in members)

    for col in ("value", "mean"):  # the means of samples add up too: sums are taken per sample
        for group, members in (("EU27", EU27), (WORLD, list(SEVEN)), ("NORDIC", ["DNK", "FIN", "ISL", "NOR", "SWE"])):
            np.testing.assert_allclose(tab.xs(group, level="region")[col], total(members, col), rtol=1e-5, atol=1e-9)
    # a grouping of a grouping: BIG = NORDIC + G7 (no overlap)
    g7 = ["CAN", "FRA", "DEU", "ITA", "JPN", "GBR", "USA"]
    np.testing.assert_allclose(tab.xs("BIG", level="region")["value"],
                               total(["DNK", "FIN", "ISL", "NOR", "SWE", *g7], "value"), rtol=1e-5, atol=1e-9)


def test_the_seven_regions_are_the_old_regional_series(inputs):
    """The seven regions' sales are their regional rows of inflows.csv times the profile's content
    (computed here by hand from the profile, with the region's own technology mix: every member
    of each of the seven has the same mix), whether the region is a country or a grouping."""
    prof = inputs.profiles["wind_turbine"]
    content = prof.content([2024])[:, 0, 0]  # Nd [kg/MW]
    segs = [s for s, _ in prof.technologies]
    df = estimate(list(SEVEN), years=(2024, 2024), products=["wind_turbine"], elements=["Nd"], inputs=inputs)
    sales = df[(df.stage == "sales")].set_index("region")["value"]
    inf = inputs.inflows
    for r in SEVEN:
        shares = prof.shares([2024], region=r, regions=inputs.regions)[:, 0]
        kg_per_mw = {seg: sum(sh * c for s, sh, c in zip(segs, shares, content) if s == seg) for seg in prof.segments}
        rows = inf[(inf.demand == "stated") & (inf.region == r) & (inf["product"] == "wind_turbine") & (inf.year == 2024)]
        expected = sum(v * kg_per_mw[seg] for seg, v in zip(rows.segment, rows.value)) / 1000.0
        assert sales[r] == pytest.approx(expected, rel=2e-6), r


BAD_GROUPS = {
    "unknown_member": ("region,member\nMINE,DEU\nMINE,France\n", "line 3: member = 'France'", "did you mean 'FRA', France"),
    "cycle": ("region,member\nA1,B1\nB1,A1\n", "cycle of regions", ""),
    "duplicate": ("region,member\nMINE,DEU\nMINE,DEU\n", "line 3: duplicate row", ""),
    "reuses_a_country": ("region,member\nDEU,FRA\n", "line 2: region = 'DEU' is already a country", ""),
    "reuses_a_region": ("region,member\neu27,FRA\n", "is already a country or shipped region", ""),
    "extra_column": ("region,member,weight\nMINE,DEU,1\n", "unexpected column 'weight'", ""),
    "missing_column": ("region\nMINE\n", "column 'member' is missing", ""),
    "world_member": ("region,member\nMINE,WORLD\n", "WORLD cannot be a member", ""),
}


@pytest.mark.parametrize("case", sorted(BAD_GROUPS))
def test_bad_regions_files_end_in_one_line_errors(tmp_path, case, assert_one_line_error):
    text, fragment, hint = BAD_GROUPS[case]
    path = tmp_path / "groups.csv"
    path.write_text(text)
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(main, ["estimate", "--regions", str(path), "--region", "EU27", "--from", "2030",
                                    "--to", "2030", "--out", str(out), "-q"])
    assert_one_line_error(res, fragment, hint, "groups.csv")
    assert not out.exists()


def test_unknown_region_on_the_command_line(tmp_path):
    res = CliRunner().invoke(main, ["estimate", "--region", "Germany", "--out", str(tmp_path / "o.csv"), "-q"])
    assert res.exit_code == 1 and "unknown region 'Germany'" in res.output and "DEU" in res.output


def test_a_lever_for_a_group_applies_to_its_members_and_a_country_overrides_it(inputs, tmp_path):
    scen = tmp_path / "g7-wind.toml"
    scen.write_text('''schema_version = 1
name = "g7-wind"
description = "test"
base = "current-practice"
[[levers]]
parameter = "liberation"
product = "wind_turbine"
region = "G7"
value = 0.5
assumption = "test"
[[levers]]
parameter = "liberation"
product = "wind_turbine"
region = "deu"
value = 0.2
assumption = "test: a country beats its grouping"
''')
    sc = inputs.scenario(str(scen))
    lib = sc.paths("liberation", "wind_turbine", ["FRA", "DEU", "CHN", "USA"], [2030])[0][:, 0]
    np.testing.assert_allclose(lib, [0.5, 0.2, 0.01, 0.5])
    df = estimate(["FRA", "CHN"], years=(2040, 2040), products=["wind_turbine"], elements=["REE"],
                  scenario=["current-practice", str(scen)], inputs=inputs)
    rec = df[df.stage == "recovered"].set_index(["scenario", "region"])["value"]
    assert rec[("g7-wind", "FRA")] == pytest.approx(rec[("current-practice", "FRA")] * 0.5 / 0.01, rel=1e-9)
    assert rec[("g7-wind", "CHN")] == rec[("current-practice", "CHN")]


def test_a_regions_numbers_do_not_depend_on_the_other_regions_asked(inputs):
    """Only the countries of the asked regions are modelled, with the draws every country would
    get: EU27 alone equals EU27 next to the USA, sample for sample (to round-off: the sum over
    countries runs over a different set of zeros)."""
    kw = dict(years=(2030, 2040), products=["ev_traction_motor"], elements=["REE"], samples=30, seed=4,
              inputs=inputs)
    alone = estimate(["EU27"], **kw)
    both = estimate(["USA", "EU27"], **kw)
    both = both[both.region == "EU27"].reset_index(drop=True)
    cols = ["value", "mean", "p05", "p50", "p95"]
    np.testing.assert_allclose(alone[cols].to_numpy(), both[cols].to_numpy(), rtol=1e-12, atol=0)
    one = estimate(["JPN"], **kw)  # a single country is a run of its own
    assert (one.region == "JPN").all() and one["value"].notna().any()
