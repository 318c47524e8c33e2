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


DPI = 200
"""Resolution of every figure [dots per inch]: fit to print at full page width."""
NCOLS = 4
"""Panels per row: more regions wrap onto further rows."""


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.15)
    return buf.getvalue()


MAX_FIGURE_REGIONS = 8
"""Regions drawn in the figures (the first ones of the estimate); the tables list them all."""


def _regions(df):
    return list(dict.fromkeys(df["region"]))


def _total_element(full) -> str:
    """REE where the estimate has it, else its first element (a run asked for single elements)."""
    return "REE" if "REE" in set(full["element"]) else str(full["element"].iloc[0])


def _grid(plt, n, width=3.2, height=2.5, sharex=True, sharey=False):
    """A figure of ``n`` panels, at most :data:`NCOLS` per row, with constrained layout (titles
    and labels never overlap); returns the figure and the ``n`` axes."""
    ncols = min(NCOLS, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows + 0.7), squeeze=False,
                             sharex=sharex, sharey=sharey, layout="constrained")
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _source(fig, text: str) -> None:
    """A source line under the figure (kept in the saved image by the tight bounding box),
    wrapped to the figure's width."""
    import textwrap

    width = max(60, int(fig.get_figwidth() * 17))  # characters of 6.5 pt text per line
    lines = [textwrap.fill(part, width) for part in text.split("\n")]
    fig.text(0.0, -0.01, "\n".join(lines), fontsize=6.5, ha="left", va="top", color="#333333")


def _title(fig, text: str) -> None:
    """The figure's title, wrapped to its width."""
    import textwrap

    fig.suptitle(textwrap.fill(text, max(40, int(fig.get_figwidth() * 11))), fontsize=10)


def _source_text(df, what: str) -> str:
    """The source line of a figure: the tool, the estimate file, the scenario and the inputs."""
    from . import __version__

    info = df.attrs.get("info", {})
    return (f"Source: urbanmine {__version__}, {info.get('file', 'estimate')}; scenario {info.get('scenario', '')}; "
            f"{what}.\nSales: IEA Global EV Outlook 2024/2025 and Critical Minerals Outlook 2024, national hybrid "
            "statistics, IRENA capacity (via Our World in Data), GWEC and WindEurope, IDC; product profiles and "
            "collection model as shipped (sources in the report).")


def _product_colour(p):
    return PRODUCT_STYLE.get(p, ("#777777", "++"))


def _fig_recovered(df, plt):
    """Recovered REE by product, stacked, a panel per region (element detail in the cascade and
    share figures; small products are listed in the report's table)."""
    full = df.attrs["full"]
    scen = df.attrs["info"]["scenario"]
    el = _total_element(full)
    rec = full[(full.stage == "recovered") & (full.scenario == scen) & (full.element == el)
               & (full["product"] != "all") & full.region.isin(_regions(df))]
    regions = _regions(df)
    products = list(dict.fromkeys(rec["product"]))
    fig, axes = _grid(plt, len(regions))
    for ax, r in zip(axes, regions):
        sub = rec[rec.region == r].pivot_table(index="year", columns="product", values="value")
        sub = sub.reindex(columns=products).fillna(0.0)
        base = np.zeros(len(sub))
        for p in products:
            colour, hatch = _product_colour(p)
            ax.fill_between(sub.index, base, base + sub[p], facecolor=colour, hatch=hatch, edgecolor="white",
                            linewidth=0.0, label=p.replace("_", " "))
            base = base + sub[p].to_numpy()
        ax.set_title(r, fontsize=9)
        ax.set_ylabel(f"recovered {el} [t/yr]", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7, loc="upper left")
    what = "rare earths (Nd+Pr+Dy+Tb)" if el == "REE" else el
    _title(fig, f"Recovered {what} by product, scenario {scen}, central values")
    _source(fig, _source_text(df, "central values; products with small tonnages (smartphones) are listed in the "
                                  "report's table"))
    return fig


