"""Rebuild the regional data in data/ from the raw inputs in data-raw/.

    python scripts/build_data.py            # writes data/*.csv
    python scripts/build_data.py --check    # rebuilds in memory, exits 1 if data/ differs

Inputs (data-raw/, provenance in data-raw/README.md and data-raw/sources.csv):
  iea_ev_data_explorer_2025.csv, iea_global_ev_data_2024.csv   IEA Global EV Outlook data
  owid_irena2024_wind_capacity_gw.csv                            IRENA capacity via OWID
  anchors_smartphones.csv                                         smartphone shipment anchors
  assumptions.toml                                                every assumption, with reasons
and the central wind lifetime of product_profiles/wind_turbine.toml.

Outputs (data/): regions.csv, demand_paths.csv, inflows.csv, sources.csv. Every inflow row carries
its unit, a `method` code (explained in data/README.md) and its source keys.
"""

from __future__ import annotations

import argparse
import io
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data-raw"
OUT = ROOT / "data"
sys.path.insert(0, str(ROOT / "src"))

from urbanmine.lifetimes import Weibull  # noqa: E402
from urbanmine.profiles import load_profile  # noqa: E402
from urbanmine.regions import Regions  # noqa: E402
from urbanmine.stocks import stock_driven  # noqa: E402

A = tomllib.loads((RAW / "assumptions.toml").read_text(encoding="utf-8"))
Y0, Y1 = A["first_year"], A["last_year"]
YEARS = np.arange(Y0, Y1 + 1)
REGIONS = A["regions"]
SCENARIOS = list(A["scenarios"])
IEA_NAMES = {"CHN": "China", "EU27": "EU27", "USA": "USA", "JPN": "Japan", "KOR": "Korea", "IND": "India"}
IRENA_NAMES = {
    "CHN": "China", "EU27": "European Union (27)", "USA": "United States", "JPN": "Japan",
    "KOR": "South Korea", "IND": "India", "World": "World",
}
ASSUMED = "URBANMINE_ASSUMPTIONS"



class Rows:
    """Accumulates inflow rows: value per year for one (demand path, region, product, segment)."""

    def __init__(self):
        self.frames = []

    def add(self, scenario, region, product, segment, unit, values, method, source, split_key=""):
        values = np.asarray(values, dtype=float)
        method = np.broadcast_to(np.asarray(method, dtype=object), values.shape)
        source = np.broadcast_to(np.asarray(source, dtype=object), values.shape)
        self.frames.append(pd.DataFrame({
            "demand": scenario, "region": region, "product": product, "segment": segment,
            "year": YEARS, "value": values, "unit": unit, "method": method, "source": source,
            "split_key": split_key,
        }))

    def frame(self):
        return pd.concat(self.frames, ignore_index=True)


def _round(x):
    """Round to 6 significant digits so that rebuilt files are stable across platforms."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore"):
        mag = np.where(x == 0, 0, np.floor(np.log10(np.abs(np.where(x == 0, 1, x)))))
    return np.where(x == 0, 0.0, np.round(x / 10**mag, 5) * 10**mag)



# ----------------------------------------------------------------------------- countries
C = A["countries"]
UN_REGIONS = {int(k): v for k, v in C["un_regions"].items()}


def country_table():
    """The base unit: UN WPP 2019's countries and areas, with ISO3 code and UN region."""
    e = pd.read_csv(RAW / "unwpp2019_countries.csv")
    df = pd.DataFrame({
        "code": e["iso3"], "name": e["name"], "m49": e["country"].astype(int),
        "un_region": e["geographic_region"].map(lambda x: UN_REGIONS[int(x)][0]),
        "source": "UNWPP2019",
    })
    return df.sort_values("code", kind="stable").reset_index(drop=True)


def region_groups(countries):
    """``region,member`` rows of the shipped groupings (members are countries or groups)."""
    codes = list(countries["code"])
    rows = [("EU27", m) for m in C["eu27"]]
    in_seven = set(C["eu27"]) | set(C["single_countries"])
    rows += [("ROW", m) for m in codes if m not in in_seven]
    rows += [("EFTA", m) for m in C["efta"]]
    rows += [("G7", m) for m in C["g7"]]
    for code, _name in UN_REGIONS.values():
        rows += [(code, m) for m in countries[countries.un_region == code]["code"]]
    rows += [("AMERICAS", "LATIN_AMERICA_CARIBBEAN"), ("AMERICAS", "NORTHERN_AMERICA")]
    df = pd.DataFrame(rows, columns=["region", "member"])
    groups = set(df["region"])
    bad = [m for m in df["member"] if m not in set(codes) and m not in groups]
    if bad:
        raise SystemExit(f"region members not in the country list: {bad}")
    return df


def region_names(countries):
    """``code,name,definition,source`` of every region (groups, the seven regions, WORLD)."""
    rows = [
        ("EU27", "European Union (27)", "EU member states since 2020 (excluding the United Kingdom)", C["eu27_source"]),
        ("ROW", "Rest of the world", "Every country except China, the EU27, the USA, Japan, Korea and India (includes the United Kingdom, Norway, Turkey, Canada, Brazil, Australia, Hong Kong, Taiwan, ...)", "URBANMINE_ASSUMPTIONS"),
        ("EFTA", "European Free Trade Association", "Iceland, Liechtenstein, Norway, Switzerland", C["efta_source"]),
        ("G7", "Group of Seven", "Canada, France, Germany, Italy, Japan, United Kingdom, United States", C["g7_source"]),
    ]
    for code, name in UN_REGIONS.values():
        rows.append((code, name, f"UN geographic region {name} (World Population Prospects 2019)", "UNWPP2019"))
    rows.append(("AMERICAS", "Americas", "Latin America and the Caribbean plus Northern America", "UNWPP2019"))
    rows.append(("WORLD", "World", "Every country (computed, not stored)", "UNWPP2019"))
    for code in C["single_countries"]:
        rows.append((code, countries.set_index("code").loc[code, "name"], "a country (one of the seven regions of urbanmine 0.1)", "UNWPP2019"))
    df = pd.DataFrame(rows, columns=["code", "name", "definition", "source"])
    # the regions '--region all' gives: the seven of 0.1 and WORLD, in their usual order
    order = {c: i + 1 for i, c in enumerate(C["all_regions"])}
    df.insert(3, "all_order", df["code"].map(order).fillna(0).astype(int))
    return df


def _held(table: pd.DataFrame) -> pd.DataFrame:
    """Country x year table reindexed to YEARS, each country's last (first) value held after (before)."""
    return table.reindex(columns=YEARS).ffill(axis=1).bfill(axis=1)


