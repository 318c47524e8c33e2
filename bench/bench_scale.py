"""Benchmark: large Monte Carlo runs on one process and on a Dask LocalCluster (2 workers).

    python bench/bench_scale.py [--samples 10000] [--case countries|seven] [--workers 2]

Runs the installed command twice (single process, then --scheduler local:N) on 2020-2060 with
every product and element, and prints JSON: wall seconds, peak RSS of the main process [MB],
the parallel efficiency (single / (N x parallel)) and whether the two outputs are byte-identical.
Cases: ``countries`` (every country as its own region) and ``seven`` (the seven regions and WORLD).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_estimate import run  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--case", choices=["countries", "seven"], default="countries")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    exe = shutil.which("urbanmine") or str(Path(sys.executable).parent / "urbanmine")
    region = "countries" if a.case == "countries" else "all"
    with tempfile.TemporaryDirectory() as d:
        base = [exe, "estimate", "--region", region, "--from", "2020", "--to", "2060", "--samples", str(a.samples),
                "--seed", "1", "-q", "--overwrite"]
        t1, m1 = run(base + ["--out", f"{d}/one.csv"])
        t2, m2 = run(base + ["--scheduler", f"local:{a.workers}", "--out", f"{d}/dask.csv"])
        same = filecmp.cmp(f"{d}/one.csv", f"{d}/dask.csv", shallow=False)
    print(json.dumps({"case": a.case, "samples": a.samples, "single_s": round(t1, 1), "single_rss_mb": m1,
                      "dask_workers": a.workers, "dask_s": round(t2, 1), "dask_main_rss_mb": m2,
                      "parallel_efficiency": round(t1 / (a.workers * t2), 2), "identical_bytes": same}, indent=2))


if __name__ == "__main__":
    main()
