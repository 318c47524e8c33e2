"""``urbanmine stock``: CliRunner tests and one run of the installed command."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from urbanmine.cli import main

EXAMPLE = Path(__file__).parents[1] / "examples" / "ev_bev_sales_eu27.csv"


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def pulse(tmp_path):
    p = tmp_path / "inflow.csv"
    p.write_text("year,value\n2020,10\n2021,0\n2022,0\n2023,0\n2024,0\n")
    return p


def test_fixed_pulse_to_stdout(runner, pulse):
    res = runner.invoke(main, ["stock", "--inflow", str(pulse), "--lifetime", "fixed:lifetime=3", "--out", "-"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert lines[0] == "year,inflow,stock,outflow"
    assert lines[1:] == ["2020,10.0,10.0,0", "2021,0,10.0,0", "2022,0,10.0,0", "2023,0,0,10.0", "2024,0,0,0"]


def test_writes_file_and_cohort_table(runner, pulse, tmp_path):
    out, coh = tmp_path / "s.csv", tmp_path / "c.csv"
    res = runner.invoke(main, ["stock", "--inflow", str(pulse), "--lifetime", "weibull:shape=2,scale=4",
                               "--out", str(out), "--by-cohort", str(coh)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    s = lambda a: np.exp(-((a / 4.0) ** 2))  # noqa: E731
    np.testing.assert_allclose(df["stock"], 10 * s(np.arange(5) + 0.5), rtol=1e-14)
    cohorts = pd.read_csv(coh)
    assert list(cohorts.columns) == ["cohort", "year", "stock", "outflow"]
    assert len(cohorts) == 15  # 5 + 4 + 3 + 2 + 1 cohort-years with t >= c
    totals = cohorts.groupby("year")[["stock", "outflow"]].sum()
    np.testing.assert_allclose(totals["stock"], df["stock"], rtol=1e-12)
    np.testing.assert_allclose(totals["outflow"], df["outflow"], rtol=1e-12)


def test_storage_and_initial_stock_options(runner, pulse, tmp_path):
    init = tmp_path / "init.csv"
    init.write_text("age,value\n0,5\n1,7\n")
    res = runner.invoke(main, ["stock", "--inflow", str(pulse), "--lifetime", "fixed:lifetime=3",
                               "--initial-stock", str(init), "--out", "-"])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(__import__("io").StringIO(res.stdout))
    # historic: 7 (age 1) leaves in 2021, 5 (age 0) in 2022; the pulse leaves in 2023
    assert df["outflow"].tolist() == [0, 7, 5, 10, 0]
    res = runner.invoke(main, ["stock", "--inflow", str(pulse), "--lifetime", "fixed:lifetime=1",
                               "--storage", "fixed:lifetime=2", "--out", "-"])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(__import__("io").StringIO(res.stdout))
    assert df["outflow"].tolist() == [0, 0, 0, 10, 0]  # 1 yr of use + 2 yr of storage


def test_refuses_to_overwrite(runner, pulse, tmp_path):
    out = tmp_path / "s.csv"
    out.write_text("precious")
    args = ["stock", "--inflow", str(pulse), "--lifetime", "fixed:lifetime=3", "--out", str(out)]
    res = runner.invoke(main, args)
    assert res.exit_code == 1
    assert "won't be overwritten without --overwrite" in res.output
    assert out.read_text() == "precious"
    res = runner.invoke(main, [*args, "--overwrite"])
    assert res.exit_code == 0
    assert out.read_text().startswith("year,inflow,stock,outflow")


@pytest.mark.parametrize(
    ("content", "lifetime", "message"),
    [
        ("year,value\n2020,1\n2021,-3\n", "fixed:lifetime=3", "line 3: value = -3, expected a value >= 0"),
        ("year,value\n2020,1\n2021,abc\n", "fixed:lifetime=3", "value = 'abc' is not a number"),
        ("year,value\n2020,1\n2023,2\n", "fixed:lifetime=3", "years jump from 2020 to 2023"),
        ("year,value\n2020,1\n2020,2\n", "fixed:lifetime=3", "year 2020 appears more than once"),
        ("year,amount\n2020,1\n", "fixed:lifetime=3", "column 'value' is missing"),
        ("", "fixed:lifetime=3", "file is empty"),
        ("year,value\n2020,1\n", "gamma:k=2", "unknown lifetime family 'gamma'"),
        ("year,value\n2020,1\n", "weibull:shape=2,scale=0", "'scale' must be > 0, got 0"),
        ("year,value\n2020,1\n", "weibull:shape=2,scale=3,loc=1", "unknown parameter 'loc'"),
        ("year,value\n2020,1\n", "lognormal:mean=10,std=-3", "'std' must be > 0"),
    ],
)
def test_bad_input_one_line_exit_1_no_output(runner, tmp_path, content, lifetime, message):
    src = tmp_path / "in.csv"
    src.write_text(content)
    out = tmp_path / "out.csv"
    res = runner.invoke(main, ["stock", "--inflow", str(src), "--lifetime", lifetime, "--out", str(out)])
    assert res.exit_code == 1
    assert message in res.output
    assert res.output.count("\n") == 1 and res.output.startswith("Error: ")
    assert "Traceback" not in res.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src]  # no temporary files left behind


def test_missing_input_file(runner, tmp_path):
    res = runner.invoke(main, ["stock", "--inflow", str(tmp_path / "nope.csv"),
                               "--lifetime", "fixed:lifetime=3", "--out", "-"])
    assert res.exit_code == 1
    assert "nope.csv: file not found" in res.output


def test_installed_command_runs_on_the_example(tmp_path):
    exe = shutil.which("urbanmine") or str(Path(sys.executable).with_name("urbanmine"))
    if not Path(exe).exists():
        pytest.skip("urbanmine console script not installed")
    out = tmp_path / "ev.csv"
    proc = subprocess.run(
        [exe, "stock", "--inflow", str(EXAMPLE), "--lifetime", "weibull:shape=2.01,scale=16.07",
         "--out", str(out)], capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    df = pd.read_csv(out)
    sales = pd.read_csv(EXAMPLE)
    assert df["year"].tolist() == sales["year"].tolist()
    # mass balance across the file: cumulative inflow - cumulative outflow = final stock
    assert df["inflow"].sum() - df["outflow"].sum() == pytest.approx(df["stock"].iloc[-1], rel=1e-12)