def split_keys(countries):
    """Keys that split a region's quantity over its members: ``key,country,year,value,unit``."""
    codes = countries.set_index("m49")["code"]
    region_of = countries.set_index("code")["un_region"]
    pop = pd.read_csv(RAW / "unwpp2019_population_1990_2060.csv")
    pop["code"] = pop["country"].map(codes)
    pop = pop.pivot_table(index="code", columns="time", values="population") * 1000.0  # thousand -> person
    pop = _held(pop.reindex(countries["code"]))
    g = pd.read_csv(RAW / "owid_worldbank_gdp_per_capita_ppp.csv")
    g = g.rename(columns={g.columns[3]: "gdp"}).dropna(subset=["Code"])
    gdppc = _held(g.pivot_table(index="Code", columns="Year", values="gdp").reindex(countries["code"]))
    med = gdppc.groupby(region_of.reindex(gdppc.index).to_numpy()).median()
    for code in gdppc.index[gdppc.isna().all(axis=1)]:
        gdppc.loc[code] = med.loc[region_of[code]]
    subs = pd.read_csv(RAW / "itu_gapminder_cell_phones_total.csv")
    subs["code"] = subs["geo"].str.upper()
    subs = subs.pivot_table(index="code", columns="time", values="cell_phones_total")
    subs = subs.reindex(columns=[y for y in subs.columns if y >= Y0])
    subs = _held(subs.reindex(countries["code"]))
    per_person = (subs.groupby(region_of.reindex(subs.index).to_numpy()).sum()
                  / pop[subs.notna().all(axis=1)].groupby(region_of[subs.notna().all(axis=1)].to_numpy()).sum())
    for code in subs.index[subs.isna().all(axis=1)]:
        subs.loc[code] = pop.loc[code] * per_person.loc[region_of[code]]
    frames = []
    for key, table, unit in (("population", pop, "person"),
                             ("gdp_ppp", gdppc * pop, "int$ (PPP, constant 2021)"),
                             ("mobile_subscriptions", subs, "subscription")):
        src = {"population": "UNWPP2019", "gdp_ppp": f"OWID_WB_GDPPC_PPP;UNWPP2019;{ASSUMED}",
               "mobile_subscriptions": f"ITU_GAPMINDER_CELL_PHONES;UNWPP2019;{ASSUMED}"}[key]
        wide = pd.DataFrame(_round(table.to_numpy()), index=table.index, columns=[str(y) for y in YEARS])
        wide.insert(0, "source", src)
        wide.insert(0, "unit", unit)
        wide.insert(0, "country", table.index)
        wide.insert(0, "key", key)
        frames.append(wide.reset_index(drop=True))
    return pd.concat(frames, ignore_index=True)


def _key_table(keys, key):
    t = keys[keys.key == key].set_index("country")[[str(y) for y in YEARS]]
    t.columns = YEARS
    return t.astype(float)


def split_region(region_values, members, own, key_table):
    """Values for the countries in ``own`` (country -> [year], NaN where it has no own value).

    In a year without an own value a country gets a key share of the region's remainder (the
    region's value minus the own values), as the members without rows do in the loader
    (:func:`urbanmine.inflows.country_inflows`), so that members always add up to the region.
    Returns country -> (values, has_own_value).
    """
    codes = list(own)
    own_mat = np.array([own[c] for c in codes]).reshape(len(codes), YEARS.size)
    have = ~np.isnan(own_mat)
    assigned = np.where(have, own_mat, 0.0).sum(axis=0)
    # where rounded country figures add up to more than the region's own total, the countries are
    # scaled down to it: the regional series stays the anchor
    scale = np.where(assigned > region_values, region_values / np.where(assigned > 0, assigned, 1.0), 1.0)
    own_mat = own_mat * scale
    rest = np.maximum(region_values - np.where(have, own_mat, 0.0).sum(axis=0), 0.0)
    k = key_table.reindex(members).to_numpy()
    open_ = np.ones(k.shape, bool)
    for i, c in enumerate(codes):
        open_[members.index(c)] = ~have[i]
    denom = np.where(open_, k, 0.0).sum(axis=0)
    out = {}
    for i, c in enumerate(codes):
        share = np.where(denom > 0, k[members.index(c)] / np.where(denom > 0, denom, 1.0), 0.0)
        out[c] = (np.where(have[i], own_mat[i], rest * share), have[i])
    return out


SK = A["split_keys"]
COUNTRIES = country_table()
GROUPS = region_groups(COUNTRIES)
MEMBERS = {g: list(df["member"]) for g, df in GROUPS.groupby("region", sort=False)}
GROUPED = {"EU27", "ROW"}  # the grouped regions among the seven whose inflows are split
KEYS_LONG = split_keys(COUNTRIES)
KEYS = {k: _key_table(KEYS_LONG, k) for k in ("population", "gdp_ppp", "mobile_subscriptions")}
REGS = Regions(countries=list(COUNTRIES["code"]), names=dict(zip(COUNTRIES["code"], COUNTRIES["name"])),
               groups=MEMBERS)
IEA_CODES = dict(pd.read_csv(RAW / "country_codes_iea.csv")[["name", "code"]].itertuples(index=False))


