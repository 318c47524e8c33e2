"""Benchmark: inflow-driven stock model, 10,000 series x 71 years (1990-2060).

Every series has its own Weibull lifetime (shape 1.5-4, scale 5-25 yr). Prints one JSON object:
wall seconds (best of ``--repeat``), peak memory allocated during the computation (tracemalloc,
which sees numpy's buffers) and the process's peak resident set size.

    python bench/bench_stocks.py [--series 10000] [--repeat 5] [--flodym]

``--flodym`` also times flodym's InflowDrivenDSM on the same inputs (needs flodym installed).
Target (issue #2): under 0.1 s and under 200 MB for the computation.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
import tracemalloc

import numpy as np

from urbanmine import __version__
from urbanmine.lifetimes import Weibull
from urbanmine.stocks import inflow_driven


def make_inputs(n_series: int, n_years: int = 71, seed: int = 0):
    rng = np.random.default_rng(seed)
    inflow = rng.uniform(0.0, 100.0, (n_series, n_years))
    shape = rng.uniform(1.5, 4.0, (n_series, 1))
    scale = rng.uniform(5.0, 25.0, (n_series, 1))
    return inflow, shape, scale


def run_urbanmine(inflow, shape, scale):
    r = inflow_driven(inflow, Weibull(shape, scale))
    return r.stock, r.outflow


def run_flodym(inflow, shape, scale):
    import flodym

    n_series, n_years = inflow.shape
    dims = flodym.DimensionSet(dim_list=[
        flodym.Dimension(name="time", letter="t", items=list(range(1990, 1990 + n_years))),
        flodym.Dimension(name="series", letter="s", items=list(range(n_series))),
    ])
    lt = flodym.WeibullLifetime(
        dims=dims,
        weibull_shape=np.broadcast_to(shape.T, (n_years, n_series)).copy(),
        weibull_scale=np.broadcast_to(scale.T, (n_years, n_series)).copy(),
    )
    dsm = flodym.InflowDrivenDSM(dims=dims, lifetime_model=lt)
    dsm.inflow.values[...] = inflow.T
    dsm.compute()
    return dsm.stock.values.T, dsm.outflow.values.T


def measure(func, args, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func(*args)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    func(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, min(times), peak


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--flodym", action="store_true")
    a = ap.parse_args(argv)
    args = make_inputs(a.series)
    (stock, outflow), wall, peak = measure(run_urbanmine, args, a.repeat)
    report = {
        "benchmark": "inflow_driven, different Weibull per series",
        "series": a.series,
        "years": args[0].shape[1],
        "urbanmine_version": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "wall_seconds_best": round(wall, 4),
        "peak_traced_mb": round(peak / 1e6, 1),
        "target": {"wall_seconds": 0.1, "peak_mb": 200},
    }
    if a.flodym:
        (fs, fo), fwall, fpeak = measure(run_flodym, args, 1)
        report["flodym"] = {
            "wall_seconds": round(fwall, 3),
            "peak_traced_mb": round(fpeak / 1e6, 1),
            "max_rel_diff_stock": float(np.max(np.abs(fs - stock) / np.maximum(np.abs(fs), 1e-300))),
        }
    report["process_max_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
