r"""The estimate: profiles -> inflows -> stocks -> collection -> recovery, by scenario, as a table.

This is the only module that knows the order of the steps; the steps themselves are the public
functions of :mod:`urbanmine.pipeline`, over arrays with named dimensions (xarray). Everything is
computed per country (the base unit) and summed into the asked regions. For every scenario
:math:`s`, product, country, element (cohort year :math:`c`, calendar year :math:`t`)::

    sales[r, e, c]        = sum_k inflow[r, seg(k), c] * share[s, r, k, c] * magnet[k, c] * fraction[k, e, c]   [t/yr]
    in_use_stock, eol     = inflow-driven cohort model of sales, lifetime scaled by the scenario  [t], [t/yr]
    collected[r, e, t]    = eol * collection[s, r, t]                                           [t/yr]
    liberated             = collected * liberation[s, r, t]                                     [t/yr]
    recovered             = liberated * process_yield[s, r, t]                                  [t/yr]
    secondary_share       = recovered / sales (same region, year, element)                      [1]

``inflow`` [unit/yr] comes from ``data/inflows.csv`` (the scenario's demand path); shares,
magnet mass [kg/unit], element fractions and the lifetime from the product profile; the
end-of-life rates, lifetime factors and technology shifts from the scenario's levers
(:mod:`urbanmine.scenarios`), with ``collection`` from the fitted collection-rate model where
the scenario sets none. ``WORLD`` is the sum of the regions, element ``REE`` the sum of Nd, Pr,
Dy and Tb, product ``all`` the sum of the products of the run; their secondary shares are ratios
of the sums. With several scenarios, rows whose scenario is ``"B minus A"`` give the difference
of each later scenario B from the first, A.

Monte Carlo
-----------
With ``samples > 0`` every uncertain input is drawn per sample: each profile number with a
``low``/``high`` range from a triangular distribution (low, central, high), one uniform draw per
number and sample applied to all its anchor years; technology shares move between the
low-magnet mix (draw 0), the central mix (0.5) and the high-magnet mix (1); the collection
model's coefficients from their covariance and each region's effect from N(0, region effect
sd); and each scenario lever with a range from a triangular distribution around its value, one
draw per product, parameter and sample. All draws are made up front from
``numpy.random.SeedSequence(seed)`` spawned per product and do not depend on the scenario, so
results do not depend on the chunk size and every scenario of a run sees the same draws (common
random numbers): differences and totals are computed per sample, then summarised.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import xarray as xr

from . import units
from .errors import InputDataError
from .lifetimes import INFLOW_AT
from .pipeline import membership_array
from .profiles import ELEMENTS, Profile, Quantity

__all__ = ["STAGES", "STAGE_UNITS", "TOTAL_ELEMENT", "TOTAL_PRODUCT", "estimate", "EstimateInputs",
           "load_inputs", "run", "DEFAULT_SCENARIO"]

STAGES = ("sales", "in_use_stock", "net_export", "end_of_life", "collected", "liberated", "recovered",
          "secondary_share")
FLOW_STAGES = STAGES[:-1]
STAGE_UNITS = {
    "sales": units.MASS_FLOW, "in_use_stock": units.MASS, "net_export": units.MASS_FLOW,
    "end_of_life": units.MASS_FLOW,
    "collected": units.MASS_FLOW, "liberated": units.MASS_FLOW, "recovered": units.MASS_FLOW,
    "secondary_share": units.FRACTION,
}
TOTAL_ELEMENT = "REE"
"""Element label of the sum Nd + Pr + Dy + Tb."""
TOTAL_PRODUCT = "all"
"""Product label of the sum over the products of a run."""
DEFAULT_SCENARIO = "current-practice"
OUTPUT_COLUMNS = ("scenario", "region", "product", "element", "stage", "unit", "year", "value")
STAT_COLUMNS = ("mean", "p05", "p50", "p95")
LEVER_DRAWS = ("collection", "liberation", "process_yield", "lifetime_factor", "technology_shift")
"""One uniform draw per product, sample and lever parameter, shared by all scenarios."""


# -- inputs -------------------------------------------------------------------------------------


@dataclass
class EstimateInputs:
    """Everything an estimate reads, loaded and validated once."""

    profiles: dict[str, Profile]
    inflows: object  # pandas DataFrame
    model: object  # CollectionModel
    data_dir: object
    files: list  # every input file, for the provenance record
    profile_dir: object = None
    regions: object = None  # urbanmine.regions.Regions: the countries and their groupings
    keys: dict = None  # split keys of the data (urbanmine.inflows.load_split_keys)
    tables: tuple = None  # GDP and law-year tables of the collection projections
    exports: dict = None  # used exports by product (urbanmine.inflows.load_used_exports)
    model_path: object = None
    regions_file: object = None

    @property
    def demand_paths(self) -> list[str]:
        return sorted(self.inflows["demand"].unique())

    def scenario(self, name_or_path, demand: str | None = None):
        """Load and resolve a scenario against these inputs (``demand`` overrides its path)."""
        from .profiles import load_references
        from .scenarios import load_scenario

        scen = load_scenario(name_or_path, profiles=self.profiles, regions=self.regions,
                             demand_paths=self.demand_paths,
                             references=set(load_references(self.profile_dir)))
        if demand is not None:
            if demand not in self.demand_paths:
                raise InputDataError(f"--demand {demand!r}: unknown demand path; expected one of "
                                     f"{', '.join(self.demand_paths)}")
            scen.demand = demand
        return scen


def load_inputs(profiles=None, data=None, model=None, regions=None) -> EstimateInputs:
    """Read and check every input once: profiles, data (inflows, countries and groupings, split
    keys), the collection model, and optionally a user's groupings file ``regions``."""
    from pathlib import Path

    from .collection import load_model, load_training_tables
    from .defaults import default_dir
    from .inflows import data_dir as check_data_dir
    from .inflows import load_inflows, load_split_keys, load_used_exports
    from .profiles import load_profiles
    from .regions import load_regions

    prof_dir = Path(profiles) if profiles is not None else default_dir("product_profiles")
    data_dir = check_data_dir(data)
    model_path = Path(model) if model is not None else default_dir("models") / "collection_rate.json"
    profs = load_profiles(prof_dir)
    regs = load_regions(data_dir, regions)
    for prof in profs.values():
        prof.check_regions(regs)
    inflows = load_inflows(data_dir, regs)
    keys = load_split_keys(data_dir, regs)
    exports = load_used_exports(data_dir, regs, keys)
    mdl = load_model(model_path)
    files = sorted(prof_dir.glob("*.toml")) + [data_dir / n for n in (
        "inflows.csv", "countries.csv", "region_groups.csv", "split_keys.csv", "regressors.csv",
        "policy_years.csv")] + [model_path] + ([Path(regions)] if regions is not None else [])
    if exports:
        files.append(data_dir / "used_exports.csv")
    return EstimateInputs(profs, inflows, mdl, data_dir, files, prof_dir, regs, keys,
                          load_training_tables(data_dir), exports, model_path,
                          Path(regions) if regions is not None else None)


# -- sampling helpers ---------------------------------------------------------------------------


def _triangular(u, low, mode, high):
    """Triangular quantile at ``u`` (broadcasting); degenerate ranges return ``mode``."""
    low, mode, high = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (low, mode, high)))
    width = high - low
    safe = np.where(width > 0, width, 1.0)
    f = np.where(width > 0, (mode - low) / safe, 0.5)
    left = low + np.sqrt(np.clip(u * width * (mode - low), 0, None))
    right = high - np.sqrt(np.clip((1 - u) * width * (high - mode), 0, None))
    return np.where(width > 0, np.where(u < f, left, right), mode)


