"""Benchmark: urbanmine estimate from the command line, every region, product and element,
1990-2060 (the installed console script, as a user runs it).

    python bench/bench_estimate.py [--samples 10000] [--repeat 3]

Prints JSON: wall seconds of the deterministic run (best of --repeat) and of the Monte Carlo
run, and the peak resident memory of each child process. Targets (issue #5): deterministic
under 2 s (goal 1 s), 10,000 samples under 30 s and 2 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(cmd):
    """Wall time [s] and peak RSS [MB] of one child process (GNU time when available)."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as tf:
        full = ([gnu_time, "-f", "%M", "-o", tf.name] if gnu_time else []) + cmd
        t0 = time.perf_counter()
        subprocess.run(full, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        rss = float(Path(tf.name).read_text().strip().splitlines()[-1]) / 1024 if gnu_time else None
    return wall, rss


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    exe = shutil.which("urbanmine") or str(Path(sys.executable).with_name("urbanmine"))
    with tempfile.TemporaryDirectory() as d:
        base = [exe, "estimate", "--region", "all", "--overwrite", "-q"]
        det = [run(base + ["--out", f"{d}/det.csv"]) for _ in range(a.repeat)]
        mc = run(base + ["--samples", str(a.samples), "--seed", "1", "--out", f"{d}/mc.csv"])
        mc1000 = run(base + ["--samples", "1000", "--seed", "1", "--out", f"{d}/mc1000.csv"])
        help_wall = min(run([exe, "--help"])[0] for _ in range(a.repeat))
        countries = [exe, "estimate", "--region", "countries", "--overwrite", "-q"]
        c_csv = run(countries + ["--out", f"{d}/countries.csv"])
        c_parquet = run(countries + ["--out", f"{d}/countries.parquet", "--format", "parquet"]) \
            if _has_pyarrow() else (None, None)
    report = {
        "benchmark": "urbanmine estimate --region all (seven regions and WORLD, computed from 235 countries) and --region countries, all products and elements, 1990-2060",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "startup_help_seconds_best": round(help_wall, 3),
        "deterministic_seconds_best": round(min(w for w, _ in det), 3),
        "deterministic_peak_rss_mb": det[0][1] and round(det[0][1], 1),
        "monte_carlo_samples": a.samples,
        "monte_carlo_seconds": round(mc[0], 2),
        "monte_carlo_peak_rss_mb": mc[1] and round(mc[1], 1),
        "monte_carlo_1000_seconds": round(mc1000[0], 2),
        "monte_carlo_1000_peak_rss_mb": mc1000[1] and round(mc1000[1], 1),
        "every_country_deterministic_csv_seconds": round(c_csv[0], 2),
        "every_country_deterministic_csv_peak_rss_mb": c_csv[1] and round(c_csv[1], 1),
        "every_country_deterministic_parquet_seconds": c_parquet[0] and round(c_parquet[0], 2),
        "targets": {"deterministic_seconds": 2.0, "monte_carlo_seconds": 30.0, "monte_carlo_peak_mb": 2048,
                    "monte_carlo_1000_seconds": 60.0, "monte_carlo_1000_peak_mb": 4096,
                    "every_country_deterministic_seconds": 5.0},
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
