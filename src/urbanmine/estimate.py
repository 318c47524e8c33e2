r"""The estimate: profiles -> inflows -> stocks -> collection -> recovery, as a tidy table.

This is the only module that knows the order of the steps. For every product, region and
element (cohort year :math:`c`, calendar year :math:`t`)::

    sales[r, e, c]        = sum_k inflow[r, seg(k), c] * share[k, c] * magnet[k, c] * fraction[k, e, c]   [t/yr]
    in_use_stock, eol     = inflow-driven cohort model of sales with the product lifetime          [t], [t/yr]
    collected[r, e, t]    = eol * collection_rate[r, t]                                             [t/yr]
    liberated             = collected * liberation                                                  [t/yr]
    recovered             = liberated * process_yield                                               [t/yr]
    secondary_share       = recovered / sales (same region, year, element)                          [1]

``inflow`` [unit/yr] comes from ``data/inflows.csv``; shares, magnet mass [kg/unit], element
fractions, lifetime and efficiencies from the product profile; ``collection_rate`` from the
fitted collection-rate model for the product's category, or from the profile's assumed rate
(wind). ``WORLD`` is the sum of the regions (its secondary share is the ratio of the sums).

Monte Carlo
-----------
With ``samples > 0`` every uncertain input is drawn per sample: each profile number with a
``low``/``high`` range from a triangular distribution (low, central, high), one uniform draw per
number and sample applied to all its anchor years; technology shares move between the low-magnet
mix (draw 0), the central mix (0.5) and the high-magnet mix (1); the collection model's
coefficients from their covariance and each region's effect from N(0, region_effect_sd).
All draws for all samples are made up front from ``numpy.random.SeedSequence(seed)`` spawned per
product, so results do not depend on the chunk size, and samples are then processed in chunks
of bounded memory.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from . import units
from .errors import InputDataError
from .inflows import AGGREGATE, REGIONS
from .lifetimes import INFLOW_AT, Lifetime
from .profiles import ELEMENTS, Profile, Quantity
from .stocks import inflow_driven

__all__ = ["STAGES", "STAGE_UNITS", "estimate", "EstimateInputs", "load_inputs", "compute"]

STAGES = ("sales", "in_use_stock", "end_of_life", "collected", "liberated", "recovered", "secondary_share")
STAGE_UNITS = {
    "sales": units.MASS_FLOW, "in_use_stock": units.MASS, "end_of_life": units.MASS_FLOW,
    "collected": units.MASS_FLOW, "liberated": units.MASS_FLOW, "recovered": units.MASS_FLOW,
    "secondary_share": units.FRACTION,
}
OUTPUT_COLUMNS = ("scenario", "region", "product", "element", "stage", "unit", "year", "value")
STAT_COLUMNS = ("mean", "p05", "p50", "p95")


# -- inputs -------------------------------------------------------------------------------------


@dataclass
class EstimateInputs:
    """Everything an estimate reads, loaded and validated once."""

    profiles: dict[str, Profile]
    inflows: object  # pandas DataFrame
    model: object  # CollectionModel
    data_dir: object
    files: list  # every input file, for the provenance record


def load_inputs(profiles=None, data=None, model=None) -> EstimateInputs:
    from pathlib import Path

    from .collection import load_model
    from .defaults import default_dir
    from .inflows import load_inflows
    from .profiles import load_profiles

    prof_dir = Path(profiles) if profiles is not None else default_dir("product_profiles")
    data_dir = Path(data) if data is not None else default_dir("data")
    model_path = Path(model) if model is not None else default_dir("models") / "collection_rate.json"
    profs = load_profiles(prof_dir)
    inflows = load_inflows(data_dir)
    mdl = load_model(model_path)
    files = sorted(prof_dir.glob("*.toml")) + [data_dir / n for n in (
        "inflows.csv", "regressors.csv", "policy_years.csv")] + [model_path]
    return EstimateInputs(profs, inflows, mdl, data_dir, files)


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
    for spec in (profile.lifetime, profile.storage):
        if spec:
            n += sum(spec[p].has_range for p in spec if p != "family")
    for s, t in profile.technologies:
        n += profile.technology(s, t).magnet_kg_per_unit.has_range
    for comp in profile.compositions.values():
        n += sum(q.has_range for e, q in comp.items() if e in profile.elements)
    for seg in profile.segments.values():
        n += ("low" in seg.shares or "high" in seg.shares)
    n += sum(q.has_range for q in profile.end_of_life.values())
    return n


@dataclass
class _ProductParams:
    shares: np.ndarray  # [S, K, C]
    magnet: np.ndarray  # [S, K, C] kg/unit
    fractions: np.ndarray  # [S, K, E, C]
    lifetime: Lifetime  # parameters [S, 1, 1, 1]
    liberation: np.ndarray  # [S]
    process_yield: np.ndarray  # [S]
    collection: np.ndarray | None  # [S] assumed rate, or None (model)


def _lifetime(spec, knobs, n) -> Lifetime:
    from .lifetimes import FAMILIES

    cls = FAMILIES[spec["family"]]
    vals = {}
    for p in cls.param_names:
        v = _scalar(spec[p], knobs)
        vals[p] = np.broadcast_to(v, (n,)).reshape(n, 1, 1, 1) if n > 1 else float(v[0])
    return cls(**vals)


def _product_params(profile: Profile, years, u: np.ndarray | None, elements) -> _ProductParams:
    knobs = _Knobs(u)
    n = 1 if u is None else u.shape[0]
    # the order of draws is fixed by the profile (see n_knobs): lifetime, storage, magnets,
    # compositions, shares, end of life
    lifetime = _lifetime(profile.lifetime, knobs, n)
    if profile.storage is not None:
        lifetime = lifetime.then(_lifetime(profile.storage, knobs, n))
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
    shares = []
    for _sid, seg in profile.segments.items():
        central = np.array([np.interp(years, seg.share_years, seg.shares["central"][t]) for t in seg.technologies])
        has_range = "low" in seg.shares or "high" in seg.shares
        w = knobs.next() if has_range else None
        if w is None:
            shares.append(np.broadcast_to(central, (n,) + central.shape))
            continue
        lo = np.array([np.interp(years, seg.share_years, seg.shares.get("low", seg.shares["central"])[t]) for t in seg.technologies])
        hi = np.array([np.interp(years, seg.share_years, seg.shares.get("high", seg.shares["central"])[t]) for t in seg.technologies])
        w = w[:, None, None]
        shares.append(np.where(w < 0.5, lo + (central - lo) * (w / 0.5), central + (hi - central) * ((w - 0.5) / 0.5)))
    shares = np.concatenate(shares, axis=1)
    eol = profile.end_of_life
    liberation = np.broadcast_to(_scalar(eol["liberation"], knobs), (n,))
    process_yield = np.broadcast_to(_scalar(eol["process_yield"], knobs), (n,))
    collection = None
    if "collection" in eol:
        collection = np.broadcast_to(_scalar(eol["collection"], knobs), (n,))
    return _ProductParams(shares, magnet, fractions, lifetime, liberation, process_yield, collection)


# -- the computation ----------------------------------------------------------------------------


def _segment_index(profile: Profile):
    segs = list(profile.segments)
    return segs, np.array([segs.index(s) for s, _ in profile.technologies])


def _stages(inflow, seg_of_k, params: _ProductParams, rate, inflow_at, check):
    """All stages ``[S, R, E, stage, T]`` for one product and one block of samples."""
    units_in = inflow[None, :, seg_of_k, :] * params.shares[:, None]  # [S, R, K, C]
    per_unit = params.magnet[:, :, None, :] * params.fractions  # [S, K, E, C] kg/unit
    sales = np.einsum("srkc,skec->srec", units_in, per_unit) * units.T_PER_KG  # [S, R, E, C]
    res = inflow_driven(sales, params.lifetime, inflow_at, check=check)
    stock = np.broadcast_to(res.stock, sales.shape)
    eol = np.broadcast_to(res.outflow, sales.shape)
    collected = eol * rate[:, :, None, :]
    liberated = collected * params.liberation[:, None, None, None]
    recovered = liberated * params.process_yield[:, None, None, None]
    return np.stack([sales, stock, eol, collected, liberated, recovered], axis=3)


def _with_world(flows):
    """Append WORLD (sum over regions) and the secondary share: ``[S, R+1, E, stage, T]``."""
    world = flows.sum(axis=1, keepdims=True)
    allr = np.concatenate([flows, world], axis=1)
    sales, recovered = allr[:, :, :, 0], allr[:, :, :, 5]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(sales > 0, recovered / np.where(sales > 0, sales, 1.0), np.nan)
    return np.concatenate([allr, share[:, :, :, None]], axis=3)


def _product_rng(seed, product: str):
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(zlib.crc32(product.encode()),))
    return np.random.default_rng(ss)


def compute(inputs: EstimateInputs, product: str, scenario: str, *, samples: int = 0, seed=None,
            inflow_at: str = "middle", chunk_size: int = 1000, out_years=None, progress=None,
            check: bool = True) -> dict:
    """Central values and, with samples, statistics for one product.

    Returns a dict with ``years`` (output years), ``elements``, ``central``
    ``[R+1, E, stage, Y]`` and, with samples, ``mean``, ``p05``, ``p50``, ``p95`` of the same shape.
    """
    from .collection import projection_features
    from .inflows import inflow_array

    prof = inputs.profiles[product]
    segs, seg_of_k = _segment_index(prof)
    inflow, years = inflow_array(inputs.inflows, scenario, product, segs)
    out_years = years if out_years is None else np.asarray(out_years)
    yi = np.searchsorted(years, out_years)
    elements = list(ELEMENTS)
    model = inputs.model
    if prof.collection_category is not None:
        x = projection_features(model, list(REGIONS), years, prof.collection_category, inputs.data_dir)
    else:
        x = None

    def rates(params, z):
        if x is None:
            return np.broadcast_to(params.collection[:, None, None], (params.collection.size, len(REGIONS), years.size))
        return model.rates(x, z)

    central_params = _product_params(prof, years, None, elements)
    central = _stages(inflow, seg_of_k, central_params, rates(central_params, None), inflow_at, check)
    out = {"years": out_years, "elements": elements, "central": _with_world(central[..., yi])[0]}
    if not samples:
        return out
    rng = _product_rng(seed, product)
    u_all = rng.random((samples, n_knobs(prof)))
    z_all = rng.standard_normal((samples, len(model.coefficients) + len(REGIONS))) if x is not None else None
    cell_shape = (len(REGIONS) + 1, len(elements), len(STAGES), out_years.size)
    # samples last (contiguous per cell); float32 halves the memory of large ensembles and
    # is far finer than the 6 significant digits written out
    acc = np.empty((int(np.prod(cell_shape)), samples), dtype=np.float32)
    for start in range(0, samples, chunk_size):  # chunks of samples bound the memory
        stop = min(start + chunk_size, samples)
        params = _product_params(prof, years, u_all[start:stop], elements)
        z = None if z_all is None else z_all[start:stop]
        # the mass balance was checked on the central run; the samples use the same kernels
        block = _stages(inflow, seg_of_k, params, rates(params, z), inflow_at, False)
        acc[:, start:stop] = _with_world(block[..., yi]).reshape(stop - start, -1).T
        if progress is not None:
            progress(stop - start)
    stats = np.empty((4, acc.shape[0]))
    block = max(1, (64 << 20) // (8 * samples))  # about 64 MB of cells at a time
    with np.errstate(invalid="ignore"):
        for i in range(0, acc.shape[0], block):
            part = acc[i : i + block].astype(np.float64)
            stats[0, i : i + block] = part.mean(axis=1)
            stats[1:, i : i + block] = np.percentile(part, [5, 50, 95], axis=1)
    out["mean"], out["p05"], out["p50"], out["p95"] = (v.reshape(cell_shape) for v in stats)
    return out


def _check_choice(kind, values, allowed):
    bad = [v for v in values if v not in allowed]
    if bad:
        raise InputDataError(f"unknown {kind} {bad[0]!r}; expected one of {', '.join(allowed)}")


def estimate(regions=None, years=None, products=None, elements=None, scenario: str = "stated",
             samples: int = 0, seed=None, profiles=None, data=None, model=None, *,
             inflow_at: str = "middle", chunk_size: int = 1000, inputs: EstimateInputs | None = None,
             progress=None):
    """Recoverable rare earths as a tidy pandas DataFrame.

    Parameters
    ----------
    regions : list of str, optional
        Region codes (``CHN, EU27, USA, JPN, KOR, IND, ROW`` or ``WORLD``); default all and WORLD.
    years : (int, int) or list of int, optional
        Output years: a ``(first, last)`` range or a list; default every data year. The model
        always runs from the first data year so that stocks are right.
    products, elements : list of str, optional
        Default: every product profile, every element (``Nd, Pr, Dy, Tb``).
    scenario : str
        A scenario of the data (``stated``, ``accelerated``).
    samples : int
        Monte Carlo samples (0: central values only).
    seed : int, optional
        Seed of the Monte Carlo draws.
    profiles, data, model : path-like, optional
        Directories of profiles and data and the collection model JSON (default: shipped).

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
    inputs = inputs or load_inputs(profiles, data, model)
    all_regions = [*REGIONS, AGGREGATE]
    regions = list(all_regions if not regions else regions)
    _check_choice("region", regions, all_regions)
    products = list(inputs.profiles if not products else products)
    _check_choice("product", products, list(inputs.profiles))
    elements = list(ELEMENTS if not elements else elements)
    _check_choice("element", elements, list(ELEMENTS))
    known = sorted(inputs.inflows["scenario"].unique())
    if scenario not in known:
        raise InputDataError(f"unknown scenario {scenario!r}; expected one of {', '.join(known)}")
    data_years = np.sort(inputs.inflows["year"].unique())
    if years is None:
        out_years = data_years
    else:
        ys = list(years)
        if len(ys) == 2 and isinstance(years, tuple):
            if ys[0] > ys[1]:
                raise InputDataError(f"years {ys[0]}-{ys[1]}: reversed range, expected first <= last")
            ys = list(range(ys[0], ys[1] + 1))
        out_years = np.array(sorted(set(int(y) for y in ys)))
        outside = [y for y in out_years if y < data_years[0] or y > data_years[-1]]
        if outside:
            asked = f"{out_years[0]}-{out_years[-1]}" if len(out_years) > 1 else f"{out_years[0]}"
            raise InputDataError(
                f"years {asked} reach outside the data's {data_years[0]}-{data_years[-1]}"
            )
    frames = []
    ri = [all_regions.index(r) for r in regions]
    ei = [ELEMENTS.index(e) for e in elements]
    for product in products:
        res = compute(inputs, product, scenario, samples=samples, seed=seed, inflow_at=inflow_at,
                      chunk_size=chunk_size, out_years=out_years, progress=progress)
        cols = ["central"] + (list(STAT_COLUMNS) if samples else [])
        arrs = {c: res[c][ri][:, ei] for c in cols}  # [R, E, stage, Y]
        shape = arrs["central"].shape
        idx = np.indices(shape).reshape(len(shape), -1)
        df = pd.DataFrame({
            "scenario": scenario,
            "region": np.array(regions, dtype=object)[idx[0]],
            "product": product,
            "element": np.array(elements, dtype=object)[idx[1]],
            "stage": np.array(STAGES, dtype=object)[idx[2]],
            "unit": np.array([STAGE_UNITS[s] for s in STAGES], dtype=object)[idx[2]],
            "year": out_years[idx[3]],
            "value": arrs["central"].reshape(-1),
        })
        for c in cols[1:]:
            df[c] = arrs[c].reshape(-1)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
