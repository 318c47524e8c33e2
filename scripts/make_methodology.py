"""Write docs/methodology.md: the methodology appendix, with every number read from the shipped
profiles, data, collection model and scenarios (and the cross-checks and headline numbers
computed), so that it cannot drift from the code.

    python scripts/make_methodology.py            # writes docs/methodology.md
    python scripts/make_methodology.py --check    # exits 1 if docs/methodology.md differs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from urbanmine.estimate import content_per_unit, estimate, load_inputs  # noqa: E402
from urbanmine.inflows import country_inflows  # noqa: E402
from urbanmine.stocks import inflow_driven  # noqa: E402

OUT = ROOT / "docs" / "methodology.md"
SEVEN = ["CHN", "EU27", "USA", "JPN", "KOR", "IND", "ROW"]


def g(x, digits=3) -> str:
    """A number with ``digits`` significant digits, thousands separated."""
    x = float(x)
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    return f"{x:,.{digits}g}" if abs(x) >= 1 else f"{x:.{digits}g}"


def rng(q, years=None) -> str:
    """central [low-high] of a profile quantity; by year, its first and last anchors."""
    def one(i):
        c = float(np.atleast_1d(q.central)[i])
        if not q.has_range:
            return g(c)
        lo, hi = float(np.atleast_1d(q.values("low"))[i]), float(np.atleast_1d(q.values("high"))[i])
        return f"{g(c)} [{g(lo)}–{g(hi)}]"

    if q.years is None or len(q.years) == 1:
        return one(0)
    return f"{int(q.years[0])}: {one(0)} … {int(q.years[-1])}: {one(-1)}"


def cite(keys) -> str:
    return ", ".join(keys) if keys else "assumption"


def table(header, rows) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out + [""]


def section_products(inputs) -> list[str]:
    out = ["## 3. The products", "",
           "Every number below is read from `product_profiles/` (central value [low–high]; the keys point to "
           "`product_profiles/references.toml`). Regional values apply to a country, then to the smallest "
           "grouping it belongs to, then the default (the rest of the world).", ""]
    regions = inputs.regions
    for name, prof in inputs.profiles.items():
        out += [f"### {prof.name} (`{name}`, unit: {prof.unit})", "", prof.scope.replace("\n", " "), ""]
        rows = []
        for s, t in prof.technologies:
            q = prof.technology(s, t).magnet_kg_per_unit
            rows.append([f"{s}/{t}", rng(q), cite(q.source)])
        out += ["Magnet mass per unit [kg/unit]:", ""] + table(["segment/technology", "NdFeB [kg/unit]", "sources"], rows)
        rows = []
        for cid, comp in prof.compositions.items():
            for e in prof.elements:
                q = comp[e]
                rows.append([cid, e, rng(q), cite(q.source)])
        out += ["Element mass fractions of the magnet [1]:", ""] + table(["grade", "element", "fraction", "sources"], rows)
        rows = []
        for sid, seg in prof.segments.items():
            for code in [None, *seg.regional]:
                years, tables = seg.share_table(code)
                central = tables["central"]
                for t in seg.technologies:
                    if np.max(central[t]) > 0 and prof.technology(sid, t).magnet_kg_per_unit.central.max() > 0:
                        path = ", ".join(f"{int(y)}: {v:.3g}" for y, v in zip(years, central[t]))
                        prov = seg.share_provenance if code is None else seg.regional[code][2]
                        rows.append([sid, code or "default", t, path, cite(prov.source)])
        out += ["Shares of the magnet technologies within their segment [1], by cohort year (linear between "
                "years, held outside):", ""] + table(["segment", "region", "technology", "central share", "sources"], rows)
        rows = []
        for label, default, regional in (("use", prof.lifetime, prof.lifetime_regional),
                                         ("storage", prof.storage, prof.storage_regional)):
            if not default:
                continue
            for code in [None, *regional]:
                model = prof.lifetime_model(region=code, regions=regions, with_storage=False) if label == "use" else None
                spec = default if code is None else regional[code]
                params = ", ".join(f"{p} {rng(spec[p])}" for p in spec if p != "family")
                if label == "storage":
                    from urbanmine.profiles import _make_lifetime

                    model = _make_lifetime(spec, "central")
                out.append(f"- {label} lifetime, {code or 'default'}: {spec['family']} ({params}); mean "
                           f"{g(float(model.mean()))} yr; sources: "
                           f"{cite(sorted({s for p in spec if p != 'family' for s in spec[p].source}))}")
        out += ["", "Collection: " + (f"the fitted regression, category `{prof.collection_category}`"
                                      if prof.collection_category else "set by each scenario"), ""]
    return out


def section_data(inputs) -> list[str]:
    inflows = inputs.inflows
    sources = pd.read_csv(ROOT / "data" / "sources.csv").set_index("source")
    paths = pd.read_csv(ROOT / "data" / "demand_paths.csv")
    out = ["## 4. Sales data (products put into use)", "",
           "`data/inflows.csv` (built from `data-raw/` by `scripts/build_data.py`): units put into use per year "
           "by demand path, country or region and segment; every row carries its method and sources "
           "(`data/README.md` explains every method).", "", "Demand paths:", ""]
    out += [f"- `{r.demand}`: {r.description}" for r in paths.itertuples()] + [""]
    world = inflows[inflows.region.isin(SEVEN)]
    rows = []
    for (d, p), sub in world.groupby(["demand", "product"]):
        by_year = sub.groupby("year").value.sum()
        unit = sub.unit.iloc[0].replace("/yr", "")
        rows.append([d, p] + [g(by_year[y] / 1e6, 3) for y in (2010, 2023, 2030, 2040, 2050)] + [f"million {unit}/yr"])
    out += ["World sales by product (sum of the seven regions):", ""]
    out += table(["demand", "product", "2010", "2023", "2030", "2040", "2050", "unit"], rows)
    rows = []
    for p, sub in inflows.groupby("product"):
        keys = sorted({k for s in sub.source for k in s.split(";")})
        for k in keys:
            if k in sources.index:
                r = sources.loc[k]
                rows.append([p, k, str(r.title).replace("|", "/"), r.year])
    out += ["Sources of the sales data:", ""] + table(["product", "key", "title", "year"], rows)
    exp = pd.read_csv(ROOT / "data" / "used_exports.csv")
    tot = exp.groupby(["exporter", "product", "year"]).share.sum()
    out += ["Used exports (`data/used_exports.csv`): share of the products leaving use that is exported used "
            "and reaches end of life abroad:", ""]
    for (e, p), s in tot.groupby(level=[0, 1]):
        s = s.droplevel([0, 1])
        dest = exp[(exp.exporter == e) & (exp["product"] == p) & (exp.year == 2017)]
        out.append(f"- {e}, {p}: {g(s[2017])} until 2017, {g(s[2035])} from 2035; destinations (2017): "
                   + ", ".join(f"{r.destination} {g(r.share)}" for r in dest.itertuples()))
    return out + [""]


def section_collection() -> list[str]:
    m = json.loads((ROOT / "models" / "collection_rate.json").read_text())
    cv, fit = m["cross_validation"], m["fit"]
    out = ["## 5. Collection rates: the regression", "",
           "A fractional logit (Papke & Wooldridge) of documented formal collection rates on GDP per capita, the "
           "years since a take-back law, the product category and the rate's definition, with partial pooling of "
           f"country effects (sd {g(m['region_effect_sd'])} on the logit scale). Fitted on "
           f"{m['training_data']['n_used']} observations from {m['training_data']['n_regions']} countries and "
           "regions (UN SDG 12.5.1, Eurostat, India's CPCB figures); the full model card is "
           "`models/collection_rate.md`.", ""]
    out += table(["feature", "coefficient", "definition"],
                 [[f["name"], g(m["coefficients"][f["name"]], 3), f["definition"]] for f in m["features"]])
    out += ["Scores (mean absolute error in percentage points, R²):", ""]
    out += table(["check", "MAE [pp]", "R²", "n"], [
        ["in sample, fixed effects only", g(fit["in_sample"]["mae_pp"]), g(fit["in_sample"]["r2"]), fit["in_sample"]["n"]],
        ["in sample, with country effects", g(fit["in_sample_with_country_effects"]["mae_pp"]),
         g(fit["in_sample_with_country_effects"]["r2"]), fit["in_sample_with_country_effects"]["n"]],
        ["5-fold cross-validation", g(cv["kfold"]["mae_pp"]), g(cv["kfold"]["r2"]), cv["kfold"]["n"]],
        ["leave one country out", g(cv["leave_one_country_out"]["mae_pp"]), g(cv["leave_one_country_out"]["r2"]),
         cv["leave_one_country_out"]["n"]],
        ["leave one continent out", g(cv["leave_one_continent_out"]["mae_pp"]),
         g(cv["leave_one_continent_out"]["r2"]), cv["leave_one_continent_out"]["n"]],
    ])
    out += ["A new country is predicted with R² about 0.25 and a new continent not at all: outside the data, "
            "collection rates are an extrapolation with a wide range, which the Monte Carlo carries.", ""]
    return out


def section_scenarios(inputs) -> list[str]:
    out = ["## 6. Scenarios", "",
           "A scenario is a set of choices (levers) applied by the year products reach end of life (collection, "
           "liberation, process yield) or by the year they are sold (lifetime factor, technology shift). Ranges "
           "around a lever are the uncertainty of what it achieves; the choice itself never enters a range.", ""]
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        sc = inputs.scenario(path.stem)
        out += [f"### `{sc.name}`", "", f"{sc.description.rstrip('.')}. Demand path `{sc.demand}`; builds on "
                f"{' → '.join(sc.chain)}.", ""]
        rows = []
        for lv in sc.describe():
            if Path(lv["set_in"]).stem != sc.name:
                continue
            path_ = (f"{lv['value'][0]:g}" if len(lv["year"]) == 1 else
                     ", ".join(f"{y}: {v:g}" for y, v in zip(lv["year"], lv["value"])))
            band = (f"{lv['low'][0]:g}–{lv['high'][0]:g}" if "low" in lv else "–")
            rows.append([lv["parameter"], lv["product"], lv["region"], path_ + (f" (from {lv['from_year']})"
                                                                                   if "from_year" in lv else ""),
                         band, lv.get("status", "–"), cite(lv.get("source", []))])
        out += table(["parameter", "product", "region", "value (by year)", "range", "status", "sources"], rows)
    return out


def section_validation(inputs) -> list[str]:
    df = estimate(["WORLD"], [2023], elements=["REE"], inputs=inputs)
    sales = df[(df.stage == "sales")].set_index("product")["value"]
    ev = inputs.profiles["ev_traction_motor"]
    content = ev.content([2023])[:, :, 0].sum(axis=1)
    shares = ev.shares([2023])[:, 0]
    plug_in = 0.0
    for seg in ("bev", "phev"):
        units = inputs.inflows[(inputs.inflows.demand == "stated") & (inputs.inflows["product"] == "ev_traction_motor")
                               & (inputs.inflows.segment == seg) & (inputs.inflows.year == 2023)
                               & inputs.inflows.region.isin(SEVEN)].value.sum()
        plug_in += units * sum(sh * c for (s_, _), sh, c in zip(ev.technologies, shares, content) if s_ == seg) / 1000
    prof = inputs.profiles["wind_turbine"]
    arr, years = country_inflows(inputs.inflows, inputs.keys, inputs.regions, "stated", "wind_turbine",
                                 list(prof.segments))
    installed = arr.sum(axis=1)
    retired = np.array([inflow_driven(installed[i], prof.lifetime_model(region=c, regions=inputs.regions)).outflow
                        for i, c in enumerate(inputs.regions.countries)])

    def tot(code, a, y0, y1):
        sel = (years >= y0) & (years <= y1)
        return float(inputs.regions.membership([code])[0] @ a[:, sel].sum(axis=1))

    hev = inputs.inflows[(inputs.inflows.demand == "stated") & (inputs.inflows.segment == "hev")
                         & (inputs.inflows.year == 2023) & inputs.inflows.region.isin(SEVEN)].value.sum()
    rows = [
        ["rare earths per MW, onshore world average, 2021 cohort", "27 (ELMA) – 65 (JRC mix) kg/MW",
         f"{g(content_per_unit(inputs, 'wind_turbine', 'onshore', 2021))} kg/MW", "between"],
        ["rare earths per MW, offshore", "152 (JRC mix) – 210 (ELMA) kg/MW; IEA 239 = all direct drive",
         f"{g(content_per_unit(inputs, 'wind_turbine', 'offshore', 2021))} kg/MW", "between"],
        ["magnet demand of wind, 2023 (IEA Critical Minerals Data Explorer 2024)", "9.74 kt",
         f"{g(sales['wind_turbine'] / 1000)} kt", "below: the IEA implies more PM capacity than market data show"],
        ["magnet demand of electric vehicles, 2023 (IEA; plug-ins of every mode)", "6.58 kt",
         f"{g(plug_in / 1000)} kt plug-in cars ({g(sales['ev_traction_motor'] / 1000)} kt with full hybrids)",
         "below, within 25 % (narrower scope)"],
        ["world full-hybrid sales 2023", "≥ 3.42 million (Toyota)", f"{g(hev / 1e6)} million", "above the bound"],
        ["EU27 wind installations 2020–2023 (WindEurope)", "52.6 GW", f"{g(tot('EU27', installed, 2020, 2023) / 1000)} GW", "±15 %"],
        ["Germany decommissioned wind 2015–2024 (WindGuard / FA Wind)", "3.35 GW",
         f"{g(tot('DEU', retired, 2015, 2024) / 1000)} GW", "fitted (calibration)"],
        ["EU27 decommissioned wind 2021", "Europe 0.18–0.39 GW a year (2019–2020)",
         f"{g(tot('EU27', retired, 2021, 2021) / 1000)} GW", "about twice too high outside Germany"],
    ]
    out = ["## 7. Validation", "",
           "Computed from the shipped data here; the tests (`tests/validation/`) hold each check with its source and "
           "tolerance, and the Canadian wind MFA (Jiang et al. 2024) and flodym's cohort model are reproduced "
           "exactly.", ""]
    return out + table(["check", "published", "urbanmine", "result"], rows)


def section_headline(inputs) -> list[str]:
    out = ["## 8. Headline numbers (central values)", "",
           "End of life and recovery of Nd+Pr+Dy+Tb from the three products [t/yr]. `recovered` under "
           "`current-practice` is what today's practice is expected to recover; under `technical-potential` it is "
           "the recoverable upper bound.", ""]
    rows = []
    for scen in ("current-practice", "announced-policies", "technical-potential"):
        df = estimate(["WORLD", "EU27", "CHN", "USA"], [2030, 2040, 2050], products=None, elements=["REE"],
                      scenario=scen, inputs=inputs)
        df = df[df["product"] == "all"]
        for stage in ("end_of_life", "recovered"):
            for r in ("WORLD", "EU27", "CHN", "USA"):
                v = df[(df.stage == stage) & (df.region == r)].set_index("year")["value"]
                rows.append([scen, stage.replace("_", " "), r] + [g(v[y]) for y in (2030, 2040, 2050)])
    return out + table(["scenario", "stage", "region", "2030", "2040", "2050"], rows)


STATIC_HEAD = """# Methodology