# ----------------------------------------------------------------------------- electric cars
def ev_inflows(rows: Rows):
    cfg = A["ev"]
    d25 = pd.read_csv(RAW / "iea_ev_data_explorer_2025.csv")
    d24 = pd.read_csv(RAW / "iea_global_ev_data_2024.csv")
    hist = d25[(d25.parameter == "EV sales") & (d25["mode"] == "Cars") & (d25.category == "Historical")]
    hist = hist.pivot_table(index=["region_country", "powertrain"], columns="year", values="value")
    h_years = np.arange(cfg["first_data_year"], int(hist.columns.max()) + 1)
    last_hist = int(h_years[-1])
    proj = d24[(d24.parameter == "EV sales") & (d24["mode"] == "Cars")]
    for seg in ("BEV", "PHEV"):
        world = hist.loc[("World", seg)].reindex(h_years).to_numpy()
        h = {}
        h_method = {}
        for r, name in IEA_NAMES.items():
            s = hist.loc[(name, seg)].reindex(h_years) if (name, seg) in hist.index else pd.Series(index=h_years, dtype=float)
            h_method[r] = np.where(s.isna(), "zero_assumed", "reported")
            h[r] = s.fillna(0.0).to_numpy()
        rest = world - sum(h.values())
        h["ROW"] = np.maximum(rest, 0.0)
        h_method["ROW"] = np.full(h_years.size, "derived_difference")
        europe_hist = hist.loc[("Europe", seg)].reindex(h_years).to_numpy()

        for sc in SCENARIOS:
            cat = cfg["projection_scenario"][sc]
            p = proj[(proj.category == cat) & (proj.powertrain == seg)]
            p = p.pivot_table(index="region", columns="year", values="value")
            anchors = {}
            for y in cfg["projection_years"]:
                col = p[y]
                world_p, europe = col["World"], col["Europe"]
                rest_iea = world_p - col["China"] - europe - col["USA"] - col["India"]
                rest_iea_2024 = world[-1] - h["CHN"][-1] - europe_hist[-1] - h["USA"][-1] - h["IND"][-1]
                jpn = rest_iea * h["JPN"][-1] / rest_iea_2024
                kor = rest_iea * h["KOR"][-1] / rest_iea_2024
                eu = europe * h["EU27"][-1] / europe_hist[-1]
                anchors[y] = {
                    "CHN": col["China"], "USA": col["USA"], "IND": col["India"], "EU27": eu,
                    "JPN": jpn, "KOR": kor, "ROW": rest_iea - jpn - kor + (europe - eu),
                }
            for r in REGIONS:
                values = np.zeros(YEARS.size)
                method = np.full(YEARS.size, cfg["before_first_year"], dtype=object)
                source = np.full(YEARS.size, ASSUMED, dtype=object)
                hi = np.searchsorted(YEARS, h_years)
                values[hi] = h[r]
                method[hi] = h_method[r]
                source[hi] = "IEA_GEVO2025_DATA"
                ax = [last_hist, *cfg["projection_years"]]
                ay = [h[r][-1], *(anchors[y][r] for y in cfg["projection_years"])]
                fut = YEARS > last_hist
                values[fut] = np.interp(YEARS[fut], ax, ay)
                method[fut] = "interpolated"
                source[fut] = "IEA_GEVO2025_DATA;IEA_GEVO2024_DATA"
                for y in cfg["projection_years"]:
                    i = y - Y0
                    method[i] = "reported" if r in ("CHN", "USA", "IND") else "derived_share"
                    source[i] = "IEA_GEVO2024_DATA"
                last = cfg["projection_years"][-1]
                _extend(values, method, source, last, "Electric vehicles", sc, "IEA_GEVO2024_DATA")
                values = _round(np.maximum(values, 0.0))
                EV_TOTAL[(sc, r)] = EV_TOTAL.get((sc, r), 0.0) + values
                group = r in GROUPED
                rows.add(sc, r, "ev_traction_motor", seg.lower(), "vehicle/yr", values, method, source,
                         SK["ev_key"] if group else "")
                if group:
                    _ev_country_rows(rows, sc, r, seg, values, hist, h_years, last_hist)


EV_TOTAL = {}  # (demand path, region) -> BEV + PHEV sales [vehicle/yr], filled by ev_inflows


def _total_cars(year):
    """Car sales of each region in ``year`` [vehicle/yr]: BEV + PHEV sales / the IEA's EV sales
    share (derived); ROW = World minus the six regions."""
    d = pd.read_csv(RAW / "iea_ev_data_explorer_2025.csv")
    h = d[(d["mode"] == "Cars") & (d.category == "Historical") & (d.year == year)]
    out = {}
    for r, name in {**IEA_NAMES, "World": "World"}.items():
        ev = h[(h.region_country == name) & (h.parameter == "EV sales") & h.powertrain.isin(["BEV", "PHEV"])].value.sum()
        share = h[(h.region_country == name) & (h.parameter == "EV sales share")].value.iloc[0] / 100.0
        out[r] = ev / share
    out["ROW"] = out.pop("World") - sum(out.values())
    return out


def hev_inflows(rows: Rows):
    """Full hybrids (segment ``hev``): anchors of data-raw/hev_sales.csv, then a constant share of
    the non-plug-in cars of each demand path (see [hev] in assumptions.toml)."""
    cfg = A["hev"]
    anchors = pd.read_csv(RAW / "hev_sales.csv")
    total = _total_cars(cfg["total_cars_year"])
    src_proj = f"HEV_SALES_COMPILED;IEA_GEVO2025_DATA;IEA_GEVO2024_DATA;{ASSUMED}"
    for r in REGIONS:
        a = anchors[anchors.region == r].sort_values("year")
        years = a.year.to_numpy(dtype=float)
        vals = a.vehicles.to_numpy(dtype=float)
        if r == "JPN":
            vals = np.where(years >= cfg["jpn_registered_from"], vals * cfg["jpn_registered_full_share"], vals)
        if r == "EU27":
            fs = cfg["eu27_full_share"]
            vals = vals * np.interp(years, fs["year"], fs["share"])
        for sc in SCENARIOS:
            ev = EV_TOTAL[(sc, r)]
            values = np.zeros(YEARS.size)
            method = np.full(YEARS.size, "zero_assumed", dtype=object)
            source = np.full(YEARS.size, ASSUMED, dtype=object)
            zero = cfg["zero_year"][r]
            if r == "ROW":
                sh = cfg["row_share"]
                last = int(sh["year"][-1])
                hist = (YEARS > zero) & (YEARS <= last)
                values[hist] = np.interp(YEARS[hist], sh["year"], sh["share"]) * np.maximum(total[r] - ev[hist], 0.0)
                method[hist] = "share_of_non_plug_in_cars"
                source[hist] = f"IEA_GEVO2025_DATA;{ASSUMED}"
            else:
                last = int(years[-1])
                hist = (YEARS > zero) & (YEARS <= last)
                values[hist] = np.interp(YEARS[hist], np.concatenate([[zero], years]), np.concatenate([[0.0], vals]))
                at = np.isin(YEARS, years)
                method[hist] = np.where(at[hist], "reported", "interpolated")
                source[hist] = np.where(at[hist], "HEV_SALES_COMPILED", f"HEV_SALES_COMPILED;{ASSUMED}")
                if r == "EU27":
                    method[hist] = [f"{m}+full_share" for m in method[hist]]
                    source[hist] = [f"{s};INOVEV_HYBRIDS" for s in source[hist]]
            i_last = int(np.searchsorted(YEARS, last))
            h = values[i_last] / max(total[r] - ev[i_last], 1.0)
            fut = YEARS > last
            values[fut] = h * np.maximum(total[r] - ev[fut], 0.0)
            method[fut] = "share_of_non_plug_in_cars_held"
            source[fut] = src_proj
            group = r in GROUPED
            rows.add(sc, r, "ev_traction_motor", "hev", "vehicle/yr", _round(values), method, source,
                     SK["ev_key"] if group else "")


def _iea_trajectory(sector: str, demand: str):
    """Anchor years and values of the IEA's magnet rare-earth demand of ``sector`` under the
    scenario of a demand path (GCMO 2024 data, data-raw/iea_gcmo2024_magnet_ree.csv) [kt]."""
    t = pd.read_csv(RAW / "iea_gcmo2024_magnet_ree.csv")
    scen = A["extension"]["iea_scenario"][demand]
    t = t[(t.scenario == scen) & (t.quantity == f"magnet REE demand (Nd+Pr+Dy+Tb): {sector}")].sort_values("year")
    return t.year.to_numpy(dtype=float), t.value.to_numpy(dtype=float)