class _Knobs:
    """Hands out the pre-drawn uniforms of one product, one column per uncertain number."""

    def __init__(self, u: np.ndarray | None):
        self.u = u  # [S, n_knobs] or None for the central run
        self.i = 0

    def next(self):
        if self.u is None:
            return None
        col = self.u[:, self.i]
        self.i += 1
        return col


def _quantity(q: Quantity, years, knobs: _Knobs) -> np.ndarray:
    """Values ``[S, len(years)]`` (S = 1 central) of a profile quantity."""
    c = q.at(years, "central")[None, :]
    if not q.has_range:
        return c
    u = knobs.next()
    if u is None:
        return c
    return _triangular(u[:, None], q.at(years, "low")[None, :], c, q.at(years, "high")[None, :])


def _scalar(q: Quantity, knobs: _Knobs) -> np.ndarray:
    return _quantity(q, [2000], knobs)[:, 0]


def n_knobs(profile: Profile) -> int:
    """How many uniform draws one sample of ``profile`` consumes."""
    n = 0
    for spec, regional in ((profile.lifetime, profile.lifetime_regional), (profile.storage, profile.storage_regional)):
        if spec:
            n += sum(_param_has_range(spec, regional, p) for p in spec if p != "family")
    for s, t in profile.technologies:
        n += profile.technology(s, t).magnet_kg_per_unit.has_range
    for comp in profile.compositions.values():
        n += sum(q.has_range for e, q in comp.items() if e in profile.elements)
    for seg in profile.segments.values():
        n += seg.has_share_range()
    return n


def _param_has_range(spec, regional, p) -> bool:
    """One draw serves a lifetime parameter of the default and of every regional variant."""
    return spec[p].has_range or any(v[p].has_range for v in regional.values())


@dataclass
class _ProductParams:
    parts: list  # per segment: (mixes [S, variant, K_segment, C], variant of each country or None)
    magnet: np.ndarray  # [S, K, C] kg/unit
    fractions: np.ndarray  # [S, K, E, C]
    lifetime: object  # Lifetime with parameters [S, 1, 1, 1], or with regional lifetimes a list of
    # (country positions, Lifetime): the countries that share one (use, storage) lifetime
    by_country: bool = False  # shares differ by country

    @property
    def shares(self) -> np.ndarray:
        """Technology shares ``[S, K, C]``, or ``[S, country, K, C]`` with regional mixes [1]."""
        if not self.by_country:
            return np.concatenate([per[:, 0] for per, _ in self.parts], axis=-2)
        return np.concatenate([per[:, vidx] for per, vidx in self.parts], axis=-2)

    def shares_of(self, pos) -> np.ndarray:
        """Technology shares ``[S, len(pos), K, C]`` of the countries at positions ``pos`` [1]."""
        pos = np.asarray(pos, dtype=int)
        out = [per[:, vidx[pos]] if vidx is not None else np.repeat(per[:, :1], pos.size, axis=1)
               for per, vidx in self.parts]
        return np.concatenate(out, axis=-2)

    def share_keys(self) -> np.ndarray | None:
        """The mix variant of every country in every segment ``[country, segment]``, or None."""
        if not self.by_country:
            return None
        return np.stack([vidx for _, vidx in self.parts], axis=1)


def _lifetimes(spec, regional, knobs, n) -> list:
    """The lifetime of each regional variant and, last, the default, with parameters ``[S, 1, 1,
    1]`` (scalars when S = 1). One draw per parameter serves the default and every variant."""
    from .lifetimes import FAMILIES

    cls = FAMILIES[spec["family"]]
    specs = [*regional.values(), spec]  # index -1 is the default
    vals = [{} for _ in specs]
    for p in cls.param_names:
        u = knobs.next() if _param_has_range(spec, regional, p) else None
        for i, sp in enumerate(specs):
            q = sp[p]
            c = q.at([2000], "central")
            if u is not None and q.has_range:
                c = _triangular(u, q.at([2000], "low"), c, q.at([2000], "high"))
            v = np.broadcast_to(c, (n,))
            vals[i][p] = v.reshape(n, 1, 1, 1) if n > 1 else float(v[0])
    return [cls(**v) for v in vals]


def _variants(profile: Profile, regions, countries):
    """The regional variant (index, -1 default) of each country for every place of a profile."""
    from .profiles import variant_index

    def of(codes):
        if not codes or regions is None:
            return None
        return variant_index(codes, regions, countries)

    return {
        "lifetime": of(list(profile.lifetime_regional)),
        "storage": of(list(profile.storage_regional)),
        "segments": {sid: of(list(seg.regional)) for sid, seg in profile.segments.items()},
    }


def _product_params(profile: Profile, years, u: np.ndarray | None, elements, variants=None) -> _ProductParams:
    """The profile's numbers for ``years`` (central, or one draw per row of ``u``); with
    ``variants`` (:func:`_variants`), regional shares and lifetimes by country."""
    knobs = _Knobs(u)
    n = 1 if u is None else u.shape[0]
    variants = variants or {"lifetime": None, "storage": None, "segments": {}}
    # the order of draws is fixed by the profile (see n_knobs): lifetime, storage, magnets,
    # compositions, shares
    lv, sv = variants["lifetime"], variants["storage"]
    uses = _lifetimes(profile.lifetime, profile.lifetime_regional if lv is not None else {}, knobs, n)
    stores = (_lifetimes(profile.storage, profile.storage_regional if sv is not None else {}, knobs, n)
              if profile.storage is not None else None)
    if lv is None and sv is None:
        lifetime = uses[-1] if stores is None else uses[-1].then(stores[-1])
    else:
        # countries grouped by their (use, storage) variants: one cohort model per group
        n_c = len(lv if lv is not None else sv)
        lv = lv if lv is not None else np.full(n_c, -1)
        sv = sv if sv is not None else np.full(n_c, -1)
        pairs = np.stack([lv, sv], axis=1)
        lifetime = []
        for u, st in np.unique(pairs, axis=0):
            pos = np.nonzero((lv == u) & (sv == st))[0]
            model = uses[u] if stores is None else uses[u].then(stores[st])
            lifetime.append((pos, model))
    magnet = np.stack([
        np.broadcast_to(_quantity(profile.technology(s, t).magnet_kg_per_unit, years, knobs), (n, len(years)))
        for s, t in profile.technologies], axis=1)
    comp_vals = {}
    for cid, comp in profile.compositions.items():
        for e in profile.elements:
            comp_vals[(cid, e)] = np.broadcast_to(_quantity(comp[e], years, knobs), (n, len(years)))
    fractions = np.zeros((n, len(profile.technologies), len(elements), len(years)))
    for k, (s, t) in enumerate(profile.technologies):
        cid = profile.technology(s, t).composition
        for j, e in enumerate(elements):
            if e in profile.elements:
                fractions[:, k, j] = comp_vals[(cid, e)]
    seg_variants = variants["segments"]
    by_country = any(v is not None for v in seg_variants.values())
    parts = []
    for sid, seg in profile.segments.items():
        # one draw per segment moves the default mix and every regional mix alike
        w = knobs.next() if seg.has_share_range() else None
        codes = [*seg.regional, None] if by_country else [None]
        per = np.stack([_drawn_shares(seg, years, w, code) for code in codes], axis=1)  # [S, V, K, C]
        per = np.broadcast_to(per, (n,) + per.shape[1:])
        vidx = None
        if by_country:
            vidx = seg_variants.get(sid)
            n_c = len(next(v for v in seg_variants.values() if v is not None))
            vidx = np.full(n_c, len(codes) - 1) if vidx is None else np.where(vidx < 0, len(codes) - 1, vidx)
        parts.append((per, vidx))
    return _ProductParams(parts, magnet, fractions, lifetime, by_country)


