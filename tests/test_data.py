"""Regional data: coverage, agreement with the raw sources, the rebuild, and bad input."""

import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from urbanmine.cli import main
from urbanmine.errors import InputDataError
from urbanmine.inflows import country_inflows, load_inflows, load_split_keys
from urbanmine.regions import WORLD, load_regions

SEVEN = ("CHN", "EU27", "USA", "JPN", "KOR", "IND", "ROW")  # the regions of 0.1, what --region all gives

ROOT = Path(__file__).parents[1]
DATA = ROOT / "data"
RAW = ROOT / "data-raw"


@pytest.fixture(scope="module")
def inflows():
    return load_inflows(DATA)


def test_coverage_is_complete(inflows):
    assert set(inflows["demand"]) == {"stated", "accelerated"}
    regions = load_regions(DATA)
    assert set(SEVEN) <= set(inflows["region"]) <= set(regions.codes)
    # the region rows carry the key that splits them over their countries
    grouped = inflows[~inflows["region"].map(regions.is_country)]
    assert set(grouped["region"]) == {"EU27", "ROW"} and grouped["split_key"].notna().all()
    segs = inflows.groupby("product")["segment"].unique().map(sorted).to_dict()
    assert segs == {"ev_traction_motor": ["bev", "hev", "phev"], "smartphone": ["all"],
                    "wind_turbine": ["offshore", "onshore"]}
    n = inflows.groupby(["demand", "region", "product", "segment"])["year"].agg(["min", "max", "count"])
    assert (n["min"] == 1990).all() and (n["max"] == 2060).all() and (n["count"] == 71).all()
    assert inflows.groupby("product")["unit"].unique().map(list).to_dict() == {
        "ev_traction_motor": ["vehicle/yr"], "smartphone": ["device/yr"], "wind_turbine": ["MW/yr"]}


def test_every_source_key_is_registered_and_every_method_documented(inflows):
    sources = set(pd.read_csv(DATA / "sources.csv")["source"])
    used = {k for s in inflows["source"] for k in s.split(";")}
    assert used <= sources
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    codes = {c for m in inflows["method"] for c in m.split("+")}
    for code in codes:
        assert f"`{code}`" in readme, code


def _iea(path, region, powertrain, year, category="Historical"):
    d = pd.read_csv(RAW / path)
    col = "region_country" if "region_country" in d.columns else "region"
    row = d[(d[col] == region) & (d.category == category) & (d.parameter == "EV sales")
            & (d["mode"] == "Cars") & (d.powertrain == powertrain) & (d.year == year)]
    assert len(row) == 1
    return float(row.value.iloc[0])


def get(inflows, scenario, region, product, segment, year):
    row = inflows[(inflows.demand == scenario) & (inflows.region == region) & (inflows["product"] == product)
                  & (inflows.segment == segment) & (inflows.year == year)]
    assert len(row) == 1
    return float(row.value.iloc[0])