def _extend(values, method, source, last, sector, demand, last_source):
    """After the last projected year, scale by the IEA's magnet rare-earth demand of the sector
    relative to that year (linear between its five-year anchors), held after its last year."""
    years, demand_kt = _iea_trajectory(sector, demand)
    base = values[YEARS == last][0]
    after = YEARS > last
    ratio = np.interp(YEARS[after], years, demand_kt) / np.interp(last, years, demand_kt)
    values[after] = base * ratio
    scaled = after & (YEARS <= years[-1])
    method[scaled] = "scaled_iea_gcmo2024"
    source[scaled] = f"{last_source};IEA_GCMO2024_DATA"
    held = YEARS > years[-1]
    method[held] = "held_constant"
    source[held] = f"{last_source};IEA_GCMO2024_DATA;{ASSUMED}"


def _ev_country_rows(rows, sc, region, seg, values, hist, h_years, last_hist):
    """Rows for the IEA-reported countries of a grouped region; the rest is split by the key."""
    members = MEMBERS[region]
    own = {}
    hi = np.searchsorted(YEARS, h_years)
    for name, code in IEA_CODES.items():
        if code not in members or (name, seg) not in hist.index:
            continue
        v = np.full(YEARS.size, np.nan)
        v[hi] = hist.loc[(name, seg)].reindex(h_years).to_numpy()
        last = v[YEARS == last_hist][0]
        region_last = values[YEARS == last_hist][0]
        fut = YEARS > last_hist
        if not np.isnan(last) and region_last > 0:
            v[fut] = values[fut] * last / region_last
        own[code] = v
    split = split_region(values, members, own, KEYS[SK["ev_key"]])
    for code, (v, is_own) in split.items():
        method = np.where(~is_own, "key_share", np.where(YEARS > last_hist, "derived_share_of_region", "reported"))
        source = np.where(~is_own, f"IEA_GEVO2025_DATA;UNWPP2019;OWID_WB_GDPPC_PPP;{ASSUMED}",
                          np.where(YEARS > last_hist, f"IEA_GEVO2025_DATA;IEA_GEVO2024_DATA;{ASSUMED}",
                                   "IEA_GEVO2025_DATA"))
        rows.add(sc, code, "ev_traction_motor", seg.lower(), "vehicle/yr", _round(np.maximum(v, 0.0)),
                 method.astype(object), source.astype(object))


# ----------------------------------------------------------------------------- wind
def _interp_anchor(anchor_years, anchor_values):
    return np.interp(YEARS, anchor_years, anchor_values)


def _wind_lifetimes(profile, codes) -> Weibull:
    """The central lifetime of each of ``codes`` (countries or regions; its own if the profile
    has one, see product_profiles/README.md), as one Weibull with parameters ``[code, 1]``."""
    models = [profile.lifetime_model("central", region=c, regions=REGS) for c in codes]
    assert all(isinstance(m, Weibull) for m in models)
    return Weibull(shape=np.array([float(m.params["shape"]) for m in models])[:, None],
                   scale=np.array([float(m.params["scale"]) for m in models])[:, None])


def wind_inflows(rows: Rows):
    cfg = A["wind"]
    raw = pd.read_csv(RAW / "owid_irena2024_wind_capacity_gw.csv")
    raw = raw.rename(columns={raw.columns[-1]: "gw"})
    cap = {}
    for r, ent in IRENA_NAMES.items():
        s = raw[raw.Entity == ent].set_index("Year")["gw"] * 1000.0  # MW
        cap[r] = s
    irena_years = np.arange(int(cap["World"].index.min()), int(cap["World"].index.max()) + 1)
    stock = {r: cap[r].reindex(irena_years).fillna(0.0).to_numpy() for r in cap}
    stock["ROW"] = np.maximum(stock["World"] - sum(stock[r] for r in IEA_NAMES), 0.0)
    # back-cast to the first model year
    back_years = np.arange(Y0, irena_years[0])
    full_years = np.arange(Y0, irena_years[-1] + 1)
    stocks = np.zeros((len(REGIONS), full_years.size))
    for i, r in enumerate(REGIONS):
        s0, s5 = stock[r][0], stock[r][5]
        g = np.log(s5 / s0) / 5.0 if s0 > 0 and s5 > 0 else 0.0
        stocks[i, : back_years.size] = s0 * np.exp(-g * (irena_years[0] - back_years)) if s0 > 0 else 0.0
        stocks[i, back_years.size :] = stock[r]
    profile = load_profile(ROOT / "product_profiles" / "wind_turbine.toml")
    profile.check_regions(REGS)
    res = stock_driven(stocks, _wind_lifetimes(profile, REGIONS), "middle", negative_inflow="retire_early")
    gross_hist = res.inflow  # [region, year] for Y0 .. last IRENA year
    n_hist = full_years.size
    # the same for every country with its own IRENA series (the shares of the grouped regions)
    by_code = raw.dropna(subset=["Code"]).pivot_table(index="Code", columns="Year", values="gw") * 1000.0
    by_code = by_code.reindex(columns=irena_years).fillna(0.0)
    by_code = by_code[by_code.index.isin(set(COUNTRIES["code"]))]
    cstock = np.zeros((len(by_code), full_years.size))
    s0, s5 = by_code[irena_years[0]].to_numpy(), by_code[irena_years[5]].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        gc = np.where((s0 > 0) & (s5 > 0), np.log(s5 / np.where(s0 > 0, s0, 1)) / 5.0, 0.0)
    cstock[:, : back_years.size] = np.where(s0[:, None] > 0, s0[:, None] * np.exp(-gc[:, None] * (irena_years[0] - back_years)), 0.0)
    cstock[:, back_years.size :] = by_code.to_numpy()
    cgross = stock_driven(cstock, _wind_lifetimes(profile, list(by_code.index)), "middle",
                          negative_inflow="retire_early").inflow
    country_gross = dict(zip(by_code.index, cgross))
    big = set(by_code.index[by_code[irena_years[-1]] >= SK["wind_min_country_mw"]])

    # 2024 reported installations
    y24 = irena_years[-1] + 1
    rep = cfg["gross_2024_mw"]
    g24 = {}
    recent = slice(n_hist - 5, n_hist)  # 2019-2023
    for i, r in enumerate(REGIONS):
        if r in rep:
            g24[r] = rep[r]
        elif r in ("JPN", "KOR"):
            g24[r] = gross_hist[i, recent].mean()
    g24["ROW"] = rep["World"] - sum(v for k, v in g24.items() if k != "ROW")

    # projections 2025-2030
    t = np.arange(y24 + 1, 2031)
    world_stated = rep["World"] * (1 + cfg["world_cagr_2024_2030"]) ** (t - y24)
    eu_total = cfg["eu27_additions_2024_2030_mw"] - rep["EU27"]  # 2025-2030
    k = t - y24
    d = (eu_total - rep["EU27"] * k.size) / k.sum()
    eu_stated = rep["EU27"] + d * k
    others = [r for r in REGIONS if r != "EU27"]
    idx = {r: i for i, r in enumerate(REGIONS)}
    recent_sum = {r: gross_hist[idx[r], recent].sum() for r in others}
    tot = sum(recent_sum.values())
    share = {r: recent_sum[r] / tot for r in others}
    uplift = {
        "stated": 1.0,
        "accelerated": (eu_total + cfg["eu27_target_2030_mw"] - cfg["eu27_expected_2030_mw"]) / eu_total,
    }
    for sc in SCENARIOS:
        proj = {"EU27": eu_stated * uplift[sc]}
        for r in others:
            proj[r] = (world_stated - eu_stated) * share[r] * uplift[sc]
        for r in REGIONS:
            i = idx[r]
            total = np.zeros(YEARS.size)
            method = np.empty(YEARS.size, dtype=object)
            source = np.empty(YEARS.size, dtype=object)
            total[:n_hist] = gross_hist[i]
            method[: back_years.size] = "backcast+derived_stock_driven"
            source[: back_years.size] = f"OWID_IRENA2024_WIND;{ASSUMED}"
            method[back_years.size : n_hist] = "derived_stock_driven"
            source[back_years.size : n_hist] = "OWID_IRENA2024_WIND"
            j = n_hist
            total[j] = g24[r]
            method[j] = "reported" if r in rep else ("derived_mean" if r != "ROW" else "derived_difference")
            source[j] = cfg["gross_2024_source"].get(r, "GWEC_GWR2025_AA;OWID_IRENA2024_WIND")
            sl = slice(j + 1, j + 1 + t.size)
            total[sl] = proj[r]
            method[sl] = "growth_rate" if sc == "stated" else "growth_rate+scaled"
            src = "WINDEUROPE_2023_EVWIND" if r == "EU27" else "GWEC_GWR2025_SOLARVISION;WINDEUROPE_2023_EVWIND"
            source[sl] = src if sc == "stated" else f"{src};WINDEUROPE_H1_2024;{ASSUMED}"
            _extend(total, method, source, 2030, "Wind", sc, source[YEARS == 2030][0])
            osh = A["wind"]["offshore_share"][r]
            off = _interp_anchor(osh["year"], osh["share"])
            osrc = ";".join(osh["source"])
            group = r in GROUPED
            own = {}
            if group:
                members = MEMBERS[r]
                in_region = [c for c in members if c in country_gross]
                hist_sum = sum(country_gross[c] for c in in_region)
                with np.errstate(divide="ignore", invalid="ignore"):
                    scale = np.where(hist_sum > 0, total[:n_hist] / np.where(hist_sum > 0, hist_sum, 1.0), 0.0)
                recent_all = sum(country_gross[c][recent].sum() for c in in_region)
                for c in sorted(set(in_region) & big):
                    v = np.zeros(YEARS.size)
                    v[:n_hist] = country_gross[c] * scale
                    v[n_hist:] = total[n_hist:] * country_gross[c][recent].sum() / recent_all
                    own[c] = v
            for seg, part in (("onshore", 1.0 - off), ("offshore", off)):
                m = np.array([f"{x}+offshore_share" for x in method], dtype=object)
                s = np.array([f"{x};{osrc}" for x in source], dtype=object)
                values = _round(total * part)
                rows.add(sc, r, "wind_turbine", seg, "MW/yr", values, m, s, SK["wind_key"] if group else "")
                if not group:
                    continue
                split = split_region(values, MEMBERS[r], {c: v * part for c, v in own.items()}, KEYS[SK["wind_key"]])
                for c, (v, _) in split.items():
                    cm = np.where(YEARS < y24, "derived_stock_driven_scaled_to_region", "derived_share_of_region_2019_2023")
                    cm = np.array([f"{x}+region_offshore_share" for x in cm], dtype=object)
                    cs = np.array([f"OWID_IRENA2024_WIND;{x};{osrc};{ASSUMED}" for x in source], dtype=object)
                    rows.add(sc, c, "wind_turbine", seg, "MW/yr", _round(v), cm, cs)