def _drawn_shares(seg, years, w, code) -> np.ndarray:
    """Shares ``[S or 1, K, C]`` of one segment's mix ``code`` (None: default): the low-magnet mix
    at draw 0, central at 0.5, the high-magnet mix at 1, linear in between."""
    central = seg.share_values(years, "central", code)
    if w is None:
        return central[None]
    lo, hi = seg.share_values(years, "low", code), seg.share_values(years, "high", code)
    w = w[:, None, None]
    return np.where(w < 0.5, lo + (central - lo) * (w / 0.5), central + (hi - central) * ((w - 0.5) / 0.5))



# -- the computation ----------------------------------------------------------------------------


def _segment_index(profile: Profile):
    segs = list(profile.segments)
    return segs, np.array([segs.index(s) for s, _ in profile.technologies])


def _lever(scen, parameter, product, years, v, countries, **technology):
    """Lever values ``[S, country, year]`` (S = 1 without draws ``v``); NaN where none is in force.

    None if the scenario sets no such lever at all.
    """
    paths = scen.paths(parameter, product, countries, years, **technology)
    if paths is None:
        return None
    value, low, high = paths
    if v is None:
        return value[None]
    # a lever set for every country alike (the usual '*' lever) is drawn once and broadcast
    same = (np.all(value == value[:1], axis=0) & np.all(low == low[:1], axis=0) & np.all(high == high[:1], axis=0)
            | np.all(np.isnan(value), axis=0))
    if len(value) > 1 and np.all(same):
        one = _triangular(v[:, None, None], low[None, :1], value[None, :1], high[None, :1])
        return np.broadcast_to(one, (v.shape[0],) + value.shape)
    return _triangular(v[:, None, None], low[None], value[None], high[None])


def _required(scen, parameter, product, years, v, countries):
    vals = _lever(scen, parameter, product, years, v, countries)
    if vals is None or np.any(np.isnan(vals)):
        where = f" ({scen.path})" if scen.path else ""
        gap = "" if vals is None else f" in every year and country (missing e.g. {countries[int(np.argwhere(np.isnan(vals[0]))[0][0])]})"
        raise InputDataError(
            f"scenario {scen.name!r}{where} sets no {parameter} for {product}{gap}; add a lever with "
            f"parameter = \"{parameter}\", product = \"{product}\" or \"*\", and no from_year"
        )
    if vals.ndim == 3 and vals.shape[1] > 1 and vals.strides[1] == 0:  # the same in every country
        return np.broadcast_to(np.clip(vals[:, :1], 0.0, 1.0), vals.shape)
    return np.clip(vals, 0.0, 1.0)


def _shifted_shares(shares, profile: Profile, scen, product, years, v, countries):
    """Technology shares ``[S, K, C]`` -> ``[S, country, K, C]`` after the scenario's shifts."""
    pairs = scen.shifts(product)
    if shares.ndim == 3:
        shares = shares[:, None]  # no regional shares: one mix for every country
    if not pairs:
        return shares
    techs = profile.technologies
    out = None
    for tfrom, tto in pairs:
        frac = _lever(scen, "technology_shift", product, years, v, countries, technology_from=tfrom,
                      technology_to=tto)
        moves = []
        for seg in profile.segments:
            def find(t, seg=seg):
                for k, (s, name) in enumerate(techs):
                    if s == seg and (t == name or t == f"{s}/{name}"):
                        return k
                return None
            kf, kt = find(tfrom), find(tto)
            if kf is not None and kt is not None:
                moves.append((kf, kt))
        if not moves:
            raise InputDataError(f"scenario {scen.name!r}: no segment of {product} has both "
                                 f"technologies {tfrom!r} and {tto!r}")
        if out is None:
            n = max(shares.shape[0], frac.shape[0])
            out = np.broadcast_to(shares, (n, len(countries)) + shares.shape[2:]).copy()
        frac = np.clip(np.nan_to_num(frac, nan=0.0), 0.0, 1.0)  # no lever in force: no shift
        for kf, kt in moves:
            moved = out[:, :, kf] * frac
            out[:, :, kf] -= moved
            out[:, :, kt] += moved
    return out


@dataclass
class _Prepared:
    """What one product needs, read once: inflows by demand path, features and draws."""

    profile: Profile
    seg_of_k: np.ndarray
    inflow: dict  # demand path -> [country, segment, cohort]
    years: np.ndarray
    x: np.ndarray | None  # collection-model features [country, T, F], or None
    countries: list = None
    effects: tuple = None  # the collection model's country effects (mean, sd) [logit]
    u: np.ndarray | None = None  # [S, knobs] profile draws
    z: np.ndarray | None = None  # [S, F + country] collection-model draws
    v: np.ndarray | None = None  # [S, len(LEVER_DRAWS)] lever draws
    variants: dict = None  # regional variants of the profile by country (see _variants)
    trade: tuple = None  # used exports: (exporter positions, share [E, T], destination [country, E, T])
    cache: dict = None  # what the Monte Carlo kernel derives once per scenario and regions

    def __post_init__(self):
        self.cache = {} if self.cache is None else self.cache


def _prepare(inputs: EstimateInputs, product: str, scenarios, samples: int, seed, idx=None,
             draws=None) -> _Prepared:
    """Inflows, collection features and Monte Carlo draws of one product, for the countries
    ``idx`` (positions in ``inputs.regions.countries``; default all).

    Draws are made for every country and then selected, so a country's numbers do not depend on
    which other countries a run needs. ``draws`` (``u, z, v`` as :func:`draw_layout` describes)
    replaces the random draws, e.g. with a sensitivity-analysis design.
    """
    from .collection import projection_features
    from .inflows import country_inflows

    prof = inputs.profiles[product]
    segs, seg_of_k = _segment_index(prof)
    every = inputs.regions.countries
    idx = np.arange(len(every)) if idx is None else np.asarray(idx)
    countries = [every[i] for i in idx]
    inflow, years = {}, None
    for d in dict.fromkeys(sc.demand for sc in scenarios):
        arr, years = country_inflows(inputs.inflows, inputs.keys, inputs.regions, d, product, segs)
        inflow[d] = arr[idx]
    x = None
    if prof.collection_category is not None:
        x = projection_features(inputs.model, countries, years, prof.collection_category, tables=inputs.tables)
    prep = _Prepared(prof, seg_of_k, inflow, years, x, countries, inputs.model.effects(countries),
                     variants=_variants(prof, inputs.regions, countries),
                     trade=_trade(inputs, product, idx, years))
    n_f = len(inputs.model.coefficients)
    if draws is not None:
        prep.u, z, prep.v = draws
        prep.z = np.concatenate([z[:, :n_f], z[:, n_f + idx]], axis=1)
    elif samples:
        ss = np.random.SeedSequence(entropy=seed, spawn_key=(zlib.crc32(product.encode()),))
        rng = np.random.default_rng(ss)
        prep.u = rng.random((samples, n_knobs(prof)))
        z = rng.standard_normal((samples, n_f + len(every)))
        prep.z = np.concatenate([z[:, :n_f], z[:, n_f + idx]], axis=1)
        prep.v = rng.random((samples, len(LEVER_DRAWS)))
    return prep


def knob_names(profile: Profile) -> list[tuple[str, str]]:
    """``(kind, name)`` of each uniform draw of one sample of ``profile``, in the order the draws
    are used (see :func:`n_knobs`); ``kind`` is ``lifetime``, ``magnet mass``, ``composition``
    or ``technology mix``."""
    out = []
    for label, spec, regional in (("lifetime", profile.lifetime, profile.lifetime_regional),
                                  ("storage", profile.storage, profile.storage_regional)):
        if spec:
            out += [("lifetime", f"{label} {p}") for p in spec if p != "family" and _param_has_range(spec, regional, p)]
    for s_, t in profile.technologies:
        if profile.technology(s_, t).magnet_kg_per_unit.has_range:
            out.append(("magnet mass", f"{s_}/{t}"))
    for cid, comp in profile.compositions.items():
        out += [("composition", f"{cid} {e}") for e, q in comp.items() if e in profile.elements and q.has_range]
    for sid, seg in profile.segments.items():
        if seg.has_share_range():
            out.append(("technology mix", sid))
    assert len(out) == n_knobs(profile)
    return out