def test_ev_history_equals_iea_and_row_is_world_minus_regions(inflows):
    raw = "iea_ev_data_explorer_2025.csv"
    assert get(inflows, "stated", "CHN", "ev_traction_motor", "bev", 2024) == _iea(raw, "China", "BEV", 2024)
    assert get(inflows, "accelerated", "EU27", "ev_traction_motor", "phev", 2021) == _iea(raw, "EU27", "PHEV", 2021)
    world = _iea(raw, "World", "BEV", 2023)
    parts = sum(_iea(raw, n, "BEV", 2023) for n in ("China", "EU27", "USA", "Japan", "Korea", "India"))
    assert get(inflows, "stated", "ROW", "ev_traction_motor", "bev", 2023) == pytest.approx(world - parts, rel=1e-5)
    # 2030: IEA GEVO 2024 STEPS for China and the USA, copied
    assert get(inflows, "stated", "USA", "ev_traction_motor", "bev", 2030) == _iea(
        "iea_global_ev_data_2024.csv", "USA", "BEV", 2030, "Projection-STEPS")
    assert get(inflows, "accelerated", "CHN", "ev_traction_motor", "bev", 2035) == _iea(
        "iea_global_ev_data_2024.csv", "China", "BEV", 2035, "Projection-APS")
    # the regions add up to IEA's World projection
    tot = inflows[(inflows.demand == "stated") & (inflows["product"] == "ev_traction_motor") & inflows.region.isin(SEVEN)
                  & (inflows.segment == "bev") & (inflows.year == 2030)].value.sum()
    assert tot == pytest.approx(_iea("iea_global_ev_data_2024.csv", "World", "BEV", 2030, "Projection-STEPS"), rel=1e-4)
    # before the IEA series: none; after 2035: the IEA's EV magnet demand (GCMO 2024 data, STEPS:
    # 32.012 kt in 2035, 40.277 kt in 2050), then held
    assert get(inflows, "stated", "EU27", "ev_traction_motor", "bev", 2005) == 0.0
    ind_2035 = get(inflows, "stated", "IND", "ev_traction_motor", "bev", 2035)
    assert get(inflows, "stated", "IND", "ev_traction_motor", "bev", 2050) == pytest.approx(
        ind_2035 * 40.277 / 32.012, rel=1e-5)
    assert get(inflows, "stated", "IND", "ev_traction_motor", "bev", 2060) == get(
        inflows, "stated", "IND", "ev_traction_motor", "bev", 2050)
    # wind after 2030: the IEA's wind magnet demand (APS 21.713 kt in 2030, 18.755 kt in 2040)
    eu_2030 = get(inflows, "accelerated", "EU27", "wind_turbine", "onshore", 2030)
    assert get(inflows, "accelerated", "EU27", "wind_turbine", "onshore", 2040) == pytest.approx(
        eu_2030 * 18.755 / 21.713, rel=1e-4)


def test_smartphones_by_hand(inflows):
    world = inflows[(inflows.demand == "stated") & (inflows["product"] == "smartphone")
                    & inflows.region.isin(SEVEN)].groupby("year").value.sum()
    assert world[2023] == pytest.approx(1170e6, rel=1e-5)  # IDC
    assert world[2015] == pytest.approx((1300e6 + 1470e6) / 2, rel=1e-5)  # interpolated
    assert world[2028] == pytest.approx(1240e6 * 1.026**4, rel=1e-5)  # IDC 2.6 %/yr from 2024
    assert world[2060] == pytest.approx(world[2028], rel=1e-9)
    assert world[2006] == pytest.approx(304.7e6 * 4 / 8, rel=1e-5)  # ramp from 0 in 2002 to 2010
    assert world[2001] == 0.0
    chn = get(inflows, "stated", "CHN", "smartphone", "all", 2023)
    assert chn == pytest.approx(0.247 * 1170e6, rel=1e-5)


def test_wind_segments_add_up_and_match_published_figures(inflows):
    w = inflows[(inflows.demand == "stated") & (inflows["product"] == "wind_turbine") & inflows.region.isin(SEVEN)]
    total = w.groupby(["region", "year"]).value.sum()
    off = w[w.segment == "offshore"].set_index(["region", "year"]).value
    assert off[("EU27", 2023)] / total[("EU27", 2023)] == pytest.approx(2.8 / 16.1, abs=1e-3)
    assert total[("CHN", 2024)] == pytest.approx(79824, rel=1e-5)  # GWEC
    world = w.groupby("year").value.sum()
    assert world[2024] == pytest.approx(117000, rel=1e-5)  # GWEC
    # derived gross installations (stock-driven from IRENA capacity) vs GWEC's 116.6 GW in 2023
    assert world[2023] == pytest.approx(116600, rel=0.15)
    # cumulative gross installations minus retirements reproduce IRENA's end-2023 capacity:
    # gross >= net additions in every year
    cap = pd.read_csv(RAW / "owid_irena2024_wind_capacity_gw.csv")
    wcap = cap[cap.Entity == "World"].set_index("Year").iloc[:, -1] * 1000
    net = wcap.diff().dropna()
    assert (world.loc[2001:2023] >= net.loc[2001:2023] * 0.999 - 1).all()
    # stated 2025-2030 world installations: GWEC's ~1 TW
    assert world.loc[2025:2030].sum() == pytest.approx(1e6, rel=0.1)
    # EU27: WindEurope's 200 GW over 2024-2030
    eu = w[w.region == "EU27"].groupby("year").value.sum()
    assert eu.loc[2024:2030].sum() == pytest.approx(200000, rel=1e-4)