# ----------------------------------------------------------------------------- used exports
def used_exports():
    """``data/used_exports.csv``: the share of an exporter's products leaving use that is exported
    used, by destination and year (see [exports] in assumptions.toml)."""
    rows = []
    for exporter, products in A["exports"].items():
        for product, cfg in products.items():
            share = np.interp(YEARS, cfg["share"]["year"], cfg["share"]["share"])
            parts = {d: n / cfg["destinations_total"] for d, n in cfg["destinations"].items()}
            parts[cfg["rest"]] = 1.0 - sum(parts.values())
            for dest, part in parts.items():
                key = cfg["rest_split_key"] if dest == cfg["rest"] else "population"
                method = "derived_share+destination_share" if dest != cfg["rest"] else "derived_share+rest_by_key"
                for y, v in zip(YEARS, share):
                    rows.append((exporter, product, int(y), float(_round(v * part)), dest, key, method,
                                 f"{cfg['source']};{ASSUMED}"))
    return pd.DataFrame(rows, columns=["exporter", "product", "year", "share", "destination", "split_key",
                                       "method", "source"])


# ----------------------------------------------------------------------------- US drivetrains
DRIVETRAINS = ["DD-PMSG", "MS-PMSG", "HS-PMSG", "DFIG", "SCIG", "WRIG", "EESG", "unknown"]
US_PERIODS = [(1990, 2005), (2006, 2010), (2011, 2016)]


def wind_drivetrains_usa():
    """Shares of US wind capacity by drivetrain and period of operating year (EIA-860 2016).

    Each generator's predominant turbine model is matched (first matching pattern, case
    insensitive, against 'manufacturer|model') to a family of data-raw/wind_model_drivetrains.csv.
    ``share_unsourced`` is the share of the period's MW classified without a readable source.
    """
    import re

    eia = pd.read_csv(RAW / "eia860_3_2_wind_y2016.csv", skiprows=1)
    mw = pd.to_numeric(eia["Nameplate Capacity (MW)"], errors="coerce").fillna(0.0)
    year = pd.to_numeric(eia["Operating Year"], errors="coerce")
    key = (eia["Predominant Turbine Manufacturer"].fillna("").str.strip() + "|"
           + eia["Predominant Turbine Model Number"].fillna("").astype(str).str.strip())
    table = pd.read_csv(RAW / "wind_model_drivetrains.csv", keep_default_na=False)
    patterns = [(re.compile(r.eia_pattern, re.I), r.drivetrain, r.sourced.startswith(("yes", "partial")))
                for r in table.itertuples() if r.eia_pattern]

    def classify(k):
        for rx, drive, sourced in patterns:
            if rx.search(k):
                return drive, sourced
        return "unknown", False

    cls = key.map(classify)
    drive = cls.map(lambda t: t[0])
    sourced = cls.map(lambda t: t[1])
    bad = sorted(set(drive) - set(DRIVETRAINS))
    if bad:
        raise SystemExit(f"data-raw/wind_model_drivetrains.csv: unknown drivetrain {bad}; expected {DRIVETRAINS}")
    rows = []
    for y0, y1 in US_PERIODS:
        sel = (year >= y0) & (year <= y1)
        total = float(mw[sel].sum())
        for d in DRIVETRAINS:
            m = float(mw[sel & (drive == d)].sum())
            rows.append((f"{y0}-{y1}", y0, y1, d, float(_round(m)), float(_round(m / total)),
                         float(_round(float(mw[sel & (drive == d) & ~sourced].sum()) / total)),
                         "EIA860_2016;EIA860_MODELS"))
    return pd.DataFrame(rows, columns=["period", "first_year", "last_year", "drivetrain", "mw", "share",
                                       "share_unsourced", "source"])


