"""urbanmine estimate: a tiny system by hand, invariants of the default run, the CLI."""

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import GIZMO_HEAD, chain_scenario

from urbanmine.cli import main
from urbanmine.errors import InputDataError
from urbanmine.estimate import STAGES, estimate, load_inputs

ROOT = Path(__file__).parents[1]

TINY_PROFILE = GIZMO_HEAD + '''[segments.all]
[segments.all.shares]
year = [2000]
central = { magnet = [1.0] }
assumption = "test"
[segments.all.technologies.magnet]
composition = "grade"
magnet_kg_per_unit = { central = 1.0, low = 0.5, high = 1.5, assumption = "test" }
[compositions.grade]
Nd = { central = 0.5, assumption = "test" }
Pr = { central = 0.1, assumption = "test" }
Dy = { central = 0.0, assumption = "test" }
Tb = { central = 0.0, assumption = "test" }
[end_of_life]
route = "test"
'''

TINY_SCENARIO = chain_scenario("0.6", "0.5", "0.8")


@pytest.fixture
def tiny(tmp_path, gizmo_system):
    values = {(r, y): ({"CHN": 10.0, "EU27": 4.0}.get(r, 0.0) if y == 2000 else (2.0 if (r == "EU27" and y == 2001) else 0.0))
              for r in ("CHN", "EU27", "USA") for y in range(2000, 2006)}
    prof, data = gizmo_system(TINY_PROFILE, values)
    (tmp_path / "tiny.toml").write_text(TINY_SCENARIO)
    return prof, data


def _get(df, region, element, stage, year, col="value", scenario=None, product=None):
    row = df[(df.region == region) & (df.element == element) & (df.stage == stage) & (df.year == year)]
    if scenario is not None:
        row = row[row.scenario == scenario]
    if product is not None:
        row = row[row["product"] == product]
    assert len(row) == 1
    return float(row[col].iloc[0])


def test_tiny_system_by_hand(tiny):
    prof, data = tiny
    df = estimate(scenario=str(prof.parent / "tiny.toml"), profiles=prof, data=data)
    df = df[(df["product"] == "gizmo") & (df.element != "REE")]
    # CHN: 10 devices x 1 kg magnet x 50 % Nd = 5 kg = 0.005 t in 2000; fixed 2-yr life: out in 2002
    assert _get(df, "CHN", "Nd", "sales", 2000) == pytest.approx(0.005)
    assert [_get(df, "CHN", "Nd", "in_use_stock", y) for y in range(2000, 2004)] == pytest.approx([0.005, 0.005, 0, 0])
    assert _get(df, "CHN", "Nd", "end_of_life", 2002) == pytest.approx(0.005)
    assert _get(df, "CHN", "Nd", "end_of_life", 2001) == 0
    assert _get(df, "CHN", "Nd", "collected", 2002) == pytest.approx(0.005 * 0.6)
    assert _get(df, "CHN", "Nd", "liberated", 2002) == pytest.approx(0.005 * 0.6 * 0.5)
    assert _get(df, "CHN", "Nd", "recovered", 2002) == pytest.approx(0.005 * 0.6 * 0.5 * 0.8)
    assert _get(df, "CHN", "Pr", "recovered", 2002) == pytest.approx(0.001 * 0.24)
    assert _get(df, "CHN", "Dy", "sales", 2000) == 0
    # WORLD: CHN + EU27; the secondary share in 2003 = recovered / sales = EU27's 2001 cohort / 0
    assert _get(df, "WORLD", "Nd", "end_of_life", 2002) == pytest.approx(0.005 + 0.002)
    assert _get(df, "WORLD", "Nd", "recovered", 2003) == pytest.approx(0.001 * 0.24)
    assert np.isnan(_get(df, "WORLD", "Nd", "secondary_share", 2003))
    assert _get(df, "EU27", "Nd", "secondary_share", 2001) == 0.0
    units = df.groupby("stage")["unit"].unique().map(list).to_dict()
    assert units["in_use_stock"] == ["t"] and units["recovered"] == ["t/yr"] and units["secondary_share"] == ["1"]


def test_tiny_monte_carlo_magnet_range(tiny):
    prof, data = tiny
    df = estimate(scenario=str(prof.parent / "tiny.toml"), samples=2000, seed=3, profiles=prof, data=data)
    # magnet mass triangular(0.5, 1.0, 1.5): mean 1.0, 5th percentile 0.5 + sqrt(0.05 * 0.5) = 0.658
    assert _get(df, "CHN", "Nd", "sales", 2000, "mean") == pytest.approx(0.005, rel=0.02)
    assert _get(df, "CHN", "Nd", "sales", 2000, "p05") == pytest.approx(0.01 * 0.5 * (0.5 + np.sqrt(0.05 * 0.5)), rel=0.02)


@pytest.fixture(scope="module")
def default_run():
    return estimate(samples=200, seed=7)


