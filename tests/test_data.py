"""Regional data: coverage, agreement with the raw sources, the rebuild, and bad input."""

import importlib.util
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from urbanmine.cli import main
from urbanmine.errors import InputDataError
from urbanmine.inflows import REGIONS, inflow_array, load_inflows

ROOT = Path(__file__).parents[1]
DATA = ROOT / "data"
RAW = ROOT / "data-raw"


@pytest.fixture(scope="module")
def inflows():
    return load_inflows(DATA)


def test_coverage_is_complete(inflows):
    assert set(inflows["demand"]) == {"stated", "accelerated"}
    assert set(inflows["region"]) == set(REGIONS)
    segs = inflows.groupby("product")["segment"].unique().map(sorted).to_dict()
    assert segs == {"ev_traction_motor": ["bev", "phev"], "smartphone": ["all"],
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
    tot = inflows[(inflows.demand == "stated") & (inflows["product"] == "ev_traction_motor")
                  & (inflows.segment == "bev") & (inflows.year == 2030)].value.sum()
    assert tot == pytest.approx(_iea("iea_global_ev_data_2024.csv", "World", "BEV", 2030, "Projection-STEPS"), rel=1e-4)
    # before the IEA series: none; after 2035: held
    assert get(inflows, "stated", "EU27", "ev_traction_motor", "bev", 2005) == 0.0
    assert get(inflows, "stated", "IND", "ev_traction_motor", "bev", 2050) == get(
        inflows, "stated", "IND", "ev_traction_motor", "bev", 2035)


def test_smartphones_by_hand(inflows):
    world = inflows[(inflows.demand == "stated") & (inflows["product"] == "smartphone")].groupby("year").value.sum()
    assert world[2023] == pytest.approx(1170e6, rel=1e-5)  # IDC
    assert world[2015] == pytest.approx((1300e6 + 1470e6) / 2, rel=1e-5)  # interpolated
    assert world[2028] == pytest.approx(1240e6 * 1.026**4, rel=1e-5)  # IDC 2.6 %/yr from 2024
    assert world[2060] == pytest.approx(world[2028], rel=1e-9)
    assert world[2006] == pytest.approx(304.7e6 * 4 / 8, rel=1e-5)  # ramp from 0 in 2002 to 2010
    assert world[2001] == 0.0
    chn = get(inflows, "stated", "CHN", "smartphone", "all", 2023)
    assert chn == pytest.approx(0.247 * 1170e6, rel=1e-5)


def test_wind_segments_add_up_and_match_published_figures(inflows):
    w = inflows[(inflows.demand == "stated") & (inflows["product"] == "wind_turbine")]
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


def test_inflow_array(inflows):
    arr, years = inflow_array(inflows, "stated", "wind_turbine", ["onshore", "offshore"])
    assert arr.shape == (7, 2, 71) and years[0] == 1990
    assert arr[REGIONS.index("CHN"), :, years.tolist().index(2024)].sum() == pytest.approx(79824, rel=1e-5)
    with pytest.raises(InputDataError, match="unknown demand path 'nope'"):
        inflow_array(inflows, "nope", "wind_turbine", ["onshore"])


GOOD = "demand,region,product,segment,year,value,unit,method,source\n" + "".join(
    f"s,{r},p,all,{y},1.0,unit/yr,reported,X\n" for r in REGIONS for y in (2000, 2001, 2002))


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda t: t.replace("s,CHN,p,all,2001", "s,XXX,p,all,2001"), "line 3: region = 'XXX', expected one of"),
        (lambda t: t.replace("s,USA,p,all,2002,1.0", "s,USA,p,all,2002,-4"), "value = -4, expected a value >= 0"),
        (lambda t: t.replace("s,USA,p,all,2002,1.0", "s,USA,p,all,2002,abc"), "value = 'abc', expected a number"),
        (lambda t: t.replace("s,KOR,p,all,2001,1.0", "s,KOR,p,all,2000,1.0"), "duplicate row"),
        (lambda t: t.replace("s,KOR,p,all,2001,1.0,unit/yr,reported,X\n", ""), "lacks year 2001"),
        (lambda t: t.replace("s,KOR,p,all,2001", "s,KOR,p,all,2001.5"), "year = '2001.5', expected an integer year"),
        (lambda t: t.replace(",unit,", ",units,"), "column 'unit' is missing"),
        (lambda t: "".join(line + "\n" for line in t.splitlines() if not line.startswith("s,IND")), "lacks region IND"),
        (lambda t: t.split("\n")[0] + "\n", "no data rows"),
    ],
)
def test_bad_inflow_files(tmp_path, edit, fragment):
    (tmp_path / "inflows.csv").write_text(edit(GOOD))
    with pytest.raises(InputDataError, match=re.escape(fragment)):
        load_inflows(tmp_path)


def test_good_inflow_file_loads(tmp_path):
    (tmp_path / "inflows.csv").write_text(GOOD)
    assert len(load_inflows(tmp_path)) == 21


def test_regions_and_scenarios_commands():
    r = CliRunner()
    res = r.invoke(main, ["regions"])
    assert res.exit_code == 0
    assert [line.split()[0] for line in res.output.splitlines()] == [*REGIONS, "WORLD"]
    res = r.invoke(main, ["scenarios"])
    assert res.exit_code == 0
    assert [line.split()[0] for line in res.stdout.splitlines()] == [
        "announced-policies", "current-practice", "technical-potential"]
    res = r.invoke(main, ["regions", "--data", "/nonexistent"])
    assert res.exit_code == 1 and "data directory not found" in res.output