def draw_layout(inputs: EstimateInputs, products) -> list[tuple[str, str, str, int]]:
    """The columns of one Monte Carlo sample of a run: ``(product, kind, name, column)`` for every
    uniform draw, product by product: the profile's numbers (:func:`knob_names`), the collection
    model (``kind`` ``collection model``: its coefficients and every country's effect, standard
    normal), and the scenario levers (``kind`` ``lever``, one per :data:`LEVER_DRAWS`)."""
    rows, col = [], 0
    n_f = len(inputs.model.coefficients)
    for p in products:
        for kind, name in knob_names(inputs.profiles[p]):
            rows.append((p, kind, name, col))
            col += 1
        for j in range(n_f + len(inputs.regions.countries)):
            name = (f"coefficient {j}" if j < n_f else f"effect {inputs.regions.countries[j - n_f]}")
            rows.append((p, "collection model", name, col))
            col += 1
        for lever in LEVER_DRAWS:
            rows.append((p, "lever", lever, col))
            col += 1
    return rows


def split_draws(inputs: EstimateInputs, products, uniforms: np.ndarray) -> dict:
    """Per-product draws ``(u, z, v)`` from a matrix of uniforms ``[sample, column]`` laid out by
    :func:`draw_layout`; the collection model's columns become standard normal."""
    from scipy.stats import norm

    out, col = {}, 0
    n_f = len(inputs.model.coefficients)
    for p in products:
        k = n_knobs(inputs.profiles[p])
        nz = n_f + len(inputs.regions.countries)
        u = uniforms[:, col:col + k]
        z = norm.ppf(np.clip(uniforms[:, col + k:col + k + nz], 1e-12, 1 - 1e-12))
        v = uniforms[:, col + k + nz:col + k + nz + len(LEVER_DRAWS)]
        out[p] = (u, z, v)
        col += k + nz + len(LEVER_DRAWS)
    if col != uniforms.shape[1]:
        raise InputDataError(f"draws have {uniforms.shape[1]} columns, expected {col}")
    return out


def _cohorts(sales, lifetime, factor, inflow_at, check):
    """In-use stock and outflow of ``sales`` ``[sample, country, element, cohort]``: one cohort
    model per group of countries sharing a lifetime (``lifetime`` a list of (positions,
    Lifetime)), or one for all; ``factor`` ``[S, country, cohort]`` scales lifetimes by country
    and cohort (a scenario's lever) or is None."""
    from .pipeline import cohort_model

    if not isinstance(lifetime, list):
        lt = lifetime if factor is None else lifetime.scaled(factor[:, :, None, :])
        return cohort_model(sales, lt, inflow_at, check=check)
    if len(lifetime) == 1:
        return _cohorts(sales, lifetime[0][1], factor, inflow_at, check)
    stock = np.empty(sales.shape)
    eol = np.empty(sales.shape)
    for pos, lt in lifetime:
        if factor is not None:
            lt = lt.scaled(factor[:, pos][:, :, None, :])
        s_, e_ = cohort_model(sales.isel(country=pos), lt, inflow_at, check=check)
        stock[:, pos], eol[:, pos] = s_.values, e_.values
    dims = ("sample", "country", "element", "year")
    coords = {d: sales.coords[d] for d in ("sample", "country", "element") if d in sales.coords}
    if "cohort" in sales.coords:
        coords["year"] = sales.coords["cohort"].values
    return xr.DataArray(stock, dims=dims, coords=coords), xr.DataArray(eol, dims=dims, coords=coords)


def _trade(inputs, product, idx, years):
    """The used exports of ``product`` for the modelled countries ``idx`` and ``years``, or None."""
    got = (inputs.exports or {}).get(product)
    if got is None:
        return None
    exporters, eyears, share, dest = got
    pos = {int(c): i for i, c in enumerate(idx)}
    keep = [e for e, code in enumerate(exporters) if int(inputs.regions.index([code])[0]) in pos]
    if not keep:
        return None
    at = np.searchsorted(eyears, np.clip(years, eyears[0], eyears[-1]))
    inside = (years >= eyears[0]) & (years <= eyears[-1])
    sh = np.where(inside, share[keep][:, at], 0.0)
    return (np.array([pos[int(inputs.regions.index([exporters[e]])[0])] for e in keep]), sh,
            dest[np.asarray(idx)][:, keep][:, :, at])


def exporter_positions(inputs, products) -> np.ndarray:
    """Positions in ``inputs.regions.countries`` of every country exporting used ``products``."""
    codes = {c for p in products for c in (inputs.exports or {}).get(p, ((),))[0]}
    return inputs.regions.index(sorted(codes)) if codes else np.array([], dtype=int)


def _flows(inputs, prep: _Prepared, product, scen, params: _ProductParams, z, v, inflow_at, check, n=1):
    """The flow stages of one product under one scenario (:mod:`urbanmine.pipeline`): a list in
    the order of :data:`FLOW_STAGES` of DataArrays over ``country``, ``element``, ``year`` (and
    ``sample`` where the block's ``n`` samples differ)."""
    from .pipeline import element_sales, end_of_life_chain, named, technology_units, used_exports

    years = prep.years
    vd = {name: (None if v is None else v[:, i]) for i, name in enumerate(LEVER_DRAWS)}
    countries = prep.countries
    shares = _shifted_shares(params.shares, prep.profile, scen, product, years, vd["technology_shift"], countries)
    units_in = technology_units(
        named(prep.inflow[scen.demand], ("country", "segment", "cohort"), drop=()),
        named(shares, ("sample", "country", "technology", "cohort")),
        xr.DataArray(prep.seg_of_k, dims="technology"),
    )
    sales = element_sales(units_in, named(params.magnet, ("sample", "technology", "cohort")),
                          named(params.fractions, ("sample", "technology", "element", "cohort")))
    factor = _lever(scen, "lifetime_factor", product, years, vd["lifetime_factor"], countries)
    if factor is not None:
        factor = np.where(np.isnan(factor), 1.0, factor)  # no lever in force: the profile's lifetime
    if factor is not None and np.all(factor == 1.0):
        factor = None
    # the lifetime's parameters are numpy-shaped [sample, country, element, cohort]: give the
    # sales every one of those dimensions
    if "sample" not in sales.dims:
        sales = sales.expand_dims(sample=n)
    sales = sales.transpose("sample", "country", "element", "cohort")
    stock, eol = _cohorts(sales, params.lifetime, factor, inflow_at, check)
    if prep.trade is not None:
        eol, net_export = used_exports(eol, *prep.trade)
    else:
        net_export = xr.zeros_like(eol)
    collection = _collection(inputs, prep, product, scen, z, vd["collection"])
    # rates have a true country axis (one country is a legitimate run): only a sample axis of
    # length one is dropped
    rate_dims, keep = ("sample", "country", "year"), ("sample",)
    chain = end_of_life_chain(
        eol,
        named(np.clip(collection, 0.0, 1.0), rate_dims, drop=keep),
        named(_required(scen, "liberation", product, years, vd["liberation"], countries), rate_dims, drop=keep),
        named(_required(scen, "process_yield", product, years, vd["process_yield"], countries), rate_dims, drop=keep),
    )
    return [sales.rename(cohort="year"), stock, net_export, eol, chain["collected"], chain["liberated"],
            chain["recovered"]]


