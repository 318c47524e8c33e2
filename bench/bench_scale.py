"""Benchmark: large Monte Carlo runs on one process and on a Dask LocalCluster.

    python bench/bench_scale.py [--samples 10000] [--case countries|seven] [--workers 2]
                                [--max-memory GIB] [--skip-single]

Runs the installed command on 2020-2060 with every product and element: once on one process,
once with ``--scheduler`` pointing at a LocalCluster this script starts (``--workers`` single-
threaded worker processes, started before the clock runs). Prints JSON: wall seconds, peak RSS
of the calling process [MB] (GNU time), peak RSS of each Dask worker [MB] (asked from the
workers after the run), the parallel efficiency single / (workers x Dask) and whether the two
outputs are byte-identical. Cases: ``seven`` (the seven regions and WORLD) and ``countries``
(every country as its own region).
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


def _peak_rss_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--case", choices=["countries", "seven"], default="seven")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-memory", type=float, default=None)
    ap.add_argument("--skip-single", action="store_true")
    a = ap.parse_args(argv)
    exe = shutil.which("urbanmine") or str(Path(sys.executable).parent / "urbanmine")
    region = "countries" if a.case == "countries" else "all"
    out = {"case": a.case, "samples": a.samples, "max_memory_gib": a.max_memory}
    with tempfile.TemporaryDirectory() as d:
        base = [exe, "estimate", "--region", region, "--from", "2020", "--to", "2060", "--samples", str(a.samples),
                "--seed", "1", "-q", "--overwrite"]
        if a.max_memory is not None:
            base += ["--max-memory", str(a.max_memory)]
        if not a.skip_single:
            t1, m1 = run(base + ["--out", f"{d}/one.csv"])
            out.update(single_s=round(t1, 1), single_rss_mb=round(m1))
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            t2, m2 = run(base + ["--scheduler", cluster.scheduler_address, "--out", f"{d}/dask.csv"])
            workers = client.run(_peak_rss_mb)
        out.update(dask_workers=a.workers, dask_s=round(t2, 1), dask_main_rss_mb=round(m2),
                   dask_worker_peak_rss_mb=sorted(round(v) for v in workers.values()))
        if not a.skip_single:
            out.update(parallel_efficiency=round(t1 / (a.workers * t2), 2),
                       identical_bytes=filecmp.cmp(f"{d}/one.csv", f"{d}/dask.csv", shallow=False))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
