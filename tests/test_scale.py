"""Large runs: blocks of regions within a memory budget, and the same blocks on Dask."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from urbanmine.errors import InputDataError
from urbanmine.estimate import STAT_COLUMNS, estimate, load_inputs
from urbanmine.scale import block_bytes, parse_scheduler, region_blocks


def test_blocks_fit_the_budget():
    per_region = block_bytes(1, 1000, 5, 41, 2, 3)
    # 2 scenarios -> 3 labels; cells per region 5 elements x 8 stages x 41 years, float32: the
    # store of one product's labels, the totals of the 2 scenarios (7 flow stages + the share)
    # and one difference of the totals
    cells = 5 * 8 * 41
    assert per_region == 3 * cells * 1000 * 4 + 2 * cells * 1000 * 4 + cells * 1000 * 4
    blocks = region_blocks(list("ABCDEFG"), 1000, 5, 41, 2, 3, max_memory=3 * per_region + 1)
    assert blocks == [["A", "B", "C"], ["D", "E", "F"], ["G"]]
    assert region_blocks(list("AB"), 1000, 5, 41, 2, 3, max_memory=1) == [["A"], ["B"]]
    assert region_blocks(list("AB"), 0, 5, 41, 2, 3, max_memory=1) == [["A", "B"]]  # no samples: one block


def test_blocked_statistics_equal_the_one_block_run():
    """Each block holds every sample of its cells, so the statistics are exact: blocks of one
    region agree with the one-block run to rounding (they model fewer countries at once)."""
    inputs = load_inputs()
    kw = dict(years=(2030, 2040), samples=40, seed=5, inputs=inputs, products=["ev_traction_motor"],
              scenario=["current-practice", "technical-potential"])
    one = estimate(["EU27", "JPN", "WORLD"], **kw)
    blocked = estimate(["EU27", "JPN", "WORLD"], max_memory=1, **kw)
    for col in ("value", *STAT_COLUMNS):
        np.testing.assert_allclose(blocked[col], one[col], rtol=1e-9, atol=1e-9)
    # and the percentiles of a cell are numpy's exact percentiles of its samples
    from urbanmine.estimate import run

    scen = [inputs.scenario("current-practice")]
    res = run(inputs, scen, ["ev_traction_motor"], ["EU27"], ["REE"], [2040], samples=40, seed=5, keep_samples=True)
    s = res["samples"][0, 0, 0, 0, 6, 0].astype(np.float64)
    assert res["p50"][0, 0, 0, 0, 6, 0] == pytest.approx(np.percentile(s, 50), rel=1e-6)
    assert res["p05"][0, 0, 0, 0, 6, 0] == pytest.approx(np.percentile(s, 5), rel=1e-6)
    assert res["mean"][0, 0, 0, 0, 6, 0] == pytest.approx(s.mean(), rel=1e-6)


def test_bad_scheduler_is_a_one_line_error():
    with pytest.raises(InputDataError, match="--scheduler 'local:0': expected local, local:N"):
        parse_scheduler("local:0")
    with pytest.raises(InputDataError, match="expected local, local:N"):
        parse_scheduler("http://host:1")
    assert parse_scheduler("local:2") == ("local", 2)
    assert parse_scheduler("tcp://10.0.0.1:8786") == ("address", "tcp://10.0.0.1:8786")


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-c", "from urbanmine.cli import main; main()", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


def test_dask_gives_the_same_bytes(tmp_path):
    pytest.importorskip("distributed")
    args = ["estimate", "--region", "EU27", "--region", "JPN", "--region", "USA", "--from", "2030", "--to", "2035",
            "--samples", "30", "--seed", "3", "--max-memory", "0.01", "-q"]
    one = _cli(*args, "--out", str(tmp_path / "one.csv"), cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    dask = _cli(*args, "--scheduler", "local:2", "--out", str(tmp_path / "dask.csv"), cwd=tmp_path)
    assert dask.returncode == 0, dask.stderr
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "dask.csv").read_bytes()
    df = pd.read_csv(tmp_path / "dask.csv")
    assert set(df.region) == {"EU27", "JPN", "USA"}


def test_scheduler_without_dask_says_how_to_install(monkeypatch):
    """With dask.distributed not importable, --scheduler stops with the install command."""
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails as if not installed
    with pytest.raises(InputDataError, match=r"--scheduler needs Dask: pip install 'urbanmine\[dask\]'"):
        estimate(["EU27"], years=[2030], samples=4, seed=1, scheduler="local:1")


@pytest.mark.parametrize("n", [1, 2, 21, 1001, 4000])
def test_in_place_percentiles_are_numpys_bit_for_bit(n):
    """The in-place selection used for stores that are not needed again gives np.percentile's
    numbers exactly, including rows with ties, a NaN (NaN out) and one value repeated."""
    from urbanmine.estimate import PERCENTILES, _percentiles_inplace

    rng = np.random.default_rng(n)
    x = np.exp(2 * rng.normal(size=(60, n))).astype(np.float32)
    x[10:20] = np.round(x[10:20])
    x[20:25] = 3.25
    x[25, n // 2] = np.nan
    expected = np.percentile(x, PERCENTILES, axis=1)
    got = _percentiles_inplace(x.copy())
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(got[:, 25]).all()