def _collection(inputs, prep: _Prepared, product, scen, z, v):
    """Collection rates ``[S, country, year]`` [1]: the scenario's lever where one is in force,
    else the fitted model."""
    collection = _lever(scen, "collection", product, prep.years, v, prep.countries)
    if collection is None or np.any(np.isnan(collection)):
        _check_collection_category(prep, product, scen)
        model = inputs.model.rates(prep.x, z, prep.effects)  # [S, country, T]
        collection = model if collection is None else np.where(np.isnan(collection), model, collection)
    return collection


KERNEL_CHUNK = 32
"""Samples per chunk of the Monte Carlo kernel: its arrays (a few MB per sample) stay in cache."""


def _check_collection_category(prep, product, scen):
    if prep.x is None:
        where = f" ({scen.path})" if scen.path else ""
        raise InputDataError(
            f"scenario {scen.name!r}{where} sets no collection for {product}, whose profile names "
            f"no collection category; add a lever with parameter = \"collection\" and "
            f"product = \"{product}\" or \"*\""
        )


def _collection_ordered(inputs, prep: _Prepared, product, scen, yi, z, v, order, cache_key):
    """:func:`_collection` for the kernel: ``[S, Y, country]`` with the countries in ``order``;
    the model's logits as one matrix product of the drawn coefficients with the features."""
    lever = _lever(scen, "collection", product, prep.years[yi], v, prep.countries)
    lev = None if lever is None else np.swapaxes(lever[:, order], 1, 2)
    if lever is not None and not np.any(np.isnan(lever)):
        return np.clip(lev, 0.0, 1.0)
    _check_collection_category(prep, product, scen)
    xt = prep.cache.get(cache_key)
    if xt is None:  # features [F, (Y, country)]
        x = prep.x[order][:, yi]
        xt = prep.cache[cache_key] = np.ascontiguousarray(x.transpose(2, 1, 0).reshape(x.shape[2], -1))
    beta, u = inputs.model.draws(z, prep.effects, len(prep.countries))
    rate = (beta @ xt).reshape(beta.shape[0], len(yi), -1)
    rate += u[:, None, order]
    np.negative(rate, out=rate)
    np.exp(rate, out=rate)
    rate += 1.0
    np.reciprocal(rate, out=rate)  # the logistic function
    if lev is not None:
        rate = np.where(np.isnan(lev), rate, np.clip(lev, 0.0, 1.0))
    return rate


def _kernel_cells(inputs, prep: _Prepared, product, scen, params: _ProductParams, z, v, yi, membership, ei,
                  inflow_at, n, chunk=KERNEL_CHUNK, threads=None, out=None):
    """The output cells ``[n, R_out, E_out, 7, Y]`` of one product under one scenario for a block
    of samples, from the Monte Carlo kernel (:mod:`urbanmine.ensemble`): the numbers of
    :func:`_flows` and :func:`_cells`, arranged for large ensembles."""
    from .ensemble import block_cells, classes, lifetime_groups

    years, countries = prep.years, prep.countries
    yi, m = np.asarray(yi), np.asarray(membership.values)
    key = (scen.name, m.shape, m.tobytes(), yi.tobytes())
    cls = prep.cache.get(key)
    if cls is None:
        cls = prep.cache[key] = classes(prep, product, scen, params, yi, m)
    out_years = years[yi]
    vd = {name: (None if v is None else v[:, i]) for i, name in enumerate(LEVER_DRAWS)}
    rates = (_collection_ordered(inputs, prep, product, scen, yi, z, vd["collection"], cls.order, key + ("x",)),
             _required(scen, "liberation", product, out_years, vd["liberation"], countries),
             _required(scen, "process_yield", product, out_years, vd["process_yield"], countries))
    reps = [countries[r] for _, r, _ in cls.lt_slices]
    f = _lever(scen, "lifetime_factor", product, years, vd["lifetime_factor"], reps)  # [S, class, cohort]
    factors = [None] * len(reps)
    if f is not None:
        f = np.where(np.isnan(f), 1.0, f)  # no lever in force: the profile's lifetime
        factors = [None if np.all(f[:, i] == 1.0) else f[:, i] for i in range(len(reps))]
    _, group_lt = lifetime_groups(params.lifetime, len(countries))
    lifetimes = [group_lt[g] for _, _, g in cls.lt_slices]
    # each element sold per unit of each segment's inflow, by mix class [t/unit]
    shares = _shifted_shares(params.shares_of(cls.mix_reps), prep.profile, scen, product, years,
                             vd["technology_shift"], [countries[i] for i in cls.mix_reps])  # [S, mix, K, C]
    n_seg = int(prep.seg_of_k.max()) + 1
    mf = params.magnet[:, :, None, :] * params.fractions * units.T_PER_KG  # [S, K, E, cohort] t/unit
    s = max(shares.shape[0], mf.shape[0])
    per_unit = np.zeros((shares.shape[1], len(years), s, mf.shape[2], n_seg))  # [mix, cohort, S, E, segment]
    for k, g in enumerate(prep.seg_of_k):
        per_unit[..., g] += np.transpose(shares[:, :, k], (1, 2, 0))[..., None] * np.transpose(mf[:, k], (2, 0, 1))
    every = list(ei) == list(range(len(ELEMENTS) + 1))
    cells = block_cells(prep, cls, per_unit, lifetimes, factors, rates, yi, m.shape[0], inflow_at, n, chunk, threads,
                        out=out if every else None)
    if every:
        return cells
    if out is None:
        return cells[:, :, ei]
    out[...] = cells[:, :, ei]
    return out


def _cells(stages, yi, membership, ei, n):
    """Stage DataArrays ``[(sample,) country, element, year]`` -> numpy ``[n, region_out,
    E_out, stage, Y]``.

    The countries are summed into the asked regions (:func:`urbanmine.pipeline.to_regions`),
    then the output years are taken (from the few regions rather than the many countries) and
    the REE total is added.
    """
    from .pipeline import to_regions

    e = stages[0].sizes["element"]
    all_years = len(yi) == stages[0].sizes["year"] and np.all(np.diff(yi) == 1)
    out = np.empty((n, membership.sizes["region"], e + 1, len(stages), len(yi)))
    for k, da in enumerate(stages):
        reg = to_regions(da, membership)
        if "sample" not in reg.dims:
            reg = reg.expand_dims(sample=n)
        vals = reg.transpose("sample", "region", "element", "year").values
        out[:, :, :e, k] = vals if all_years else vals[..., yi]
    out[:, :, :e].sum(axis=2, out=out[:, :, e])
    if list(ei) != list(range(e + 1)):
        out = out[:, :, ei]
    return out


SALES, RECOVERED = FLOW_STAGES.index("sales"), FLOW_STAGES.index("recovered")
KERNEL = True
"""Samples use the Monte Carlo kernel (:mod:`urbanmine.ensemble`); False: the pipeline, as the
central run (for tests and comparisons)."""


def _with_share(f):
    """Append the secondary share (recovered / sales, NaN without sales) as the last stage."""
    sales, rec = f[:, :, :, SALES], f[:, :, :, RECOVERED]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(sales > 0, rec / np.where(sales > 0, sales, 1.0), np.nan)
    return np.concatenate([f, share[:, :, :, None]], axis=3)


