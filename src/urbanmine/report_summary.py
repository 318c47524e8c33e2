"""Short text summaries of an estimate for the terminal."""

from __future__ import annotations

MILESTONES = (2030, 2040, 2050)


def summary_text(df) -> str:
    """Recovered tonnes by element (all products) and the secondary share, milestone years."""
    years = sorted(set(df["year"]))
    shown = [y for y in MILESTONES if y in years] or years[-1:]
    flows = df[df["stage"].isin(["sales", "recovered"]) & df["year"].isin(shown)]
    tab = flows.pivot_table(index=["region", "stage", "element"], columns="year", values="value", aggfunc="sum")
    lines = [f"recovered [t/yr] and secondary share of demand [1], scenario {df['scenario'].iloc[0]}, "
             "all products:"]
    head = f"{'region':<6} {'element':<7} " + " ".join(f"{y:>20}" for y in shown)
    lines.append(head)
    for region in dict.fromkeys(df["region"]):
        for element in dict.fromkeys(df["element"]):
            try:
                rec = tab.loc[(region, "recovered", element)]
                sal = tab.loc[(region, "sales", element)]
            except KeyError:
                continue
            cells = []
            for y in shown:
                share = rec[y] / sal[y] if sal[y] > 0 else float("nan")
                amount = f"{rec[y]:,.0f}" if rec[y] >= 100 else f"{rec[y]:.3g}"
                cells.append(f"{amount} ({share:.1%})" if share == share else amount)
            lines.append(f"{region:<6} {element:<7} " + " ".join(f"{c:>20}" for c in cells))
    return "\n".join(lines)