def test_rebuild_reproduces_data_exactly():
    spec = importlib.util.spec_from_file_location("build_data", ROOT / "scripts" / "build_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    files = mod.build()
    for name, text in files.items():
        assert (DATA / name).read_text(encoding="utf-8") == text, name


def test_country_inflows_add_up_to_their_regions(inflows):
    regions = load_regions(DATA)
    keys = load_split_keys(DATA, regions)
    for product, segs in (("ev_traction_motor", ["bev", "phev"]), ("wind_turbine", ["onshore", "offshore"]),
                          ("smartphone", ["all"])):
        arr, years = country_inflows(inflows, keys, regions, "stated", product, segs)
        assert arr.shape == (235, len(segs), 71) and years[0] == 1990 and np.all(arr >= 0)
        for g in ("EU27", "ROW"):
            members = regions.index(regions.members(g))
            for j, seg in enumerate(segs):
                row = inflows[(inflows.demand == "stated") & (inflows.region == g) & (inflows["product"] == product)
                              & (inflows.segment == seg)].set_index("year")["value"].reindex(years).to_numpy()
                # the shipped rows are rounded to 6 significant digits, each on its own
                np.testing.assert_allclose(arr[members, j].sum(axis=0), row, rtol=5e-6, atol=1e-9)
    arr, years = country_inflows(inflows, keys, regions, "stated", "wind_turbine", ["onshore", "offshore"])
    chn = regions.index(["CHN"])[0]
    assert arr[chn, :, years.tolist().index(2024)].sum() == pytest.approx(79824, rel=1e-5)
    # a reported country keeps the IEA's figure: Germany's BEV sales in 2023
    ev, years = country_inflows(inflows, keys, regions, "stated", "ev_traction_motor", ["bev", "phev"])
    deu = regions.index(["DEU"])[0]
    assert ev[deu, 0, years.tolist().index(2023)] == pytest.approx(
        _iea("iea_ev_data_explorer_2025.csv", "Germany", "BEV", 2023), rel=0.05)
    with pytest.raises(InputDataError, match="unknown demand path 'nope'"):
        country_inflows(inflows, keys, regions, "nope", "wind_turbine", ["onshore"])


def test_a_region_total_is_split_by_its_key(tmp_path):
    """A user's product given for EU27 and WORLD only: countries get key shares."""
    import shutil

    shutil.copytree(DATA, tmp_path / "d")
    rows = ["demand,region,product,segment,year,value,unit,method,source,split_key"]
    for y in (2000, 2001):
        rows.append(f"s,EU27,p,all,{y},100,unit/yr,reported,X,population")
        rows.append(f"s,DEU,p,all,{y},30,unit/yr,reported,X,")
        rows.append(f"s,WORLD,p,all,{y},1000,unit/yr,reported,X,gdp_ppp")
    (tmp_path / "d" / "inflows.csv").write_text("\n".join(rows) + "\n")
    regions = load_regions(tmp_path / "d")
    inflows = load_inflows(tmp_path / "d", regions)
    keys = load_split_keys(tmp_path / "d", regions)
    arr, years = country_inflows(inflows, keys, regions, "s", "p", ["all"])
    eu = regions.index(regions.members("EU27"))
    assert arr[eu, 0].sum(axis=0) == pytest.approx([100, 100])
    assert arr[regions.index(["DEU"])[0], 0, 0] == 30
    assert arr[:, 0].sum(axis=0) == pytest.approx([1000, 1000])
    # France and Italy share the EU's remaining 70 in proportion to their population
    fra, ita = regions.index(["FRA", "ITA"])
    pop_years, pop = keys["population"]
    ratio = pop[fra, pop_years == 2000][0] / pop[ita, pop_years == 2000][0]
    assert arr[fra, 0, 0] / arr[ita, 0, 0] == pytest.approx(ratio)
    # members that already exceed their region are an error
    (tmp_path / "d" / "inflows.csv").write_text("\n".join(rows).replace(",DEU,p,all,2000,30", ",DEU,p,all,2000,130") + "\n")
    with pytest.raises(InputDataError, match="members of EU27 already have 130"):
        country_inflows(load_inflows(tmp_path / "d", regions), keys, regions, "s", "p", ["all"])


GOOD = "demand,region,product,segment,year,value,unit,method,source,split_key\n" + "".join(
    f"s,{r},p,all,{y},1.0,unit/yr,reported,X,{'population' if r in ('EU27', 'ROW') else ''}\n"
    for r in SEVEN for y in (2000, 2001, 2002))


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda t: t.replace("s,CHN,p,all,2001", "s,XXX,p,all,2001"), "line 3: region: unknown region 'XXX'"),
        (lambda t: t.replace("s,USA,p,all,2002,1.0", "s,USA,p,all,2002,-4"), "value = -4, expected a value >= 0"),
        (lambda t: t.replace("s,USA,p,all,2002,1.0", "s,USA,p,all,2002,abc"), "value = 'abc', expected a number"),
        (lambda t: t.replace("s,KOR,p,all,2001,1.0", "s,KOR,p,all,2000,1.0"), "duplicate row"),
        (lambda t: t.replace("s,KOR,p,all,2001,1.0,unit/yr,reported,X,\n", ""), "lacks year 2001"),
        (lambda t: t.replace("s,KOR,p,all,2001", "s,KOR,p,all,2001.5"), "year = '2001.5', expected an integer year"),
        (lambda t: t.replace(",unit,", ",units,"), "column 'unit' is missing"),
        (lambda t: t.replace("2000,1.0,unit/yr,reported,X,population", "2000,1.0,unit/yr,reported,X,", 1),
         "split_key = nan for region EU27, expected one of"),
        (lambda t: t.split("\n")[0] + "\n", "no data rows"),
    ],
)
def test_bad_inflow_files(tmp_path, edit, fragment):
    (tmp_path / "inflows.csv").write_text(edit(GOOD))
    with pytest.raises(InputDataError, match=re.escape(fragment)):
        load_inflows(tmp_path, load_regions(DATA))


