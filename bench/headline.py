"""The headline table of a data change: end-of-life and recovered REE [t/yr] for WORLD, EU27,
CHN and USA in 2030, 2040 and 2050, under each shipped scenario, by product and in total.

    python bench/headline.py [--out FILE.csv]

Prints a markdown table; with --out also writes the numbers as CSV so that a later run can be
compared with an earlier one (``--before FILE.csv`` adds the ratio after / before).
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from urbanmine.estimate import estimate, load_inputs

REGIONS = ["WORLD", "EU27", "CHN", "USA"]
YEARS = [2030, 2040, 2050]
STAGES = ["end_of_life", "recovered"]
SCENARIOS = ["current-practice", "technical-potential"]


def table() -> pd.DataFrame:
    inputs = load_inputs()
    frames = []
    for scen in SCENARIOS:
        df = estimate(REGIONS, YEARS, elements=["REE"], scenario=scen, inputs=inputs)
        frames.append(df[df.stage.isin(STAGES) & df.year.isin(YEARS)])
    out = pd.concat(frames)
    return out[["scenario", "region", "product", "stage", "year", "value"]].reset_index(drop=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out")
    ap.add_argument("--before")
    a = ap.parse_args(argv)
    t = table()
    if a.out:
        t.to_csv(a.out, index=False)
    key = ["scenario", "region", "product", "stage", "year"]
    if a.before:
        b = pd.read_csv(a.before).rename(columns={"value": "before"})
        t = t.merge(b, on=key, how="outer")
    wide = t.pivot_table(index=["scenario", "stage", "product", "region"], columns="year",
                         values=[c for c in ("before", "value") if c in t], sort=False)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 500)
    print(wide.round(1).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