*Generated by `python scripts/make_methodology.py` from the shipped product profiles, data,
collection model and scenarios; the tests check that it is current. Numbers in the tables are
the shipped defaults.*

## 1. The question

How many tonnes of neodymium, praseodymium, dysprosium and terbium (the rare earths of NdFeB
permanent magnets) leave use in smartphones, electric-car traction motors and wind turbines in a
country or region each year to 2060, how many are collected, freed from the products and
recovered — under today's practice and under the policies being weighed — with what
uncertainty, and what share of these products' own demand that could meet.

## 2. The calculation

For every country (the base unit; regions are sums of countries), product, element and year:

```
sales[c]         = Σ_k inflow[seg(k), c] × share[k, c] × magnet mass[k, c] × element fraction[k, e, c]   [t/yr]
stock, outflow   = inflow-driven cohort model of sales with the lifetime distribution                   [t], [t/yr]
net_export       = share of the outflow exported used (data/used_exports.csv) − imports                 [t/yr]
end_of_life      = outflow − net_export                                                                 [t/yr]
collected        = end_of_life × collection rate (scenario lever, else the fitted regression)           [t/yr]
liberated        = collected × liberation (magnets removed before shredding; scenario lever)            [t/yr]
recovered        = liberated × process yield (separation and reduction; scenario lever)                 [t/yr]
secondary share  = recovered / sales, same region and year, modelled products only                      [1]
```