def _fig_cascade(df, plt, year):
    sub = df[(df.year == year) & df.stage.isin(STAGE_ORDER)]
    regions = _regions(df)
    elements = list(dict.fromkeys(sub["element"]))
    fig, axes = _grid(plt, len(regions), width=3.0, height=2.8, sharex=False)
    x = np.arange(len(STAGE_ORDER))
    for ax, r in zip(axes, regions):
        tab = sub[sub.region == r].groupby(["stage", "element"])["value"].sum().unstack("element")
        tab = tab.reindex(index=list(STAGE_ORDER), columns=elements).fillna(0.0)
        base = np.zeros(len(STAGE_ORDER))
        for e in elements:
            colour = ELEMENT_STYLE.get(e, ("#777777", "-"))[0]
            ax.bar(x, tab[e], bottom=base, color=colour, edgecolor="white", label=e)
            base = base + tab[e].to_numpy()
        for xi, total in zip(x, base):
            ax.text(xi, total, f"{total:,.0f}" if total >= 10 else f"{total:.2g}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x, [s.replace("_", " ") for s in STAGE_ORDER], rotation=25, fontsize=7)
        ax.set_ylim(0, max(float(base.max()), 1e-9) * 1.15)
        ax.set_title(r, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_ylabel(f"[t/yr] in {year}", fontsize=8)
    axes[-1].legend(fontsize=7, title="element", title_fontsize=7)
    labels = "REE total" if set(elements) == {"Nd", "Pr", "Dy", "Tb"} else "total of " + ", ".join(elements)
    _title(fig, f"Where the material is lost in {year}: end of life, collected, liberated, recovered "
                f"(all products; bar labels: {labels})")
    _source(fig, _source_text(df, "central values"))
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
    full = df.attrs["full"]
    scen = df.attrs["info"]["scenario"]
    ree = full[(full.scenario == scen) & (full["product"] == "all") & (full.element == "REE")
               & (full.stage == "secondary_share")]
    fig, axes = _grid(plt, len(regions), height=2.4, sharey=True)
    for ax, r in zip(axes, regions):
        for e in dict.fromkeys(df["element"]):
            s_ = tab.loc[(r, e)]["share"] * 100
            colour, style = ELEMENT_STYLE.get(e, ("#777777", "-"))
            ax.plot(s_.index, s_.to_numpy(), color=colour, linestyle=style, label=e, linewidth=1.1)
        t = ree[ree.region == r].sort_values("year")
        if len(t):
            ax.plot(t.year, t.value * 100, color="#000000", linewidth=2.2, alpha=0.35, label="REE")
        ax.set_title(r, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_ylabel("recovered / demand [%]", fontsize=8)
    axes[-1].legend(fontsize=7)
    _title(fig, "Secondary share: recovered over the same year's demand of the modelled products "
                 "(smartphones, EV motors, wind turbines), by element")
    _source(fig, _source_text(df, "central values; demand = sales of the modelled products only, not the "
                                  "whole economy's"))
    return fig


def _fig_uncertainty(df, plt):
    full = df.attrs["full"]
    scen = df.attrs["info"]["scenario"]
    el = _total_element(full)
    rec = full[(full.stage == "recovered") & (full.scenario == scen) & (full.element == el)
               & full.region.isin(_regions(df))]
    regions = _regions(df)
    products = [p for p in dict.fromkeys(rec["product"])]
    fig, axes = _grid(plt, len(regions))
    for ax, r in zip(axes, regions):
        for p in products:
            s_ = rec[(rec.region == r) & (rec["product"] == p)].sort_values("year")
            colour = "#000000" if p == "all" else _product_colour(p)[0]
            ax.fill_between(s_.year, s_.p05, s_.p95, color=colour, alpha=0.18, linewidth=0)
            ax.plot(s_.year, s_.p50, color=colour, label=("all products" if p == "all" else p.replace("_", " ")),
                    linewidth=1.6 if p == "all" else 1.0)
        ax.set_title(r, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_ylabel(f"recovered {el} [t/yr]", fontsize=8)
    axes[0].legend(fontsize=6.5, loc="upper left")
    _title(fig, f"Uncertainty of recovered {el}, scenario {scen}: median and 5th-95th percentile band")
    _source(fig, _source_text(df, f"{df.attrs['info'].get('samples', '')} Monte Carlo samples; percentiles of each "
                                  "product and of their sum (they do not add up)"))
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
           "<p>The secondary share is recovered over the same year's <b>sales of the modelled products</b> "
           "(smartphones, EV traction motors, wind turbines) in the region: the share of these products' own "
           "demand that recovery could meet, not a share of the economy's rare-earth demand.</p>",
           "<table><tr><th>scenario</th><th>region</th><th>year</th><th>recovered [t/yr]</th>"
           + ("<th>median [t/yr]</th><th>p05-p95 [t/yr]</th>" if has_stats else "") + "<th>secondary share</th></tr>"]
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
                rng = (f"<td>{_fmt(rec['p50'])}</td><td>{_fmt(rec['p05'])} – {_fmt(rec['p95'])}</td>"
                       if has_stats else "")
                sh = "–" if share != share else (f"{share:+.1%}" if " minus " in s else f"{share:.1%}")
                out.append(f"<tr><td style='text-align:left'>{html.escape(label)}</td><td>{html.escape(r)}</td>"
                           f"<td>{y}</td><td>{_fmt(rec['value'])}</td>{rng}<td>{sh}</td></tr>")
    out.append("</table>")
    if diffs:
        out.append("<p>Rows '<i>B</i> minus <i>A</i>' are differences computed sample by sample (the "
                   "scenarios share their random draws), so their ranges are valid ranges of the "
                   "difference, not differences of ranges.</p>")
    return "\n".join(out)


def _products_html(full, scenario, has_stats):
    """Recovered REE by product in the milestone years: small products stay visible here."""
    el = _total_element(full)
    rec = full[(full.scenario == scenario) & (full.element == el) & (full.stage == "recovered")]
    years = [y for y in MILESTONES if y in set(rec.year)] or [int(rec.year.max())]
    out = [f"<h2>Recovered {html.escape(el)} by product, {html.escape(scenario)} [t/yr]</h2>",
           "<table><tr><th>region</th><th>product</th>"
           + "".join(f"<th>{y}</th>" + (f"<th>{y} p05-p95</th>" if has_stats else "") for y in years) + "</tr>"]
    idx = rec.set_index(["region", "product", "year"])
    for r in dict.fromkeys(rec.region):
        for p in dict.fromkeys(rec["product"]):
            cells = []
            for y in years:
                try:
                    row = idx.loc[(r, p, y)]
                except KeyError:
                    cells.append("<td>–</td>" + ("<td>–</td>" if has_stats else ""))
                    continue
                cells.append(f"<td>{_fmt(row['value'])}</td>")
                if has_stats:
                    cells.append(f"<td>{_fmt(row['p05'])} – {_fmt(row['p95'])}</td>")
            name = "all products" if p == "all" else p.replace("_", " ")
            out.append(f"<tr><td>{html.escape(r)}</td><td style='text-align:left'>{html.escape(name)}</td>"
                       + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _sensitivity_html(result):
    c = result.cell
    rows = "".join(
        f"<tr><td style='text-align:left'>{html.escape(r.group)}</td><td>{r.inputs}</td><td>{r.ST:.3f} ± {r.ST_conf:.3f}</td>"
        f"<td>{r.S1:.3f} ± {r.S1_conf:.3f}</td></tr>" for r in result.table.itertuples())
    return (f"<h2>What drives the uncertainty: {html.escape(c['stage'])} {html.escape(c['element'])}, "
            f"{html.escape(c['region'])}, {c['year']}, {html.escape(c['scenario'])}</h2>"
            "<p>Sobol indices by group of inputs (SALib; N = "
            f"{result.base_samples} base samples, {result.model_runs:,} model runs; ± the 95 % bootstrap "
            "half-width). ST: the share of the output's variance that involves the group; S1: the share it "
            "explains alone. A group with ST near 0 does not matter for this result.</p>"
            "<table><tr><th>input group</th><th>inputs</th><th>total ST</th><th>first-order S1</th></tr>"
            + rows + "</table>")


def _data_sources_html(meta, products):
    """The sources of the sales data of the run's products, from the data directory's
    ``inflows.csv`` and ``sources.csv`` (named in the estimate's meta.json)."""
    import pandas as pd

    files = [Path(f) for f in (meta or {}).get("inputs_sha256", {}) if f.endswith("inflows.csv")]
    if not files or not files[0].exists() or not (files[0].parent / "sources.csv").exists():
        return ("<h3>Sales data</h3><p class='note'>Not shown: the estimate's meta.json does not name a readable "
                "inflows.csv and sources.csv.</p>")
    inflows = pd.read_csv(files[0], usecols=["product", "source"])
    keys = sorted({k for s in inflows[inflows["product"].isin(products)]["source"].dropna() for k in s.split(";")})
    src = pd.read_csv(files[0].parent / "sources.csv").set_index("source")
    items = []
    for k in keys:
        if k in src.index:
            r = src.loc[k]
            items.append(f"<li><b>{html.escape(k)}</b>: {html.escape(str(r['title']))} ({html.escape(str(r['year']))}); "
                         f"{html.escape(str(r['where']))}</li>")
    return ("<h3>Sales data (products put into use)</h3><p>The sources of every row of the sales data of the "
            "products in this report (data/inflows.csv; how each value was obtained is its 'method', see "
            "data/README.md):</p><ul>" + "".join(items) + "</ul>")


def _fig_scenarios(full, scenarios, plt, has_stats, df):
    tot, _, element = _total_rows(full)
    rec = tot[tot.stage == "recovered"]
    regions = list(dict.fromkeys(rec.region))[:MAX_FIGURE_REGIONS]
    fig, axes = _grid(plt, len(regions))
    styles = ["-", "--", ":", "-."]
    greys = ["#111111", "#2b6cb0", "#c05621", "#555555"]
    for ax, r in zip(axes, regions):
        for k, s_ in enumerate(scenarios):
            d = rec[(rec.region == r) & (rec.scenario == s_)].sort_values("year")
            if has_stats:
                ax.fill_between(d.year, d.p05, d.p95, color=greys[k % 4], alpha=0.15, linewidth=0)
            label = s_ + (" (upper bound)" if s_ == "technical-potential" else "")
            ax.plot(d.year, d.value, color=greys[k % 4], linestyle=styles[k % 4], label=label)
        ax.set_title(r, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_ylabel(f"recovered {element} [t/yr]", fontsize=8)
    axes[0].legend(fontsize=7, loc="upper left")
    _title(fig, f"Recovered {element} by scenario (all products): central value"
                 + (" and 5th-95th percentile band" if has_stats else ""))
    info = dict(df.attrs.get("info", {}))
    info["scenario"] = ", ".join(scenarios)
    proxy = df.iloc[:0].copy()
    proxy.attrs = {**df.attrs, "info": info}
    _source(fig, _source_text(proxy, "bands: uncertainty around each scenario (the scenarios share their draws)"
                              if has_stats else "central values"))
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


def make_report(estimate_path, out_dir, year: int = 2040, overwrite: bool = False, profiles=None,
                sensitivity=None) -> list[Path]:
    """Write the figures and ``report.html`` to ``out_dir``; return the paths written.

    ``sensitivity``: a CSV written by ``urbanmine sensitivity --out``, drawn as a tornado chart
    (``sensitivity.png``) with its table. Nothing is written if a check fails; an existing file is
    replaced only with ``overwrite``.
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
    df.attrs["info"] = {"file": Path(estimate_path).name, "scenario": scenarios[0],
                        "samples": (meta or {}).get("samples", "") if has_stats else 0}
    names = ["recovered.png", f"cascade_{year}.png", "secondary_share.png"] + (["uncertainty.png"] if has_stats else [])
    if len(scenarios) > 1:
        names.append("scenarios.png")
    if sensitivity is not None:
        names.append("sensitivity.png")
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
        figures["scenarios.png"] = _fig_scenarios(full, scenarios, plt, has_stats, df)
    if sensitivity is not None:
        from .sensitivity import plot_tornado, read_result

        result = read_result(sensitivity)
        buf = io.BytesIO()
        plot_tornado(result, buf)
        sens_png = buf.getvalue()
    images = {}
    for n, fig in figures.items():
        images[n] = _png(fig)
        plt.close(fig)
    if sensitivity is not None:
        images["sensitivity.png"] = sens_png
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
    body.append(_products_html(full, scenarios[0], has_stats))
    captions = {
        "sensitivity.png": "Which uncertain inputs drive the result: total (ST) and first-order (S1) Sobol indices "
                           "by input group, with 95 % bootstrap intervals.",
        "recovered.png": "Recovered tonnes of rare earths (REE) over time, stacked by product.",
        f"cascade_{year}.png": f"End of life, collected, liberated and recovered in {year}, stacked by element.",
        "secondary_share.png": "Share of each year's demand that recovery could meet.",
        "uncertainty.png": "Monte Carlo uncertainty of recovered tonnes by product (percentiles per product; they do not add up across products).",
        "scenarios.png": "Recovered rare earths (REE, all products) by scenario: central value, and the p05-p95 band where samples were drawn.",
    }
    body.append("<h2>Figures</h2>")
    absent = []
    if not has_stats:
        absent.append("no Monte Carlo samples in the estimate, so no uncertainty figure (run estimate with --samples)")
    if len(scenarios) < 2:
        absent.append("one scenario only, so no scenario comparison (run estimate with several --scenario)")
    if sensitivity is None:
        absent.append("no sensitivity analysis (urbanmine sensitivity --out FILE.csv, then report --sensitivity "
                      "FILE.csv)")
    if absent:
        body.append("<p class='note'>Not shown: " + "; ".join(html.escape(a) for a in absent) + ".</p>")
    for n, data in images.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        body.append(f"<figure><img alt='{html.escape(captions[n])}' src='{uri}'><figcaption>{html.escape(captions[n])}</figcaption></figure>")
    if sensitivity is not None:
        body.append(_sensitivity_html(result))
    body.append("<h2>Assumptions and sources</h2>")
    body.append(_data_sources_html(meta, list(used)))
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