# ----------------------------------------------------------------------------- smartphones
def smartphone_inflows(rows: Rows):
    cfg = A["smartphone"]
    anc = pd.read_csv(RAW / "anchors_smartphones.csv")
    ay, av = anc.year.to_numpy(), anc.value.to_numpy() * 1e6
    world = np.zeros(YEARS.size)
    method = np.full(YEARS.size, "zero_assumed", dtype=object)
    source = np.full(YEARS.size, ASSUMED, dtype=object)
    ramp = (YEARS >= cfg["ramp_start_year"]) & (YEARS < ay[0])
    world[ramp] = np.interp(YEARS[ramp], [cfg["ramp_start_year"], ay[0]], [0.0, av[0]])
    method[ramp] = "backcast"
    span = (YEARS >= ay[0]) & (YEARS <= ay[-1])
    world[span] = np.interp(YEARS[span], ay, av)
    src_by_year = dict(zip(ay, anc.source))
    for i in np.nonzero(span)[0]:
        y = YEARS[i]
        if y in src_by_year:
            method[i], source[i] = "reported", src_by_year[y]
        else:
            method[i], source[i] = "interpolated", ";".join(sorted({src_by_year[ay[ay < y][-1]], src_by_year[ay[ay > y][0]]}))
    y_start, y_end = cfg["forecast_cagr_years"]
    fc = (YEARS > y_start) & (YEARS <= y_end)
    world[fc] = av[-1] * (1 + cfg["forecast_cagr"]) ** (YEARS[fc] - y_start)
    method[fc] = "growth_rate"
    source[fc] = cfg["forecast_source"]
    after = YEARS > y_end
    world[after] = world[YEARS == y_end][0]
    method[after] = "held_constant"
    source[after] = ASSUMED
    shares = {r: v["share"] for r, v in cfg["regional_share"].items()}
    shares["ROW"] = 1.0 - sum(shares.values())
    for sc in SCENARIOS:
        for r in REGIONS:
            srcs = cfg["regional_share"][r]["source"] if r in cfg["regional_share"] else [ASSUMED]
            s = np.array([f"{x};{';'.join(srcs)}" for x in source], dtype=object)
            m = np.array([f"{x}+regional_share" for x in method], dtype=object)
            rows.add(sc, r, "smartphone", "all", "device/yr", _round(world * shares[r]), m, s,
                     SK["smartphone_key"] if r in GROUPED else "")


# ----------------------------------------------------------------------------- collection
OWID_GDP_NAMES = {
    "CHN": "China", "EU27": "European Union (27)", "USA": "United States", "JPN": "Japan",
    "KOR": "South Korea", "IND": "India", "World": "World",
    "AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "CY": "Cyprus", "CZ": "Czechia",
    "DE": "Germany", "DK": "Denmark", "EE": "Estonia", "EL": "Greece", "ES": "Spain",
    "FI": "Finland", "FR": "France", "HR": "Croatia", "HU": "Hungary", "IE": "Ireland",
    "IT": "Italy", "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia", "MT": "Malta",
    "NL": "Netherlands", "PL": "Poland", "PT": "Portugal", "RO": "Romania", "SE": "Sweden",
    "SI": "Slovenia", "SK": "Slovakia", "NO": "Norway", "IS": "Iceland", "UK": "United Kingdom",
}
GDP_UNIT = "int$/person (PPP, constant 2021)"


def regressors():
    """GDP per capita: history for every observed and target region, projections for targets."""
    g = pd.read_csv(RAW / "owid_worldbank_gdp_per_capita_ppp.csv")
    g = g.rename(columns={g.columns[3]: "gdp"})
    hist = {code: g[g.Entity == name].set_index("Year")["gdp"] for code, name in OWID_GDP_NAMES.items()}
    frames = []
    world = hist["World"]
    g_world = (world[2024] / world[2014]) ** 0.1 - 1
    for r in REGIONS:
        s = hist["World" if r == "ROW" else r]
        last = int(s.index.max())
        vals = np.zeros(YEARS.size)
        method = np.empty(YEARS.size, dtype=object)
        source = np.empty(YEARS.size, dtype=object)
        h = YEARS <= last
        vals[h] = s.reindex(YEARS[h]).to_numpy()
        method[h] = "reported" if r != "ROW" else "proxy_world"
        source[h] = "OWID_WB_GDPPC_PPP" if r != "ROW" else f"OWID_WB_GDPPC_PPP;{ASSUMED}"
        g_r = (s[2024] / s[2014]) ** 0.1 - 1
        fut = YEARS[~h]
        frac = np.clip((fut - (last + 1)) / (Y1 - (last + 1)), 0, 1)
        rates = g_r + (g_world - g_r) * frac
        vals[~h] = s[last] * np.cumprod(1 + rates)
        method[~h] = "growth_rate_converging"
        source[~h] = f"OWID_WB_GDPPC_PPP;{ASSUMED}"
        if np.isnan(vals).any():
            raise SystemExit(f"GDP history incomplete for {r}")
        frames.append(pd.DataFrame({"region": r, "year": YEARS, "gdp_per_capita_ppp": _round(vals),
                                    "unit": GDP_UNIT, "method": method, "source": source}))
    frames.append(_country_gdp(g, g_world, set(REGIONS)))
    df = pd.concat(frames, ignore_index=True)
    df["gdp_per_capita_ppp"] = _round(df["gdp_per_capita_ppp"].to_numpy())
    return df.sort_values(["region", "year"], kind="stable")