def _product_flows(inputs, prep: _Prepared, product, scenarios, sl, central, yi, membership, ei, inflow_at, check,
                   threads=None, out=None):
    """Output flow cells of one product for a block of samples: ``[scenario, S, R_out, E_out, 7, Y]``
    (written to ``out`` if given, with the Monte Carlo kernel)."""
    if central:
        params, z, v, n = _product_params(prep.profile, prep.years, None, ELEMENTS, prep.variants), None, None, 1
    else:
        params = _product_params(prep.profile, prep.years, prep.u[sl], ELEMENTS, prep.variants)
        z = None if prep.x is None else prep.z[sl]
        v = prep.v[sl]
        n = v.shape[0]
    if central or not KERNEL:
        per_scen = [_cells(_flows(inputs, prep, product, scen, params, z, v, inflow_at, check, n), yi, membership,
                           ei, n)
                    for scen in scenarios]
        n = max(a.shape[0] for a in per_scen)
        return np.stack([np.broadcast_to(a, (n,) + a.shape[1:]) for a in per_scen])
    shape = (len(scenarios), n, membership.shape[0], len(ei), len(FLOW_STAGES), len(yi))
    out = np.empty(shape) if out is None else out
    for si, scen in enumerate(scenarios):
        _kernel_cells(inputs, prep, product, scen, params, z, v, yi, membership, ei, inflow_at, n, threads=threads,
                      out=out[si])
    return out


def _labelled(flows):
    """Scenario flows ``[scenario, S, R, E, 6, Y]`` -> ``[label, S, R, E, 7, Y]``.

    Appends the secondary share, then each later scenario minus the first (flows and shares
    differenced per sample).
    """
    full = np.stack([_with_share(f) for f in flows])
    return np.concatenate([full, full[1:] - full[:1]]) if len(flows) > 1 else full


def _store(store, f, start, stop):
    """Write the labelled cells of the flows ``f`` ``[scenario, S, R, E, 7, Y]`` (float64) into the
    samples ``start:stop`` of ``store`` ``[label, R, E, 8, Y, sample]`` (float32): the numbers of
    :func:`_labelled`, each cell written once, samples last."""
    n_s = f.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        sales, rec = f[:, :, :, :, SALES], f[:, :, :, :, RECOVERED]
        shares = np.where(sales > 0, rec / np.where(sales > 0, sales, 1.0), np.nan)  # [scenario, S, R, E, Y]
    for li in range(store.shape[0]):
        if li < n_s:
            flows, share = f[li], shares[li]
        else:  # a later scenario minus the first, per sample
            flows, share = f[li - n_s + 1] - f[0], shares[li - n_s + 1] - shares[0]
        store[li, :, :, : f.shape[4], :, start:stop] = np.moveaxis(flows, 0, -1)
        store[li, :, :, f.shape[4], :, start:stop] = np.moveaxis(share, 0, -1)


def _on_threads(work, n):
    """``work(slice)`` over ``range(n)`` split among a few threads (numpy releases the GIL while it
    copies); the slices are disjoint, so the result does not depend on the threads."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    threads = min(n, os.cpu_count() or 1, 4)
    if threads < 2:
        work(slice(0, n))
        return
    bounds = np.linspace(0, n, threads + 1).round().astype(int)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]))


def _labels(scenarios) -> list[str]:
    first = scenarios[0].name
    return [s.name for s in scenarios] + [f"{s.name} minus {first}" for s in scenarios[1:]]


PERCENTILES = (5.0, 50.0, 95.0)


def _percentiles_inplace(part: np.ndarray, q=PERCENTILES) -> np.ndarray:
    """``np.percentile(part, q, axis=1)`` (the ``linear`` method, the same bits), partitioning
    ``part`` ``[cell, sample]`` in place: no copy, and only the order statistics the percentiles
    need (numpy's also finds each row's minimum and maximum). A row with NaN gives NaN, as
    numpy's does."""
    n = part.shape[1]
    virtual = (n - 1) * (np.asarray(q) / 100.0)  # in numpy's order of operations
    prev = np.floor(virtual).astype(int)
    nxt = np.minimum(prev + 1, n - 1)
    nan_rows = np.isnan(part).any(axis=1)
    part.partition(np.unique(np.concatenate([prev, nxt])), axis=1)
    out = np.empty((len(q), part.shape[0]))
    for j, t in enumerate(virtual - prev):
        a, b = part[:, prev[j]], part[:, nxt[j]]
        diff = b - a  # numpy's interpolation between the two order statistics, step for step
        res = np.add(a, diff * t)
        if t >= 0.5:
            res = np.subtract(b, diff * (1 - t), dtype=res.dtype)
        out[j] = res
    out[:, nan_rows] = np.nan
    return out


