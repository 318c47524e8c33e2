"""Short text summaries of an estimate for the terminal."""

from __future__ import annotations

import math

MILESTONES = (2030, 2040, 2050)
UPPER_BOUND_SCENARIOS = ("technical-potential",)
"""Scenarios whose 'recovered' is the technical upper bound: reported as 'recoverable'."""


def _amount(x: float) -> str:
    if x != x:
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _cell(row, stats: bool) -> str:
    text = _amount(row["value"])
    if stats and row.get("p05") == row.get("p05"):
        text += f" ({_amount(row['p05'])}-{_amount(row['p95'])})"
    return text


def summary_text(df) -> str:
    """REE (and each element) recovered from all products, by scenario and region, milestone years.

    With Monte Carlo columns every number is followed by its p05-p95 range; with several
    scenarios the differences from the first follow, computed per sample.
    """
    import numpy as np

    years = np.unique(df["year"].to_numpy()).tolist()
    shown = [y for y in MILESTONES if y in years] or years[-1:]
    products = list(df["product"].unique())
    product = "all" if "all" in products else products[0]
    stats = "p05" in df.columns
    # narrow to the rows summarised first: an every-country table has millions of rows
    df = df[(df["product"] == product) & df["stage"].isin(["recovered", "secondary_share"])
            & df["year"].isin(shown)]
    rec = df[df["stage"] == "recovered"]
    share = df[df["stage"] == "secondary_share"]
    key = ["scenario", "region", "element", "year"]
    rec_i = rec.set_index(key)
    share_i = share.set_index(key)["value"]
    scenarios = list(dict.fromkeys(df["scenario"]))
    plain = [s for s in scenarios if " minus " not in s]
    diffs = [s for s in scenarios if " minus " in s]
    what = "all products" if product == "all" else product
    lines = [f"Recovered rare earths [t/yr], {what}, central value"
             + (" (p05-p95)" if stats else "") + "; share = recovered / sales of the modelled products"]
    width = 24 if stats else 10
    head = f"{'scenario':<34} {'region':<6} {'element':<7} " + " ".join(f"{y:>{width + 8}}" for y in shown)
    lines.append(head)
    elements = list(dict.fromkeys(rec["element"]))
    for i, s in enumerate(plain):
        label = s + (" [recoverable]" if s in UPPER_BOUND_SCENARIOS else "")
        # every element for the first scenario, the REE total for the others
        shown_elements = elements if i == 0 or "REE" not in elements else ["REE"]
        for r in dict.fromkeys(rec["region"]):
            for e in shown_elements:
                cells = []
                for y in shown:
                    if (s, r, e, y) not in rec_i.index:
                        cells.append("")
                        continue
                    sh = share_i.get((s, r, e, y), math.nan)
                    pct = "" if sh != sh else f" {sh:.1%}"
                    cells.append(_cell(rec_i.loc[(s, r, e, y)], stats) + pct)
                lines.append(f"{label:<34} {r:<6} {e:<7} " + " ".join(f"{c:>{width + 8}}" for c in cells))
    if diffs:
        e = "REE" if "REE" in elements else elements[0]
        y = 2040 if 2040 in shown else shown[-1]
        lines.append(f"Differences ({e}, {y}, per Monte Carlo sample):" if stats else f"Differences ({e}, {y}):")
        for d in diffs:
            policy, base = d.split(" minus ")
            for r in dict.fromkeys(rec["region"]):
                if (d, r, e, y) not in rec_i.index:
                    continue
                row = rec_i.loc[(d, r, e, y)]
                verb = "adds" if row["value"] >= 0 else "removes"
                text = f"  {policy} {verb} {_amount(abs(row['value']))} t/yr of {e} in {r} in {y} compared with {base}"
                if stats and row["p05"] == row["p05"]:
                    text += f" (difference p05-p95: {_amount(row['p05'])} to {_amount(row['p95'])})"
                if policy in UPPER_BOUND_SCENARIOS:
                    text += " [recoverable upper bound]"
                lines.append(text)
    return "\n".join(lines)