def test_default_run_invariants(default_run):
    df = default_run
    piv = df.pivot_table(index=["region", "product", "element", "year"], columns="stage", values="value")
    tol = 1e-9 * (1 + piv["end_of_life"].abs())
    assert (piv["recovered"] <= piv["liberated"] + tol).all()
    assert (piv["liberated"] <= piv["collected"] + tol).all()
    assert (piv["collected"] <= piv["end_of_life"] + tol).all()
    # every flow is >= 0 except net exports (imports of used products make them negative)
    assert (piv.drop(columns=["secondary_share", "net_export"]) >= -1e-9).all().all()
    # stock change = sales - end of life - net exports, every region, product, element
    stock = piv["in_use_stock"].unstack("year")
    d = stock.diff(axis=1).iloc[:, 1:]
    flow = (piv["sales"] - piv["end_of_life"] - piv["net_export"]).unstack("year").iloc[:, 1:]
    np.testing.assert_allclose(d.to_numpy(), flow.to_numpy(), atol=1e-6, rtol=1e-6)
    # used exports leave Japan and arrive elsewhere: nothing is lost in the world
    world_net = piv.xs("WORLD", level="region")["net_export"]
    np.testing.assert_allclose(world_net.to_numpy(), 0.0, atol=1e-6)
    jpn = piv.xs(("JPN", "ev_traction_motor", "Nd", 2030), level=("region", "product", "element", "year"))
    assert float(jpn["net_export"].iloc[0]) > 0
    # WORLD is the sum of the regions
    flows = df[df.stage != "secondary_share"]
    world = flows[flows.region == "WORLD"].set_index(["product", "element", "stage", "year"])["value"]
    parts = flows[flows.region != "WORLD"].groupby(["product", "element", "stage", "year"])["value"].sum()
    np.testing.assert_allclose(world.sort_index().to_numpy(), parts.sort_index().to_numpy(), rtol=1e-9, atol=1e-9)
    # percentiles ordered
    ok = df.dropna(subset=["p05"])
    assert (ok.p05 <= ok.p50 + 1e-12).all() and (ok.p50 <= ok.p95 + 1e-12).all()
    assert set(df.stage) == set(STAGES)
    assert (df[df.stage == "secondary_share"].value.dropna() <= 1).all()


def test_bad_arguments():
    inputs = load_inputs()
    with pytest.raises(InputDataError, match="unknown region 'XXX'"):
        estimate(["XXX"], inputs=inputs)
    with pytest.raises(InputDataError, match="unknown element 'La'"):
        estimate(elements=["La"], inputs=inputs)
    with pytest.raises(InputDataError, match="reversed range"):
        estimate(years=(2050, 2025), inputs=inputs)
    with pytest.raises(InputDataError, match="years 2025-2070 reach outside the data.s 1990-2060"):
        estimate(years=(2025, 2070), inputs=inputs)
    with pytest.raises(InputDataError, match="unknown scenario 'nope'"):
        estimate(scenario="nope", inputs=inputs)
    with pytest.raises(InputDataError, match="did you mean 'current-practice'"):
        estimate(scenario="current-practise", inputs=inputs)
    with pytest.raises(InputDataError, match="unknown demand path"):
        estimate(demand="fast", inputs=inputs)
    with pytest.raises(InputDataError, match="unknown product"):
        estimate(products=["tv"], inputs=inputs)


def test_cli_same_seed_same_bytes_whatever_the_chunk_size(tmp_path):
    r = CliRunner()
    outs = []
    for chunk in (64, 1000):
        out = tmp_path / f"mc{chunk}.csv"
        res = r.invoke(main, ["estimate", "--region", "EU27", "--from", "2025", "--to", "2035", "--samples", "150",
                              "--seed", "5", "--chunk-size", str(chunk), "--out", str(out), "-q"])
        assert res.exit_code == 0, res.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    df = pd.read_csv(io.BytesIO(outs[0]))
    assert list(df.columns) == ["scenario", "region", "product", "element", "stage", "unit", "year", "value",
                                "mean", "p05", "p50", "p95"]
    meta = json.loads((tmp_path / "mc64.csv.meta.json").read_text())
    assert meta["seed"] == 5 and meta["samples"] == 150 and meta["inflow_at"] == "middle"
    assert all(len(v) == 64 for v in meta["inputs_sha256"].values())


def test_cli_stream_summary_and_errors(tmp_path):
    r = CliRunner()
    res = r.invoke(main, ["estimate", "--region", "USA", "--product", "wind_turbine", "--element", "Dy",
                          "--from", "2030", "--to", "2030", "--out", "-"])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(io.StringIO(res.stdout))
    assert len(df) == len(STAGES) and set(df.region) == {"USA"}
    assert "Recovered rare earths [t/yr]" in res.stderr
    out = tmp_path / "x.csv"
    out.write_text("keep me")
    for args, msg in [
        (["--region", "MARS"], "unknown region 'MARS'"),
        (["--from", "2050", "--to", "2030"], "reversed range"),
        (["--element", "Xx"], "unknown element 'Xx'"),
        (["--model", str(tmp_path / "none.json")], "model file not found"),
    ]:
        res = r.invoke(main, ["estimate", *args, "--out", str(tmp_path / "new.csv")])
        assert res.exit_code == 1 and msg in res.output and "Traceback" not in res.output
        assert not (tmp_path / "new.csv").exists()
    res = r.invoke(main, ["estimate", "--out", str(out)])
    assert res.exit_code == 1 and "--overwrite" in res.output and out.read_text() == "keep me"


def test_installed_command_subprocess(tmp_path):
    exe = shutil.which("urbanmine") or str(Path(sys.executable).with_name("urbanmine"))
    if not Path(exe).exists():
        pytest.skip("urbanmine console script not installed")
    out = tmp_path / "eu.csv"
    proc = subprocess.run([exe, "estimate", "--region", "EU27", "--from", "2025", "--to", "2050", "--out", str(out)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    df = pd.read_csv(out)
    assert df.year.min() == 2025 and df.year.max() == 2050
    assert "EU27" in proc.stderr and (out.parent / "eu.csv.meta.json").exists()


def test_parquet_output(tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "e.parquet"
    res = CliRunner().invoke(main, ["estimate", "--region", "JPN", "--from", "2030", "--to", "2031",
                                    "--format", "parquet", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out)
    assert set(df.region) == {"JPN"} and set(df.year) == {2030, 2031}
    assert (tmp_path / "e.parquet.meta.json").exists()