def _country_gdp(g, g_world, skip):
    """GDP per capita of every country (ISO3), 1990-2060, for the country-level projections.

    History from the World Bank (via OWID); a country without any figure takes the median of its
    UN region (assumption); after the last year the growth of the country's last decade converges
    linearly to the world's by 2060 (as for the regions).
    """
    table = g.dropna(subset=["Code"]).pivot_table(index="Code", columns="Year", values="gdp")
    table = table.reindex(COUNTRIES["code"])
    region_of = COUNTRIES.set_index("code")["un_region"]
    med = table.groupby(region_of.reindex(table.index).to_numpy()).median()
    rows = []
    for code in COUNTRIES["code"]:
        if code in skip:
            continue
        s = table.loc[code].dropna()
        own = not s.empty
        if not own:
            s = med.loc[region_of[code]].dropna()
        last = int(s.index.max())
        first = int(s.index.min())
        hist = s.reindex(np.arange(first, last + 1)).interpolate()
        vals = np.empty(YEARS.size)
        h = YEARS <= last
        vals[h] = hist.reindex(YEARS[h]).bfill().to_numpy()  # before the first figure: held
        span = min(10, last - first)
        g_r = (hist[last] / hist[last - span]) ** (1 / span) - 1 if span > 0 else g_world
        fut = YEARS[~h]
        frac = np.clip((fut - (last + 1)) / (Y1 - (last + 1)), 0, 1)
        vals[~h] = hist[last] * np.cumprod(1 + (g_r + (g_world - g_r) * frac))
        method = np.where(h, "reported" if own else "proxy_region_median", "growth_rate_converging")
        source = np.where(h & own, "OWID_WB_GDPPC_PPP", f"OWID_WB_GDPPC_PPP;{ASSUMED}")
        rows.append(pd.DataFrame({"region": code, "year": YEARS, "gdp_per_capita_ppp": _round(vals),
                                  "unit": GDP_UNIT, "method": method, "source": source}))
    return pd.concat(rows, ignore_index=True)


def policy_years():
    cfg = A["collection"]
    rows = []
    for r, cats in cfg["policy"].items():
        for cat, v in cats.items():
            year = "" if v["year"] == "none" else int(v["year"])
            rows.append((r, cat, year, v["instrument"], ";".join(v["source"])))
    # every country (ISO3) for the country-level projections: inherited from its 0.1 region,
    # except the EEA states and the United Kingdom outside the EU, which had the WEEE and ELV
    # Directives (assumption until country-coded law years are compiled)
    by_region = {(r, cat): (row[2], row[3], row[4]) for row in rows for r, cat in [(row[0], row[1])]}
    eea = dict(pd.read_csv(RAW / "country_codes_eurostat.csv")[["code", "name"]].itertuples(index=False))
    coded = _country_law_years()
    for code in COUNTRIES["code"]:
        if code in REGIONS:
            continue
        home = "EU27" if code in MEMBERS["EU27"] or code in eea else "ROW"
        for cat in CATEGORIES_FIT:
            if (code, cat) in coded:
                rows.append((code, cat, *coded[(code, cat)]))
                continue
            base = "small_electronics" if cat == "mobile_phones" else cat
            year, instrument, source = by_region[(home, base)]
            note = f"as {home} (inherited" + (", EEA/UK under the EU Directives" if home == "EU27" and code not in MEMBERS["EU27"] else "") + ")"
            rows.append((code, cat, year, f"{note}: {instrument}", f"{source};{ASSUMED}"))
    for r in REGIONS:  # phones follow the small-electronics law of the seven regions
        year, instrument, source = by_region[(r, "small_electronics")]
        rows.append((r, "mobile_phones", year, instrument, source))
    return pd.DataFrame(rows, columns=["region", "category", "year", "instrument", "source"])


CATEGORIES_FIT = ("weee_all", "small_electronics", "mobile_phones", "vehicles")


def _country_law_years():
    """Country-coded take-back law years (``data-raw/law_years.csv``, compiled with a citation and
    URL per row; see ``data-raw/law_years_notes.md``).

    Only an obligation in force nationally counts as a law (``status = in_force``); sub-national
    programmes (USA, Canada, Bosnia's Federation), framework laws without EEE obligations in force
    (Chile, Ukraine), instruments on paper only (Jordan, Rwanda, Cameroon) and policies count as
    none, with their status stated. A country's WEEE law also covers small electronics and phones
    unless a row of their own says otherwise.
    """
    path = RAW / "law_years.csv"
    if not path.exists():
        return {}
    d = pd.read_csv(path, dtype=str, keep_default_na=False)
    out = {}
    for r in d.itertuples(index=False):
        counts = r.status == "in_force" and r.year
        year = int(r.year) if counts else ""
        check = "" if r.verified == "yes" else "; UNVERIFIED"
        what = f"{r.instrument} [status {r.status}{check}; {r.source_citation}; {r.source_url}]"
        src = "LAW_YEARS_COMPILED" if r.verified == "yes" else f"LAW_YEARS_COMPILED;{ASSUMED}"
        out[(r.iso3, r.category)] = (year, what, src)
    for (code, cat), v in list(out.items()):
        if cat == "weee_all":
            for sub in ("small_electronics", "mobile_phones"):
                out.setdefault((code, sub), (v[0], f"as weee_all: {v[1]}", v[2]))
    return out


def _read_waselee():
    raw = pd.read_csv(RAW / "eurostat_env_waselee_dl2020.tsv", sep="\t", dtype=str)
    key = raw.columns[0]
    parts = raw[key].str.split(",", expand=True)
    parts.columns = ["waste", "wst_oper", "unit", "geo"]
    raw = pd.concat([parts, raw.drop(columns=[key])], axis=1)
    long = raw.melt(id_vars=["waste", "wst_oper", "unit", "geo"], var_name="year", value_name="raw")
    long["year"] = long["year"].str.strip().astype(int)
    long["raw"] = long["raw"].str.strip()
    long["value"] = pd.to_numeric(long["raw"].str.replace(r"[a-z\s:]+$", "", regex=True), errors="coerce")
    return long.dropna(subset=["value"])