def _summarise(store: np.ndarray, inplace: bool = False) -> np.ndarray:
    """``(mean, p05, p50, p95)`` of every row of ``store`` ``[cell, sample]``: ``[4, cell]``.

    Blocks of rows are summarised on a few threads (numpy's selection releases the GIL); each
    row's statistics do not depend on the block it is in. ``inplace``: the percentiles reorder
    the samples of each row in ``store`` instead of a copy (for a store that is not used again).
    """
    import warnings

    samples = store.shape[1]
    stats = np.empty((4, store.shape[0]))
    step = max(1, (16 << 20) // (4 * samples))  # about 16 MB of cells at a time

    def block(i):
        part = store[i : i + step]
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # cells that are NaN in every sample
            # the mean first: partitioning reorders the samples
            stats[0, i : i + step] = part.mean(axis=1, dtype=np.float64)
            # selection works on the float32 samples themselves (no float64 copy); the result is
            # exact to float32's 7 digits, finer than the 6 written out
            if inplace:
                stats[1:, i : i + step] = _percentiles_inplace(part)
            else:
                stats[1:, i : i + step] = np.percentile(part, PERCENTILES, axis=1)

    starts = range(0, store.shape[0], step)
    _on_threads(lambda sl: [block(i) for i in starts[sl]], len(starts))
    return stats


def _setup(inputs, scenarios, products, regions, elements, out_years, samples, seed, draws=None):
    """The prepared products of a run and the arguments of their output cells."""
    # only the countries of the asked regions are modelled (every country for WORLD), and for a
    # product with used exports its exporters, whose exports may arrive there
    full = inputs.regions.membership(regions)
    asked = np.nonzero(full.any(axis=0))[0]
    idx_of = {p: np.union1d(asked, exporter_positions(inputs, [p])) for p in products}
    prepared = {p: _prepare(inputs, p, scenarios, samples, seed, idx_of[p], None if draws is None else draws[p])
                for p in products}
    years = prepared[products[0]].years
    yi = np.searchsorted(years, out_years)
    all_elements = [*ELEMENTS, TOTAL_ELEMENT]
    member_all = membership_array(inputs.regions, regions)
    ei = [all_elements.index(e) for e in elements]
    args = {p: (yi, member_all.isel(country=idx_of[p]), ei) for p in products}
    idx = np.union1d(asked, exporter_positions(inputs, products))
    return prepared, args, years, idx


def sample_flows(inputs, prepared, product, scenarios, args, inflow_at, start, stop, chunk, threads=None,
                 out=None) -> np.ndarray:
    """The flows of one product for samples ``start:stop`` (in chunks of ``chunk``):
    ``[scenario, sample, region, element, flow stage, year]`` float64, written to ``out`` if
    given (a buffer reused between blocks: fresh memory costs its first touch). ``threads``:
    threads of the Monte Carlo kernel (default :data:`urbanmine.ensemble.THREADS`); the numbers
    do not depend on it."""
    if out is None and stop - start <= chunk:
        return _product_flows(inputs, prepared[product], product, scenarios, slice(start, stop), False,
                              *args[product], inflow_at, False, threads)
    parts = []
    for a in range(start, stop, chunk):
        b = min(a + chunk, stop)
        view = None if out is None or not KERNEL else out[:, a - start:b - start]
        f = _product_flows(inputs, prepared[product], product, scenarios, slice(a, b), False, *args[product],
                           inflow_at, False, threads, view)
        if out is not None and f is not view:
            out[:, a - start:b - start] = f
        parts.append(f)
    if out is not None:
        return out
    return np.concatenate(parts, axis=1)


def run(inputs: EstimateInputs, scenarios, products, regions, elements, out_years, *, samples=0,
        seed=None, inflow_at="middle", chunk_size=1000, progress=None, check=True, draws=None,
        keep_samples=False, sample_map=None) -> dict:
    """Central values and statistics of every output cell.

    Returns a dict with ``labels`` (scenarios, then differences), ``products`` (the run's, then
    ``all`` when there are several), ``regions``, ``elements``, ``years``, ``central``
    ``[label, product, region, element, stage, year]`` and, with samples, ``mean``, ``p05``,
    ``p50``, ``p95`` of the same shape.

    Memory: products are sampled one at a time; the samples of one product's cells (float32)
    and a running per-sample sum of the products' flows (for ``all``) are held at once, so the
    peak grows with cells x samples x 2, not with the number of products.

    ``draws`` (product -> ``(u, z, v)``, see :func:`split_draws`) replaces the random draws;
    ``keep_samples`` adds ``samples`` ``[label, product, region, element, stage, year, sample]``
    (float32; for small runs such as a sensitivity analysis's one cell). ``sample_map(product,
    blocks)`` computes the flows of blocks of samples elsewhere (e.g. on Dask workers, see
    :mod:`urbanmine.scale`) and yields them in order; each sample's numbers do not depend on
    where or in which block it is computed.
    """
    if draws is not None:
        samples = next(iter(draws.values()))[0].shape[0]
    prepared, args, years, idx = _setup(inputs, scenarios, products, regions, elements, out_years, samples, seed,
                                        draws)
    with_total = len(products) > 1
    flows = [_product_flows(inputs, prepared[p], p, scenarios, slice(None), True, *args[p], inflow_at, check)
             for p in products]
    if with_total:
        flows.append(sum(flows[1:], flows[0].copy()))
    central = np.stack([_labelled(f)[:, 0] for f in flows], axis=1)  # [L, P, R, E, 7, Y]
    out = {
        "labels": _labels(scenarios),
        "products": list(products) + ([TOTAL_PRODUCT] if with_total else []),
        "regions": list(regions), "elements": list(elements), "years": np.asarray(out_years),
        "central": central,
    }
    if not samples:
        return out
    shape = central.shape
    n_labels, cell_shape = shape[0], shape[2:]
    n_cells = int(np.prod(cell_shape))
    stats = np.empty((4, n_labels, shape[1], n_cells))
    # a block holds one product's flows for a chunk of samples in float64 (twice while it is
    # stored) and, with the kernel, each country's rates in the output years: cap it near
    # 256 MB (results do not depend on the block size)
    if KERNEL:
        per_sample = 8 * (2 * n_labels * n_cells + 3 * len(out_years) * idx.size)
    else:
        per_sample = 4 * 8 * n_labels * n_cells + 8 * 16 * len(scenarios) * idx.size * len(ELEMENTS) * years.size
    chunk = max(1, min(chunk_size, (256 << 20) // per_sample))
    flow_shape = (len(scenarios),) + cell_shape[:2] + (len(FLOW_STAGES), cell_shape[-1])
    kept = []
    total = np.zeros(flow_shape + (samples,), dtype=np.float32) if with_total else None
    for pi, p in enumerate(products):
        # samples last (contiguous per cell); float32 halves the memory of large ensembles and
        # is far finer than the 6 significant digits written out
        store = np.empty((n_labels, n_cells, samples), dtype=np.float32)
        blocks = [(a, min(a + chunk, samples)) for a in range(0, samples, chunk)]
        # the mass balance was checked on the central run; the samples use the same kernels
        if sample_map is None:
            # one buffer for every block of samples: each block is stored before the next is computed
            buf = np.empty((len(scenarios), min(chunk, samples)) + cell_shape[:2] + (len(FLOW_STAGES), cell_shape[-1]))
            computed = (sample_flows(inputs, prepared, p, scenarios, args, inflow_at, a, b, chunk,
                                     out=buf[:, : b - a]) for a, b in blocks)
        else:
            computed = sample_map(p, blocks)
        view = store.reshape((n_labels,) + cell_shape + (samples,))
        for (start, stop), f in zip(blocks, computed):
            def put(rs, f=f, start=start, stop=stop, view=view):  # regions rs (disjoint per thread)
                _store(view[:, rs], f[:, :, rs], start, stop)
                if with_total:
                    total[:, rs, ..., start:stop] += np.moveaxis(f[:, :, rs], 1, -1)

            _on_threads(put, cell_shape[0])
            if progress is not None:
                progress((stop - start) / len(products))
        for li in range(n_labels):
            stats[:, li, pi] = _summarise(store[li], inplace=not keep_samples)
        if keep_samples:
            kept.append(store)
        del store
    if with_total:
        shares = np.empty((len(scenarios),) + cell_shape[:2] + (cell_shape[-1], samples), dtype=np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            for si in range(len(scenarios)):
                sales, rec = total[si, :, :, SALES], total[si, :, :, RECOVERED]
                shares[si] = np.where(sales > 0, rec / np.where(sales > 0, sales, 1.0), np.nan)
        n_flow = len(FLOW_STAGES)
        for li in range(n_labels):
            si = li if li < len(scenarios) else li - len(scenarios) + 1
            flows, share = total[si], shares[si]
            if li >= len(scenarios):  # a difference: B minus the first scenario, per sample
                flows, share = flows - total[0], share - shares[0]
            # the flow stages and the secondary share summarised apart (no concatenated copy)
            st = stats[:, li, -1].reshape((4,) + cell_shape)
            # a difference is a fresh array; the totals themselves are used again by the differences
            fresh = li >= len(scenarios) or (len(scenarios) == 1 and not keep_samples)
            st[:, :, :, :n_flow] = _summarise(flows.reshape(-1, samples), inplace=fresh and not keep_samples).reshape(
                (4,) + flows.shape[:-1])
            st[:, :, :, n_flow] = _summarise(share.reshape(-1, samples), inplace=fresh and not keep_samples).reshape(
                (4,) + share.shape[:-1])
            if keep_samples:
                if li == 0:
                    kept.append(np.empty((n_labels,) + cell_shape + (samples,), dtype=np.float32))
                kept[-1][li, :, :, :n_flow] = flows
                kept[-1][li, :, :, n_flow] = share
    if keep_samples:
        out["samples"] = np.stack([k.reshape(n_labels, n_cells, samples) for k in kept], axis=1).reshape(
            shape + (samples,))
    for name, v in zip(STAT_COLUMNS, stats):
        out[name] = v.reshape(shape)
    return out


def content_per_unit(inputs: EstimateInputs, product: str, segment: str, year: int, demand: str = "stated") -> float:
    """Rare earths (Nd + Pr + Dy + Tb) per unit of the world's new products of one segment in
    ``year`` [kg/unit; kg/MW for wind]: each country's own technology mix (its regional variant),
    weighted by its sales of that year on the ``demand`` path."""
    from .inflows import country_inflows
    from .profiles import variant_index

    prof, regions = inputs.profiles[product], inputs.regions
    segs = list(prof.segments)
    arr, years = country_inflows(inputs.inflows, inputs.keys, regions, demand, product, segs)
    units = arr[:, segs.index(segment), years == year][:, 0]  # [country]
    seg = prof.segments[segment]
    codes = list(seg.regional)
    table = np.stack([seg.share_values([year], variant=c)[:, 0] for c in [*codes, None]])  # [variant, K]
    mix = units @ table[variant_index(codes, regions, regions.countries)] / units.sum()
    content = prof.content([year])[:, :, 0].sum(axis=1)  # [technology] kg/unit
    k = [i for i, (s_, _) in enumerate(prof.technologies) if s_ == segment]
    return float(mix @ content[k])


def _check_choice(kind, values, allowed):
    bad = [v for v in values if v not in allowed]
    if bad:
        import difflib

        close = difflib.get_close_matches(str(bad[0]), [str(a) for a in allowed], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputDataError(f"unknown {kind} {bad[0]!r}; expected one of {', '.join(allowed)}{hint}")


def resolve_regions(regs, asked) -> list[str]:
    """Canonical region codes for ``asked``: country codes or groupings, case-insensitive;
    ``all`` (the default) gives the seven regions of urbanmine 0.1 and WORLD, ``countries``
    every country."""
    from .regions import WORLD

    out = []
    for code in (asked or ["all"]):
        if str(code).lower() == "all":
            out.extend(regs.default or [WORLD])
        elif str(code).lower() == "countries":
            out.extend(regs.countries)
        else:
            out.append(regs.resolve(code))
    return list(dict.fromkeys(out))


def _out_years(years, data_years):
    if years is None:
        return data_years
    ys = list(years)
    if len(ys) == 2 and isinstance(years, tuple):
        if ys[0] > ys[1]:
            raise InputDataError(f"years {ys[0]}-{ys[1]}: reversed range, expected first <= last")
        ys = list(range(ys[0], ys[1] + 1))
    out_years = np.array(sorted(set(int(y) for y in ys)))
    outside = [y for y in out_years if y < data_years[0] or y > data_years[-1]]
    if outside:
        asked = f"{out_years[0]}-{out_years[-1]}" if len(out_years) > 1 else f"{out_years[0]}"
        raise InputDataError(f"years {asked} reach outside the data's {data_years[0]}-{data_years[-1]}")
    return out_years


def estimate(regions=None, years=None, products=None, elements=None, scenario=DEFAULT_SCENARIO,
             samples: int = 0, seed=None, profiles=None, data=None, model=None, *, demand=None,
             inflow_at: str = "middle", chunk_size: int = 1000, inputs: EstimateInputs | None = None,
             progress=None, scenarios_out: list | None = None, region_groups=None, max_memory=None,
             scheduler: str | None = None):
    """Rare earths by scenario, region, product, element, stage and year, as a tidy DataFrame.

    Parameters
    ----------
    regions : list of str, optional
        Country codes (ISO 3166-1 alpha-3) or regions (groupings of countries: ``EU27``, ``G7``,
        ``AFRICA``, ... or a user's), case-insensitive; ``all`` (the default) is the seven regions
        ``CHN, EU27, USA, JPN, KOR, IND, ROW`` and ``WORLD``, ``countries`` every country.
    years : (int, int) or list of int, optional
        Output years: a ``(first, last)`` range or a list; default every data year. The model
        always runs from the first data year so that stocks are right.
    products : list of str, optional
        Default: every product profile. With several, product ``all`` (their sum) is added.
    elements : list of str, optional
        ``Nd, Pr, Dy, Tb`` and ``REE`` (their sum); default all five.
    scenario : str or list of str
        Scenario names (shipped in ``scenarios/``) or paths to scenario files; default
        ``current-practice``. With several, rows ``"B minus A"`` give each later scenario's
        difference from the first, computed per Monte Carlo sample.
    samples : int
        Monte Carlo samples (0: central values only).
    seed : int, optional
        Seed of the Monte Carlo draws.
    profiles, data, model : path-like, optional
        Directories of profiles and data and the collection model JSON (default: shipped).
    demand : str, optional
        Demand path of the inflow data (``stated``, ``accelerated``) for every scenario,
        overriding the scenarios' own.
    region_groups : path-like, optional
        A CSV of a user's own groupings (``region,member``), added to the shipped ones.
    scenarios_out : list, optional
        Filled with the resolved :class:`~urbanmine.scenarios.Scenario` objects (for metadata).
    max_memory : int, optional
        Budget [bytes] for the Monte Carlo samples held at once: the regions are run in blocks
        that fit it (default 2 GiB; :mod:`urbanmine.scale`). Percentiles stay exact; other budgets
        agree to floating-point rounding, and the same budget gives the same bytes.
    scheduler : str, optional
        Run the blocks on Dask: ``local`` or ``local:N`` (a LocalCluster with N worker
        processes) or ``tcp://HOST:PORT`` (a running scheduler). Same output, byte for byte.

    Returns
    -------
    pandas.DataFrame with columns ``scenario, region, product, element, stage, unit, year, value``
    and, with samples, ``mean, p05, p50, p95``.
    """
    import pandas as pd

    if inflow_at not in INFLOW_AT:
        raise InputDataError(f"inflow_at = {inflow_at!r}, expected one of {', '.join(INFLOW_AT)}")
    if int(samples) != samples or samples < 0:
        raise InputDataError(f"samples = {samples!r}, expected an integer >= 0")
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise InputDataError(f"chunk_size = {chunk_size!r}, expected an integer >= 1")
    inputs = inputs or load_inputs(profiles, data, model, region_groups)
    regions = resolve_regions(inputs.regions, regions)
    products = [p for p in (products or list(inputs.profiles)) if p != TOTAL_PRODUCT] or list(inputs.profiles)
    _check_choice("product", products, list(inputs.profiles))
    products = list(dict.fromkeys(products))
    all_elements = [*ELEMENTS, TOTAL_ELEMENT]
    elements = list(dict.fromkeys(elements or all_elements))
    _check_choice("element", elements, all_elements)
    names = [scenario] if isinstance(scenario, str) else list(scenario or [DEFAULT_SCENARIO])
    scenarios = [inputs.scenario(n, demand) for n in names]
    labels = [s.name for s in scenarios]
    if len(set(labels)) != len(labels):
        dup = next(x for x in labels if labels.count(x) > 1)
        raise InputDataError(f"scenario {dup!r} is given more than once")
    if scenarios_out is not None:
        scenarios_out.extend(scenarios)
    data_years = np.sort(inputs.inflows["year"].unique())
    out_years = _out_years(years, data_years)
    from .scale import DEFAULT_MAX_MEMORY, parse_scheduler, run_blocked

    if scheduler is not None:
        parse_scheduler(scheduler)
    spec = {"profiles": str(inputs.profile_dir), "data": str(inputs.data_dir),
            "model": None if inputs.model_path is None else str(inputs.model_path),
            "regions_file": None if inputs.regions_file is None else str(inputs.regions_file),
            "scenarios": [str(s.path) if s.path else s.name for s in scenarios], "demand": demand}
    res = run_blocked(inputs, scenarios, products, regions, elements, out_years, samples=samples, seed=seed,
                      inflow_at=inflow_at, chunk_size=chunk_size, progress=progress,
                      max_memory=DEFAULT_MAX_MEMORY if max_memory is None else max_memory,
                      scheduler=scheduler, spec=spec)
    cols = ["central"] + (list(STAT_COLUMNS) if samples else [])
    shape = res["central"].shape  # [L, P, R, E, stage, Y]
    idx = np.indices(shape).reshape(len(shape), -1)
    def labels(codes, categories):
        # categorical columns: built from integer codes without a Python object per row (an
        # every-country table has millions of rows); they read and write like strings
        return pd.Categorical.from_codes(codes, categories=list(dict.fromkeys(categories)))

    unit_of = [STAGE_UNITS[s] for s in STAGES]
    df = pd.DataFrame({
        "scenario": labels(idx[0], res["labels"]),
        "region": labels(idx[2], res["regions"]),
        "product": labels(idx[1], res["products"]),
        "element": labels(idx[3], res["elements"]),
        "stage": labels(idx[4], STAGES),
        "unit": pd.Categorical.from_codes(np.array([sorted(set(unit_of)).index(u) for u in unit_of])[idx[4]],
                                          categories=sorted(set(unit_of))),
        "year": res["years"][idx[5]],
        "value": res["central"].reshape(-1),
    })
    for c in cols[1:]:
        df[c] = res[c].reshape(-1)
    return df