def test_good_inflow_file_loads(tmp_path):
    (tmp_path / "inflows.csv").write_text(GOOD)
    assert len(load_inflows(tmp_path, load_regions(DATA))) == 21


def test_regions_and_scenarios_commands():
    r = CliRunner()
    res = r.invoke(main, ["regions"])
    assert res.exit_code == 0
    assert [line.split()[0] for line in res.stdout.splitlines()][:2] == ["EU27", "ROW"]
    assert res.stdout.splitlines()[-1].split()[0] == WORLD
    res = r.invoke(main, ["scenarios"])
    assert res.exit_code == 0
    assert [line.split()[0] for line in res.stdout.splitlines()] == [
        "announced-policies", "current-practice", "technical-potential"]
    res = r.invoke(main, ["regions", "--data", "/nonexistent"])
    assert res.exit_code == 1 and "data directory not found" in res.output


def test_us_wind_mix_is_the_register_derivation():
    """The profile's US onshore anchors for 2008 and 2014 are the 2006-2010 and 2011-2016 shares
    of data/wind_drivetrains_usa.csv (EIA-860 models mapped to drivetrains), to 3 decimals."""
    import tomllib

    table = pd.read_csv(ROOT / "data" / "wind_drivetrains_usa.csv").set_index(["period", "drivetrain"])["share"]
    prof = tomllib.loads((ROOT / "product_profiles" / "wind_turbine.toml").read_text())
    usa = prof["segments"]["onshore"]["shares"]["by_region"]["USA"]
    col = {y: i for i, y in enumerate(usa["year"])}
    for year, period in ((2008, "2006-2010"), (2014, "2011-2016")):
        for tech, drive in (("dd_pmsg", "DD-PMSG"), ("ms_pmsg", "MS-PMSG"), ("hs_pmsg", "HS-PMSG")):
            assert usa["central"][tech][col[year]] == pytest.approx(table[(period, drive)], abs=1e-3)
    # 1990-2005: no PM generators in the register
    pm = sum(table[("1990-2005", d)] for d in ("DD-PMSG", "MS-PMSG", "HS-PMSG"))
    assert pm < 1e-4 and usa["central"]["no_pm"][col[2005]] == 1.0


def test_methodology_appendix_is_current():
    """docs/methodology.md is generated from the shipped defaults: a rebuild must give the same
    text (run python scripts/make_methodology.py after changing profiles, data or scenarios)."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_methodology.py"), "--check"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
