"""Figures and a self-contained HTML report of an estimate, for policy readers.

``make_report(estimate_csv, out_dir, year=2040)`` writes PNG figures and ``report.html`` (the
figures embedded as data URIs, so the file opens offline):

* ``recovered.png``: recovered tonnes over time, stacked by product, a panel per region and
  element;
* ``cascade_<year>.png``: end of life → collected → liberated → recovered in one year, by
  element, a panel per region: where the material is lost;
* ``secondary_share.png``: recovered / demand (sales) over time, all products, by element;
* ``uncertainty.png`` (with Monte Carlo columns): the p05–p95 band and the median of recovered
  tonnes by product (Nd, Dy), a panel per region;
* a table of key numbers for milestone years, and the assumptions and sources behind them from
  ``<estimate>.meta.json`` and the product profiles.

Colours differ in lightness as well as hue, and stacked areas are hatched, so that figures stay
readable in greyscale. matplotlib is imported only here, with the non-interactive Agg backend.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from .errors import InputDataError

__all__ = ["read_estimate", "make_report"]

REQUIRED = ("scenario", "region", "product", "element", "stage", "unit", "year", "value")
STAGE_ORDER = ("end_of_life", "collected", "liberated", "recovered")
MILESTONES = (2030, 2040, 2050)
# dark to light, distinct hues: readable in greyscale
PRODUCT_STYLE = {
    "ev_traction_motor": ("#1b3a5c", "//"),
    "wind_turbine": ("#3e8e7e", ".."),
    "smartphone": ("#e0b84a", "xx"),
}
ELEMENT_STYLE = {"Nd": ("#202020", "-"), "Pr": ("#6a51a3", "--"), "Dy": ("#d95f02", "-."), "Tb": ("#9e9e9e", ":")}


def read_estimate(path):
    """Read and check an estimate CSV written by ``urbanmine estimate``."""
    import pandas as pd

    from .io import read_table

    path = Path(path)
    df = read_table(path, REQUIRED)
    for col in ("year", "value"):
        vals = pd.to_numeric(df[col], errors="coerce")
        bad = vals.isna() & df[col].notna() if col == "value" else vals.isna()
        if bad.any():
            i = int(np.argmax(bad.to_numpy()))
            raise InputDataError(f"{path}, line {i + 2}: {col} = {df[col].iloc[i]!r}, expected a number")
        df[col] = vals
    for col in ("mean", "p05", "p50", "p95"):
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    df["year"] = df["year"].astype(int)
    need = {"recovered", "sales", "end_of_life"}
    if not need <= set(df["stage"]):
        raise InputDataError(f"{path}: stages {sorted(need - set(df['stage']))} are missing; "
                             "expected the stages of urbanmine estimate")
    return df


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


MAX_FIGURE_REGIONS = 8
"""Regions drawn in the figures (the first ones of the estimate); the tables list them all."""


def _regions(df):
    return list(dict.fromkeys(df["region"]))


def _fig_recovered(df, plt):
    rec = df[df.stage == "recovered"]
    regions, elements = _regions(df), list(dict.fromkeys(rec["element"]))
    products = list(dict.fromkeys(rec["product"]))
    fig, axes = plt.subplots(len(regions), len(elements), figsize=(3.2 * len(elements), 2.4 * len(regions)),
                             squeeze=False, sharex=True)
    for i, r in enumerate(regions):
        for j, e in enumerate(elements):
            ax = axes[i, j]
            sub = rec[(rec.region == r) & (rec.element == e)].pivot_table(index="year", columns="product", values="value")
            sub = sub.reindex(columns=products).fillna(0.0)
            base = np.zeros(len(sub))
            for p in products:
                colour, hatch = PRODUCT_STYLE.get(p, ("#777777", "++"))
                ax.fill_between(sub.index, base, base + sub[p], facecolor=colour, hatch=hatch,
                                edgecolor="white", linewidth=0.0, label=p)
                base = base + sub[p].to_numpy()
            ax.set_title(f"{r}: {e}", fontsize=9)
            if j == 0:
                ax.set_ylabel("recovered [t/yr]", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0, -1].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Recovered rare earths by product, scenario {df['scenario'].iloc[0]} (central values)", fontsize=11)
    return fig


def _fig_cascade(df, plt, year):
    sub = df[(df.year == year) & df.stage.isin(STAGE_ORDER)]
    regions = _regions(df)
    elements = list(dict.fromkeys(sub["element"]))
    fig, axes = plt.subplots(1, len(regions), figsize=(3.4 * len(regions), 3.2), squeeze=False)
    x = np.arange(len(STAGE_ORDER))
    for i, r in enumerate(regions):
        ax = axes[0, i]
        tab = sub[sub.region == r].groupby(["stage", "element"])["value"].sum().unstack("element")
        tab = tab.reindex(index=list(STAGE_ORDER), columns=elements).fillna(0.0)
        base = np.zeros(len(STAGE_ORDER))
        for e in elements:
            colour = ELEMENT_STYLE.get(e, ("#777777", "-"))[0]
            ax.bar(x, tab[e], bottom=base, color=colour, edgecolor="white", label=e)
            base = base + tab[e].to_numpy()
        for xi, total in zip(x, base):
            ax.text(xi, total, f"{total:,.0f}" if total >= 10 else f"{total:.2g}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x, [s.replace("_", " ") for s in STAGE_ORDER], rotation=30, fontsize=7)
        ax.set_title(r, fontsize=9)
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.set_ylabel(f"[t/yr] in {year}", fontsize=8)
    axes[0, -1].legend(fontsize=7)
    fig.suptitle(f"Where the material is lost, {year}, scenario {df['scenario'].iloc[0]} (all products, central values)",
                 fontsize=11, y=1.04)
    return fig


def _share_table(df):
    flows = df[df.stage.isin(["sales", "recovered"])].groupby(["region", "element", "year", "stage"])["value"].sum()
    tab = flows.unstack("stage")
    with np.errstate(divide="ignore", invalid="ignore"):
        tab["share"] = np.where(tab["sales"] > 0, tab["recovered"] / tab["sales"], np.nan)
    return tab


def _fig_share(df, plt):
    tab = _share_table(df)
    regions = _regions(df)
    fig, axes = plt.subplots(1, len(regions), figsize=(3.4 * len(regions), 2.8), squeeze=False, sharey=True)
    for i, r in enumerate(regions):
        ax = axes[0, i]
        for e in dict.fromkeys(df["element"]):
            s = tab.loc[(r, e)]["share"] * 100
            colour, style = ELEMENT_STYLE.get(e, ("#777777", "-"))
            ax.plot(s.index, s.to_numpy(), color=colour, linestyle=style, label=e)
        ax.set_title(r, fontsize=9)
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.set_ylabel("recovered / demand [%]", fontsize=8)
    axes[0, -1].legend(fontsize=7)
    fig.suptitle("Secondary share: demand that recovery could meet (all products)", fontsize=11, y=1.04)
    return fig


def _fig_uncertainty(df, plt):
    rec = df[(df.stage == "recovered") & df.element.isin(["Nd", "Dy"])]
    regions = _regions(df)
    products = list(dict.fromkeys(rec["product"]))
    elements = [e for e in ("Nd", "Dy") if e in set(rec.element)]
    fig, axes = plt.subplots(len(regions), len(elements), figsize=(3.6 * len(elements), 2.5 * len(regions)),
                             squeeze=False, sharex=True)
    for i, r in enumerate(regions):
        for j, e in enumerate(elements):
            ax = axes[i, j]
            for p in products:
                s = rec[(rec.region == r) & (rec.element == e) & (rec["product"] == p)].sort_values("year")
                colour = PRODUCT_STYLE.get(p, ("#777777", ""))[0]
                ax.fill_between(s.year, s.p05, s.p95, color=colour, alpha=0.25, linewidth=0)
                ax.plot(s.year, s.p50, color=colour, label=f"{p} (median)")
                ax.plot(s.year, s.value, color=colour, linestyle=":", linewidth=0.8)
            ax.set_title(f"{r}: {e}", fontsize=9)
            ax.tick_params(labelsize=7)
            if j == 0:
                ax.set_ylabel("recovered [t/yr]", fontsize=8)
    axes[0, -1].legend(fontsize=6)
    fig.suptitle("Uncertainty: 5th-95th percentile band, median (solid), central run (dotted)", fontsize=11)
    return fig


def _key_numbers(df):
    years = [y for y in MILESTONES if y in set(df.year)] or [int(df.year.max())]
    tab = _share_table(df)
    rows = []
    stats = {"p05", "p95"} <= set(df.columns)
    for (r, e), _g in tab.groupby(level=[0, 1], sort=False):
        for y in years:
            if (r, e, y) not in tab.index:
                continue
            rec = tab.loc[(r, e, y), "recovered"]
            share = tab.loc[(r, e, y), "share"]
            rng = ""
            if stats and df["product"].nunique() == 1:
                q = df[(df.region == r) & (df.element == e) & (df.year == y) & (df.stage == "recovered")]
                rng = f"{q.p05.iloc[0]:,.4g} – {q.p95.iloc[0]:,.4g}"
            rows.append((r, e, y, rec, share, rng))
    return rows, years


def _total_rows(full):
    product = "all" if "all" in set(full["product"]) else full["product"].iloc[0]
    element = "REE" if "REE" in set(full["element"]) else full["element"].iloc[0]
    return full[(full["product"] == product) & (full["element"] == element)], product, element


def _totals_html(full, scenarios, diffs, has_stats):
    """Key numbers by scenario: recovered and secondary share of the total, and the differences."""
    tot, product, element = _total_rows(full)
    years = [y for y in MILESTONES if y in set(tot.year)] or [int(tot.year.max())]
    what = "all products" if product == "all" else product
    out = [f"<h2>Key numbers: {html.escape(element)}, {html.escape(what)}</h2>",
           "<p>Central value (every input at its central value)"
           + (", and the 5th-95th percentile range over the Monte Carlo samples" if has_stats else
              "; no Monte Carlo samples were drawn, so no uncertainty ranges are shown")
           + ". Quote the central value with its range.</p>",
           "<table><tr><th>scenario</th><th>region</th><th>year</th><th>recovered [t/yr]</th>"
           + ("<th>p05-p95 [t/yr]</th>" if has_stats else "") + "<th>secondary share</th></tr>"]
    idx = tot.set_index(["scenario", "region", "stage", "year"])
    for s in scenarios + diffs:
        for r in dict.fromkeys(tot.region):
            for y in years:
                try:
                    rec = idx.loc[(s, r, "recovered", y)]
                    share = idx.loc[(s, r, "secondary_share", y), "value"]
                except KeyError:
                    continue
                label = s + (" (recoverable upper bound)" if s.split(" minus ")[0] == "technical-potential" else "")
                rng = f"<td>{_fmt(rec['p05'])} – {_fmt(rec['p95'])}</td>" if has_stats else ""
                sh = "–" if share != share else (f"{share:+.1%}" if " minus " in s else f"{share:.1%}")
                out.append(f"<tr><td style='text-align:left'>{html.escape(label)}</td><td>{html.escape(r)}</td>"
                           f"<td>{y}</td><td>{_fmt(rec['value'])}</td>{rng}<td>{sh}</td></tr>")
    out.append("</table>")
    if diffs:
        out.append("<p>Rows '<i>B</i> minus <i>A</i>' are differences computed sample by sample (the "
                   "scenarios share their random draws), so their ranges are valid ranges of the "
                   "difference, not differences of ranges.</p>")
    return "\n".join(out)


def _fig_scenarios(full, scenarios, plt, has_stats):
    tot, _, element = _total_rows(full)
    rec = tot[tot.stage == "recovered"]
    regions = list(dict.fromkeys(rec.region))[:MAX_FIGURE_REGIONS]
    fig, axes = plt.subplots(1, len(regions), figsize=(3.6 * len(regions), 3.0), squeeze=False)
    styles = ["-", "--", ":", "-."]
    greys = ["#111111", "#555555", "#999999", "#333333"]
    for i, r in enumerate(regions):
        ax = axes[0, i]
        for k, s in enumerate(scenarios):
            d = rec[(rec.region == r) & (rec.scenario == s)].sort_values("year")
            if has_stats:
                ax.fill_between(d.year, d.p05, d.p95, color=greys[k % 4], alpha=0.15, linewidth=0)
            ax.plot(d.year, d.value, color=greys[k % 4], linestyle=styles[k % 4], label=s)
        ax.set_title(r, fontsize=9)
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.set_ylabel(f"recovered {element} [t/yr]", fontsize=8)
    axes[0, -1].legend(fontsize=7)
    fig.suptitle(f"Recovered {element} by scenario (all products)", fontsize=11, y=1.04)
    return fig


def _fmt(x):
    if x != x:
        return "–"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _assumptions_html(meta, profiles):
    parts = []
    if meta:
        parts.append("<h3>Run</h3><ul>")
        for k in ("command", "urbanmine_version", "samples", "seed", "inflow_at", "created"):
            parts.append(f"<li><b>{html.escape(k)}</b>: {html.escape(str(meta.get(k)))}</li>")
        cm = meta.get("collection_model", {})
        parts.append(f"<li><b>collection model</b>: id {html.escape(str(cm.get('id')))}, "
                     f"tau {html.escape(str(cm.get('tau_yr')))} yr</li></ul>")
        for sc in meta.get("scenarios", []):
            upper = " (its 'recovered' is the recoverable upper bound)" if sc["name"] == "technical-potential" else ""
            parts.append(f"<h3>Scenario {html.escape(sc['name'])}{upper}</h3><p>{html.escape(sc['description'])}; "
                         f"demand path {html.escape(str(sc['demand']))}; base chain "
                         f"{html.escape(' → '.join(sc['chain']))}.</p><ul>")
            for lv in sc["levers"]:
                path = ", ".join(f"{y}: {v:g}" for y, v in zip(lv["year"], lv["value"])) if len(lv["year"]) > 1 \
                    else f"{lv['value'][0]:g}"
                since = f" from {lv['from_year']}" if "from_year" in lv else ""
                why = ", ".join(lv.get("source", [])) or "assumption"
                parts.append(f"<li>{html.escape(lv['parameter'])} of {html.escape(lv['product'])} in "
                             f"{html.escape(lv['region'])}: {html.escape(path)}{html.escape(since)} "
                             f"[{html.escape(lv.get('status', '-'))}; {html.escape(why)}]"
                             + (f" — {html.escape(lv['assumption'])}" if lv.get("assumption") else "") + "</li>")
            parts.append("</ul>")
        parts.append("<h3>Input files (SHA-256)</h3><ul>")
        for f, h in meta.get("inputs_sha256", {}).items():
            parts.append(f"<li><code>{html.escape(Path(f).name)}</code> {html.escape(h[:16])}…</li>")
        parts.append("</ul>")
    for _name, prof in profiles.items():
        parts.append(f"<h3>{html.escape(prof.name)} ({html.escape(prof.unit)})</h3>")
        parts.append(f"<p>{html.escape(prof.scope)}</p><ul>")
        lt = prof.lifetime
        params = ", ".join(f"{p} {float(lt[p].central):g}" for p in lt if p != "family")
        parts.append(f"<li>Lifetime: {html.escape(lt['family'])} ({html.escape(params)}) — "
                     f"sources: {html.escape(', '.join(sorted({s for p in lt if p != 'family' for s in lt[p].source})) or 'assumption')}</li>")
        if prof.storage:
            st = prof.storage
            sp = ", ".join(f"{p} {float(st[p].central):g}" for p in st if p != "family")
            parts.append(f"<li>Storage before disposal: {html.escape(st['family'])} ({html.escape(sp)})</li>")
        for (s, t) in prof.technologies:
            q = prof.technology(s, t).magnet_kg_per_unit
            if float(np.max(q.central)) > 0:
                parts.append(f"<li>{html.escape(s)}/{html.escape(t)}: magnet {float(np.max(q.central)):g} kg/{html.escape(prof.unit)} — "
                             f"sources: {html.escape(', '.join(q.source) or 'assumption')}</li>")
        for k, q in prof.end_of_life.items():
            parts.append(f"<li>{html.escape(k.replace('_', ' '))}: {float(q.central):g} "
                         f"(range {float(q.values('low')):g}–{float(q.values('high')):g}) — "
                         f"{html.escape(', '.join(q.source) or 'assumption')}</li>")
        if prof.collection_category:
            parts.append(f"<li>collection: fitted regression, category "
                         f"{html.escape(prof.collection_category)} (see the model card)</li>")
        parts.append("</ul>")
        used = sorted({s for q in _all_quantities(prof) for s in q.source})
        refs = [f"<li><b>{html.escape(k)}</b>: {html.escape(prof.references.get(k, {}).get('citation', ''))}</li>"
                for k in used]
        parts.append("<details><summary>References</summary><ul>" + "".join(refs) + "</ul></details>")
    return "\n".join(parts)


def _all_quantities(prof):
    for spec in (prof.lifetime, prof.storage or {}):
        for k, v in spec.items():
            if k != "family":
                yield v
    for s, t in prof.technologies:
        yield prof.technology(s, t).magnet_kg_per_unit
    for comp in prof.compositions.values():
        yield from comp.values()
    for seg in prof.segments.values():
        yield seg.share_provenance
    yield from prof.end_of_life.values()


def make_report(estimate_path, out_dir, year: int = 2040, overwrite: bool = False, profiles=None) -> list[Path]:
    """Write the figures and ``report.html`` to ``out_dir``; return the paths written.

    Nothing is written if a check fails; an existing file is replaced only with ``overwrite``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import atomic_write, check_writable
    from .profiles import load_profiles

    full = read_estimate(estimate_path)
    scenarios = [s for s in dict.fromkeys(full["scenario"]) if " minus " not in s]
    diffs = [s for s in dict.fromkeys(full["scenario"]) if " minus " in s]
    # the per-product and per-element figures show the first scenario's parts (totals are
    # drawn from the REE and 'all' rows, never by adding percentiles)
    df = full[(full["scenario"] == scenarios[0]) & (full["element"] != "REE") & (full["product"] != "all")]
    if df.empty:
        raise InputDataError(f"{estimate_path}: no rows of single elements and products to draw")
    df = df.copy()
    df["scenario"] = scenarios[0]
    df = df.reset_index(drop=True)
    df = df[df["element"].isin(["Nd", "Pr", "Dy", "Tb"])]
    all_regions = _regions(df)
    drawn = all_regions[:MAX_FIGURE_REGIONS]
    if len(all_regions) > len(drawn):  # figures for the first regions only; tables keep them all
        df = df[df["region"].isin(drawn)]
    df.attrs["full"] = full
    if year not in set(df["year"]):
        raise InputDataError(f"--year {year}: not in the estimate (years {int(df.year.min())}-{int(df.year.max())})")
    meta_path = Path(str(estimate_path) + ".meta.json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
    prof_dir = profiles
    if prof_dir is None and meta:
        tomls = [Path(p) for p in meta.get("inputs_sha256", {}) if p.endswith(".toml")]
        if tomls and tomls[0].parent.is_dir():
            prof_dir = tomls[0].parent
    all_profiles = load_profiles(prof_dir)
    used = {p: all_profiles[p] for p in dict.fromkeys(df["product"]) if p in all_profiles}
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputDataError(f"{out_dir}: exists and is not a directory")
    has_stats = {"p05", "p50", "p95"} <= set(df.columns) and df["p50"].notna().any()
    names = ["recovered.png", f"cascade_{year}.png", "secondary_share.png"] + (["uncertainty.png"] if has_stats else [])
    if len(scenarios) > 1:
        names.append("scenarios.png")
    names.append("report.html")
    out_dir.mkdir(parents=True, exist_ok=True)
    for n in names:
        check_writable(out_dir / n, overwrite)
    plt.rcParams.update({"font.size": 8, "axes.grid": True, "grid.alpha": 0.3})
    figures = {
        "recovered.png": _fig_recovered(df, plt),
        f"cascade_{year}.png": _fig_cascade(df, plt, year),
        "secondary_share.png": _fig_share(df, plt),
    }
    if has_stats:
        figures["uncertainty.png"] = _fig_uncertainty(df, plt)
    if len(scenarios) > 1:
        figures["scenarios.png"] = _fig_scenarios(full, scenarios, plt, has_stats)
    images = {}
    for n, fig in figures.items():
        images[n] = _png(fig)
        plt.close(fig)
    rows, years = _key_numbers(df)
    scen = ", ".join(scenarios)
    totals = _totals_html(full, scenarios, diffs, has_stats)
    body = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>urbanmine report</title><style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;"
        "line-height:1.4}table{border-collapse:collapse}td,th{border:1px solid #999;padding:3px 8px;"
        "text-align:right}th{background:#eee}img{max-width:100%}</style></head><body>",
        "<h1>Recoverable rare earths from end-of-life products</h1>",
        f"<p>Scenario <b>{html.escape(scen)}</b>; regions {html.escape(', '.join(all_regions))}"
        + (f" (figures show the first {MAX_FIGURE_REGIONS})" if len(all_regions) > MAX_FIGURE_REGIONS else "") + "; "
        f"products {html.escape(', '.join(dict.fromkeys(df['product'])))}; years "
        f"{int(df.year.min())}–{int(df.year.max())}. Source: <code>{html.escape(Path(estimate_path).name)}</code>. "
        "Units: t/yr for flows, t for stocks; the secondary share is recovered over sales (demand) "
        "in the same year.</p>",
        "<p><b>Read with care.</b> 'Recovered' is the expected recovery under each scenario's "
        "choices (collection, magnet removal, separation yield); under <i>technical-potential</i> it "
        "is the recoverable upper bound, not an expectation. The secondary share is recovered over "
        "the sales of the modelled products only (smartphones, EV traction motors, wind turbines), "
        "not over the whole economy's demand. Collection rates outside the EU are extrapolated from "
        "a mostly European regression and are likely optimistic.</p>",
        totals,
        f"<h2>Details: {html.escape(scenarios[0])}</h2>",
        "<h2>Key numbers</h2><table><tr><th>region</th><th>element</th><th>year</th>"
        "<th>recovered [t/yr]</th><th>secondary share</th>"
        + ("<th>recovered p05–p95 [t/yr]</th>" if any(r[5] for r in rows) else "") + "</tr>",
    ]
    for r, e, y, rec, share, rng in rows:
        body.append(f"<tr><td>{html.escape(r)}</td><td>{html.escape(e)}</td><td>{y}</td><td>{_fmt(rec)}</td>"
                    f"<td>{'–' if share != share else f'{share:.1%}'}</td>"
                    + (f"<td>{html.escape(rng)}</td>" if any(x[5] for x in rows) else "") + "</tr>")
    body.append("</table>")
    captions = {
        "recovered.png": "Recovered tonnes over time, stacked by product.",
        f"cascade_{year}.png": f"End of life, collected, liberated and recovered in {year}, stacked by element.",
        "secondary_share.png": "Share of each year's demand that recovery could meet.",
        "uncertainty.png": "Monte Carlo uncertainty of recovered tonnes by product (percentiles per product; they do not add up across products).",
        "scenarios.png": "Recovered rare earths (REE, all products) by scenario: central value, and the p05-p95 band where samples were drawn.",
    }
    body.append("<h2>Figures</h2>")
    for n, data in images.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        body.append(f"<figure><img alt='{html.escape(captions[n])}' src='{uri}'><figcaption>{html.escape(captions[n])}</figcaption></figure>")
    body.append("<h2>Assumptions and sources</h2>")
    body.append(_assumptions_html(meta, used))
    body.append("</body></html>")
    written = []
    for n, data in images.items():
        with atomic_write(out_dir / n, overwrite, mode="wb") as fh:
            fh.write(data)
        written.append(out_dir / n)
    with atomic_write(out_dir / "report.html", overwrite) as fh:
        fh.write("\n".join(body))
    written.append(out_dir / "report.html")
    return written