*Time.* Stocks are at the end of each year. A cohort enters use in the middle of its year
(`--inflow-at start|middle|end`; `end` reproduces ODYM/flodym exactly); the share of a
cohort still in use at the end of year t comes from the continuous survival function of its
lifetime distribution, and the outflow of a year is the drop in that share. Smartphones are
in use and then kept in storage before disposal (two delays in series).

*Uncertainty.* Every number with a low–high range is drawn from a triangular distribution per
Monte Carlo sample (technology mixes move between their low- and high-magnet variants); the
collection model's coefficients and country effects from their fitted uncertainty; and each
scenario lever's achieved level from its range. Results are quoted as the central value (every
input central) with the 5th–95th percentiles. `urbanmine sensitivity` splits the variance by
input group (Sobol indices).

"""

STATIC_TAIL = """## 9. Known limits

- **Scope.** Three products: magnets in other uses (industrial motors, e-bikes, hard disks,
  air conditioners, other cars' small motors) are out of scope, so secondary shares are shares
  of these products' demand, not of an economy's.
- **Wind.** Drivetrain mixes outside the USA rest on manufacturers' market shares (China), JRC
  scenario shares of unstated geography (EU27) and global anchors (elsewhere); lifetimes
  outside Europe rest on expectations and policy rather than observed decommissioning; the
  EU27's modelled decommissioning is still about twice the observed outside Germany.
- **Vehicles.** Hybrid magnet mass rests on project and press figures; full-hybrid sales
  outside the USA are patchy and the rest of the world's are assumed; only Japan's used
  exports are modelled, and exported cars reach end of life abroad in the year they leave.
- **Demand after the outlooks** follows the IEA's sector trajectories of magnet demand, one
  path for every region, with the IEA's content per unit assumed constant.
- **Collection** outside the data is extrapolated (see the scores above); informal collection
  is not counted.
- **Phones.** Magnet mass rests on two studies; storage time on one UK survey.
"""


def build() -> str:
    inputs = load_inputs()
    parts = [STATIC_HEAD]
    for f in (section_products, section_data, section_collection, section_scenarios, section_validation,
              section_headline):
        parts.append("\n".join(f(inputs) if f is not section_collection else f()) + "\n")
    parts.append(STATIC_TAIL)
    return "\n".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args(argv)
    text = build()
    if a.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print("docs/methodology.md differs from a rebuild: run python scripts/make_methodology.py", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
