"""Convergence of the Sobol indices with the number of base samples N (bench, not a test).

    python bench/sensitivity_convergence.py [--region EU27] [--year 2040] [--scenario NAME]

For N = 128 ... 4096 prints the largest 95 % confidence half-width of the total indices, the
largest change of any total index from the previous N, and the wall time: the default N is
the smallest at which the half-widths are below 0.05 and the ranking of the top groups no
longer changes.
"""

from __future__ import annotations

import argparse
import time

from urbanmine.estimate import load_inputs
from urbanmine.sensitivity import sensitivity


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--region", default="EU27")
    ap.add_argument("--year", type=int, default=2040)
    ap.add_argument("--scenario", default="current-practice")
    ap.add_argument("--stage", default="recovered")
    ap.add_argument("--max", type=int, default=4096)
    a = ap.parse_args(argv)
    inputs = load_inputs()
    prev = None
    n = 128
    print("N | model runs | wall [s] | max ST 95% half-width | max |change of ST| | top 3 by ST")
    while n <= a.max:
        t0 = time.perf_counter()
        r = sensitivity(a.region, a.year, scenario=a.scenario, stage=a.stage, base_samples=n, inputs=inputs)
        wall = time.perf_counter() - t0
        st = r.table.set_index("group")["ST"]
        change = float((st - prev.reindex(st.index)).abs().max()) if prev is not None else float("nan")
        top = ", ".join(f"{g} {v:.2f}" for g, v in st.head(3).items())
        print(f"{n} | {r.model_runs} | {wall:.1f} | {r.table.ST_conf.max():.3f} | {change:.3f} | {top}")
        prev = st
        n *= 2


if __name__ == "__main__":
    main()