def collection_observations(gdp):
    cfg = A["collection"]
    d = _read_waselee()
    rows = []
    have_gdp = set(zip(gdp.region, gdp.year))

    def add(region, year, cat, rate, method, source, use=1, reason="", definition="generated"):
        if use and rate > 1:
            use, reason = 0, cfg["exclude_above_one_reason"]
        if use and (region, year) not in have_gdp:
            use, reason = 0, cfg["exclude_no_gdp_reason"]
        rows.append((region, int(year), cat, round(float(rate), 6), 1.0, use, reason, method, source, definition))

    src = "EUROSTAT_ENV_WASELEE_2020DL"
    iso = dict(pd.read_csv(RAW / "country_codes_eurostat.csv")[["name", "code"]].itertuples(index=False))
    d = d.assign(geo=d.geo.map(lambda g: iso.get(g, g)))
    panel = [iso[c] for c in cfg["eu_panel"]]
    col = d[(d.waste == "TOTAL") & (d.wst_oper == "COL") & (d.unit == "AVG_3Y") & (d.year >= cfg["panel_first_year"])]
    for r in col.itertuples():
        if r.geo in ("EU27_2020", "EU28"):
            add(r.geo, r.year, "weee_all", r.value / 100, "reported", src, 0, cfg["exclude_aggregate_reason"])
        elif r.geo in panel or r.geo == "LIE":
            add(r.geo, r.year, "weee_all", r.value / 100, "reported", src, definition="pom_3y")
    itt = d[(d.waste == "EE_ITT") & (d.unit == "T") & d.wst_oper.isin(["COL", "MKT"])]
    piv = itt.pivot_table(index=["geo", "year"], columns="wst_oper", values="value")
    for (geo, year), v in piv.iterrows():
        if year < cfg["panel_first_year"] or pd.isna(v.get("COL")):
            continue
        prev = [piv["MKT"].get((geo, year - k)) for k in (1, 2, 3)]
        if any(p is None or pd.isna(p) for p in prev) or sum(prev) <= 0:
            continue
        rate = v["COL"] / (sum(prev) / 3)
        method = "derived_collected_over_avg_pom_3y"
        if geo in ("EU27_2020", "EU28"):
            add(geo, year, "small_electronics", rate, method, src, 0, cfg["exclude_aggregate_reason"])
        elif geo in panel or geo == "LIE":
            add(geo, year, "small_electronics", rate, method, src, definition="pom_3y")
    man = pd.read_csv(RAW / "anchors_collection.csv")
    eu = man[(man.region == "EU27") & (man.metric == "collection_rate_pct_of_avg_POM_3y")]
    for r in eu.itertuples():
        add("EU27", r.year, "weee_all", r.value / 100, "reported", r.source, definition="pom_3y")
    elv = man[(man.metric == "documented_collection_share")]
    for r in elv.itertuples():
        add(r.region, r.year, "vehicles", r.value / 100, "derived_treated_over_deregistered", r.source)
    gem = man[(man.metric == "documented_collection_recycling_rate") & man.year.notna()]
    for r in gem.itertuples():
        cat = "small_electronics" if "small" in r.product else "weee_all"
        add(r.region, r.year, cat, r.value / 100, "reported" if r.derived == 0 else "derived", r.source,
            0, cfg["exclude_gem_reason"])
    ic = cfg["india_case_study"]
    add(ic["region"], ic["year"], ic["category"], ic["rate"], "derived_midpoint_case_study", ic["source"], 0,
        cfg["superseded_reason"])
    # UN SDG 12.5.1 (2020 release, from the Global E-waste Monitor 2020): documented formally
    # collected and recycled / generated, by country
    rcy = pd.read_csv(RAW / "unsdg2020_en_ewt_rcyv.csv")
    gen = pd.read_csv(RAW / "unsdg2020_en_ewt_genv.csv")
    m = rcy.merge(gen, on=["geo_area", "year"])
    codes = COUNTRIES.set_index("m49")["code"]
    m = m[m.geo_area.isin(codes.index)].sort_values(["geo_area", "year"])
    m["code"] = m.geo_area.map(codes)
    repeated = m.groupby("geo_area")["en_ewt_rcyv"].diff() == 0
    for r, rep in zip(m.itertuples(), repeated):
        if rep:
            add(r.code, r.year, "weee_all", r.en_ewt_rcyv / r.en_ewt_genv, "derived_recycled_over_generated",
                "UNSDG_EWASTE_2020", 0, cfg["sdg_repeated_reason"])
        else:
            add(r.code, r.year, "weee_all", r.en_ewt_rcyv / r.en_ewt_genv, "derived_recycled_over_generated",
                "UNSDG_EWASTE_2020")
    # India's official figures: collected and processed / generated (CPCB estimate), by fiscal year
    for ind in cfg["india_cpcb"]:
        add("IND", ind["year"], "weee_all", ind["collected_t"] / ind["generated_t"], "derived_collected_over_generated",
            ind["source"])
    # mobile phones: the only phone-specific rates found
    for ph in cfg["phones"]:
        add(ph["region"], ph["year"], "mobile_phones", ph["rate"], ph["method"], ph["source"], ph.get("use", 1),
            ph.get("reason", ""))
    df = pd.DataFrame(rows, columns=["region", "year", "category", "rate", "weight", "use", "exclusion_reason",
                                     "method", "source", "definition"])
    n_used = df[df.use == 1].groupby("region").size()
    df["weight"] = np.where(df.use == 1, 1.0 / df.region.map(n_used).fillna(1.0), 0.0).round(6)
    df.insert(4, "unit", "1")
    return df.sort_values(["category", "region", "year"], kind="stable")


# ----------------------------------------------------------------------------- assemble
def build() -> dict[str, str]:
    rows = Rows()
    smartphone_inflows(rows)
    ev_inflows(rows)
    hev_inflows(rows)
    wind_inflows(rows)
    inflows = rows.frame()
    inflows["source"] = inflows["source"].map(lambda s: ";".join(dict.fromkeys(s.split(";"))))
    inflows = inflows.sort_values(["demand", "region", "product", "segment", "year"], kind="stable")
    used = sorted({k for s in inflows["source"] for k in s.split(";")})
    sources = pd.read_csv(RAW / "sources.csv")
    missing = sorted(set(used) - set(sources["source"]))
    if missing:
        raise SystemExit(f"source keys used but not in data-raw/sources.csv: {missing}")
    us_drive = wind_drivetrains_usa()
    exports = used_exports()
    gdp = regressors()
    observations = collection_observations(gdp)
    policy = policy_years()
    for df in (gdp, observations, policy, COUNTRIES, KEYS_LONG, us_drive, exports):
        used += sorted({k for s in df["source"] for k in s.split(";")})
    missing = sorted(set(used) - set(sources["source"]))
    if missing:
        raise SystemExit(f"source keys used but not in data-raw/sources.csv: {missing}")
    regions = region_names(COUNTRIES)
    demand_paths = pd.DataFrame(
        [(k, v["description"]) for k, v in A["scenarios"].items()], columns=["demand", "description"]
    )
    out = {}
    for name, df in (("inflows.csv", inflows), ("regions.csv", regions),
                     ("demand_paths.csv", demand_paths), ("sources.csv", sources),
                     ("countries.csv", COUNTRIES), ("region_groups.csv", GROUPS),
                     ("split_keys.csv", KEYS_LONG),
                     ("regressors.csv", gdp), ("collection_observations.csv", observations),
                     ("policy_years.csv", policy), ("wind_drivetrains_usa.csv", us_drive),
                     ("used_exports.csv", exports)):
        buf = io.StringIO()
        df.to_csv(buf, index=False, lineterminator="\n", float_format="%.6g")
        out[name] = buf.getvalue()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with data/ instead of writing")
    args = ap.parse_args(argv)
    files = build()
    if args.check:
        bad = [n for n, text in files.items()
               if not (OUT / n).exists() or (OUT / n).read_text(encoding="utf-8") != text]
        for n in bad:
            print(f"data/{n} differs from a rebuild", file=sys.stderr)
        return 1 if bad else 0
    OUT.mkdir(exist_ok=True)
    for n, text in files.items():
        (OUT / n).write_text(text, encoding="utf-8")
        print(f"data/{n}: {text.count(chr(10)) - 1} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
