r"""The Monte Carlo kernel: one product's regional output cells for a block of samples.

The central run composes the stages of :mod:`urbanmine.pipeline` over named arrays: every
country's sales, in-use stock and flows are formed and then summed into the asked regions. A
sample needs the same numbers, but with 10^4 samples of 235 countries the per-country arrays
of every stage are most of the cost. This kernel computes the same quantities with the work
arranged for large ensembles (equal to the pipeline to rounding: ``tests/test_ensemble.py``):

* **Classes of countries.** Countries that share a lifetime (the profile's regional variant and
  the scenario's lifetime factor) form a *lifetime class*; those that also share a technology
  mix (the profile's variant and the scenario's technology shifts) a *mix class*. A lifetime
  class's countries share every sample's cohort kernel, so their end-of-life outflows in the
  output years are one matrix product per sample::

      eol[s, y, (e, c)] = P[s, y, τ] @ sales[s, τ, (e, c)]          [t/yr]

  with ``P[y, τ]`` the share of cohort ``τ`` leaving in output year ``y`` (a Toeplitz matrix of
  the retirement kernel, or the full table when a lifetime factor varies by cohort).
* **Linear stages at region level.** Sales and the in-use stock need no country's rate: sales
  are summed into regions per lifetime class and the stock is the region's sales convolved with
  the class's survival kernel. Net used exports are a fixed linear map of the exporters' outflows.
* **The chain per country, summed at once.** Collected, liberated and recovered flows multiply
  each country's outflow by its rates (cumulatively); the stages of a class are stacked and summed
  into regions in one matrix product with the membership matrix. A rate that is the same in
  every country (the usual ``*`` lever) is applied after the sum, to the regions.

Everything is float64 and vectorised over samples, countries, elements and years; the loops are
over classes, segments and exporters (a handful each).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import units as _units
from .lifetimes import FAMILIES, Chained, age_kernel, survival_factors, varies_by_cohort
from .stocks import _pdf_from_sf, _pdf_matrix

__all__ = ["sample_cells"]

N_FLOW_STAGES = 7  # sales, in_use_stock, net_export, end_of_life, collected, liberated, recovered


def _row_ids(n: int, *tables) -> np.ndarray:
    """An integer id per row ``0..n-1``, equal where every table's row is equal (NaN equal NaN)."""
    cols = [np.nan_to_num(np.asarray(t, dtype=float).reshape(n, -1), nan=np.inf) for t in tables if t is not None]
    if not cols:
        return np.zeros(n, dtype=int)
    _, inv = np.unique(np.concatenate(cols, axis=1), axis=0, return_inverse=True)
    return inv.reshape(-1)


@dataclass
class _Classes:
    """Countries ordered by (lifetime class, mix class): everything fixed by the inputs, the
    scenario and the regions (not by the draws)."""

    order: np.ndarray  # positions in prep.countries, classes contiguous
    lt_slices: list  # per lifetime class: (slice into order, representative position, lifetime group)
    mix_reps: np.ndarray  # representative position of every mix class
    parts: list  # per lifetime class: list of (slice local to the class, mix class, inflow [T, G, n], regional
    # inflow [T, G, R]) with the inflow of the scenario's demand path [unit/yr]
    members: list  # per lifetime class: membership [R, n_class] (float64)
    trade: tuple | None  # (exporter (class, local index) list, D [Y, exporter, country-ordered], Mm [Y, exporter, R])


def _lifetime_groups(lifetime, n_c):
    """Group index of every country and the group's lifetime."""
    if not isinstance(lifetime, list):
        return np.zeros(n_c, dtype=int), [lifetime]
    g = np.empty(n_c, dtype=int)
    for i, (pos, _) in enumerate(lifetime):
        g[pos] = i
    return g, [lt for _, lt in lifetime]


def _classes(prep, product, scen, params, yi, membership) -> _Classes:
    years = prep.years
    n_c = len(prep.countries)
    countries = prep.countries
    group, _ = _lifetime_groups(params.lifetime, n_c)
    factor = scen.paths("lifetime_factor", product, countries, years)
    lt_id = _row_ids(n_c, group, *(factor or ()))
    keys = params.share_keys()
    shift = [scen.paths("technology_shift", product, countries, years, technology_from=a, technology_to=b)
             for a, b in scen.shifts(product)]
    mix_id = _row_ids(n_c, keys, *(t for p in shift if p is not None for t in p))
    order = np.lexsort((np.arange(n_c), mix_id, lt_id))
    m = np.asarray(membership, dtype=float)
    inflow = np.moveaxis(prep.inflow[scen.demand], 0, -1).transpose(1, 0, 2)  # [cohort, segment, country]
    lt_slices, parts, members, mix_reps = [], [], [], {}
    bounds = np.flatnonzero(np.diff(lt_id[order])) + 1
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, n_c]):
        pos = order[a:b]
        lt_slices.append((slice(int(a), int(b)), int(pos[0]), int(group[pos[0]])))
        sub = np.flatnonzero(np.diff(mix_id[pos])) + 1
        cls_parts = []
        for c, d in zip(np.r_[0, sub], np.r_[sub, len(pos)]):
            mi = mix_reps.setdefault(int(mix_id[pos[c]]), (len(mix_reps), int(pos[c])))[0]
            infl = np.ascontiguousarray(inflow[:, :, pos[c:d]])
            cls_parts.append((slice(int(c), int(d)), mi, infl, infl @ m[:, pos[c:d]].T))
        parts.append(cls_parts)
        members.append(np.ascontiguousarray(m[:, pos].T))  # [n_class, R]
    reps = np.array([p for _, p in sorted(mix_reps.values())], dtype=int)
    trade = None
    if prep.trade is not None:
        exp_pos, share, dest = prep.trade  # [X], [X, T], [country, X, T]
        n_x = len(exp_pos)
        origin = np.zeros((n_c, n_x))
        origin[exp_pos, np.arange(n_x)] = 1.0
        d_full = (origin[:, :, None] - dest) * share[None]  # [country, X, T]: net export per unit outflow
        d_out = np.transpose(d_full[:, :, yi], (2, 1, 0))  # [Y, X, country]
        where = []
        for x in exp_pos:
            k = int(np.flatnonzero(order == x)[0])
            cls = next(i for i, (s_, _, _) in enumerate(lt_slices) if s_.start <= k < s_.stop)
            where.append((cls, k - lt_slices[cls][0].start))
        mm = np.einsum("yxc,rc->yxr", d_out, m)  # [Y, X, R]
        trade = (where, np.ascontiguousarray(d_out[:, :, order]), mm)
    return _Classes(order, lt_slices, reps, parts, members, trade)


def _kernels(lifetime, factor_row, n_samples, n_years, yi, inflow_at):
    """Survival and retirement matrices ``[S, Y, cohort]`` of one lifetime class for the output
    years ``yi``: the share of each cohort in use at the end of output year ``y`` and leaving in
    it [1]. ``factor_row`` ``[S or 1, cohort]`` scales the lifetime (a scenario lever) or None."""
    if factor_row is not None:
        lt = lifetime.scaled(factor_row[:, None, None, :])
    else:
        lt = lifetime
    if not varies_by_cohort(lt):
        return _toeplitz(age_kernel(lt, n_years, inflow_at).reshape(-1, n_years), n_samples, n_years, yi)
    else:
        sf = survival_factors(lt, n_years, inflow_at).reshape(-1, n_years, n_years)  # [S, c, t]
        sf_y = np.swapaxes(sf[:, :, yi], 1, 2)
        pdf_y = np.swapaxes(_pdf_matrix(sf)[:, :, yi], 1, 2)
    shape = (n_samples,) + sf_y.shape[1:]
    return (np.ascontiguousarray(np.broadcast_to(sf_y, shape)),
            np.ascontiguousarray(np.broadcast_to(pdf_y, shape)))


def _stacked(lifetimes):
    """One lifetime whose parameters are ``[S or 1, class, 1]``: the lifetimes of the classes side
    by side (same family), so that their kernels are computed in one call; a storage delay shared
    by every class stays unstacked (``[S or 1, 1, 1]``) and is evaluated once. None if the
    classes' lifetimes are not of one family."""
    first = lifetimes[0]
    if any(type(lt) is not type(first) for lt in lifetimes):
        return None
    if isinstance(first, Chained):
        use = _stacked([lt.use for lt in lifetimes])
        shared = all(lt.storage is first.storage for lt in lifetimes)
        store = _stacked([first.storage] if shared else [lt.storage for lt in lifetimes])
        if use is None or store is None:
            return None
        return Chained(use, store, steps_per_year=first.steps_per_year)
    if type(first) not in FAMILIES.values():
        return None
    names = first.param_names
    cols = [np.broadcast_arrays(*(np.asarray(lt._params[p], dtype=float).reshape(-1) for p in names))
            for lt in lifetimes]
    return first._with_params({p: np.stack([c[i] for c in cols], axis=1)[..., None] for i, p in enumerate(names)})


def _class_kernels(lifetimes, factors, n_samples, n_years, yi, inflow_at):
    """:func:`_kernels` of every lifetime class: one call for all when no class has a lifetime
    factor and their lifetimes stack (:func:`_stacked`)."""
    if len(lifetimes) > 1 and all(f is None for f in factors):
        lt = _stacked(lifetimes)
        if lt is not None:
            k = age_kernel(lt, n_years, inflow_at)  # [S or 1, class, age]
            return [_toeplitz(k[:, i], n_samples, n_years, yi) for i in range(len(lifetimes))]
    return [_kernels(lt, f, n_samples, n_years, yi, inflow_at) for lt, f in zip(lifetimes, factors)]


def _toeplitz(k, n_samples, n_years, yi):
    """Survival and retirement ``[S, Y, cohort]`` from a survival kernel by age ``[S or 1, age]``."""
    pdf = _pdf_from_sf(k)
    lag = yi[:, None] - np.arange(n_years)[None, :]  # [Y, cohort]
    ok = lag >= 0
    lag = np.clip(lag, 0, None)
    shape = (n_samples, len(yi), n_years)
    return (np.ascontiguousarray(np.broadcast_to(np.where(ok, k[:, lag], 0.0), shape)),
            np.ascontiguousarray(np.broadcast_to(np.where(ok, pdf[:, lag], 0.0), shape)))


def _uniform(rate) -> bool:
    """Whether a rate ``[S, country, Y]`` is the same in every country."""
    return bool(np.all(rate == rate[:, :1, :]))


def sample_cells(prep, product, scen, params, yi, membership, rates, factor, shift_draw, inflow_at, n):
    """Flow stages of one product under one scenario, summed into regions: ``[n, R, E, 7, Y]``
    [t/yr, t] with stages in the order of :data:`urbanmine.estimate.FLOW_STAGES`.

    Parameters
    ----------
    prep : urbanmine.estimate._Prepared
        The product's inflows, countries and used exports.
    params : urbanmine.estimate._ProductParams
        The profile's numbers for the block's ``n`` samples (or the central values, ``n`` = 1).
    yi : array of int
        Positions of the output years in ``prep.years``.
    membership : ndarray ``[region, country]``
        0/1 membership of the modelled countries (``prep.countries``) in the output regions.
    rates : (collection, liberation, process_yield)
        Each ``[S or 1, country, Y]`` for the output years, clipped to 0-1 [1].
    factor : callable
        ``factor(positions)`` -> lifetime factor ``[S or 1, len(positions), cohort]`` or None.
    shift_draw : callable
        ``shift_draw(shares, positions)`` -> technology shares after the scenario's shifts.
    """
    key = (scen.name, membership.shape, membership.tobytes(), yi.tobytes())
    cls = prep.cache.get(key)
    if cls is None:
        cls = prep.cache[key] = _classes(prep, product, scen, params, yi, membership)
    n_t, n_y = len(prep.years), len(yi)
    n_e = params.fractions.shape[2]
    n_r = membership.shape[0]
    seg_of_k = prep.seg_of_k
    n_seg = int(seg_of_k.max()) + 1
    onehot = (seg_of_k[None, :] == np.arange(n_seg)[:, None]).astype(float)  # [segment, K]
    # sales per unit of each segment's inflow, by mix class: [mix, cohort, (S, E), segment] [t/unit]
    shares = shift_draw(params.shares_of(cls.mix_reps), cls.mix_reps)  # [S, mix, K, C]
    per_unit = np.einsum("smkc,skec,gk->mcseg", np.broadcast_to(shares, (n,) + shares.shape[1:]),
                         np.broadcast_to(params.magnet[:, :, None, :] * params.fractions,
                                         (n,) + params.fractions.shape[1:]),
                         onehot, optimize=True) * _units.T_PER_KG
    per_unit = np.ascontiguousarray(per_unit).reshape(per_unit.shape[0], n_t, n * n_e, n_seg)
    _, group_lt = _lifetime_groups(params.lifetime, len(prep.countries))
    # the rates in the classes' country order, [S or 1, Y, country]
    collection, liberation, process_yield = rates
    lib_u, yld_u = _uniform(liberation), _uniform(process_yield)
    col = np.ascontiguousarray(np.swapaxes(collection[:, cls.order], 1, 2))
    lib = None if lib_u else np.ascontiguousarray(np.swapaxes(liberation[:, cls.order], 1, 2))
    yld = None if lib_u and yld_u else np.ascontiguousarray(np.swapaxes(process_yield[:, cls.order], 1, 2))
    if lib_u and yld is not None:  # only the yield differs by country: liberation joins it
        yld = yld * liberation[:, :1, :].swapaxes(1, 2)
    factors = []
    for _, rep, _ in cls.lt_slices:
        f = factor(np.array([rep]))
        factors.append(None if f is None else f[:, 0, :])
    kernels = _class_kernels([group_lt[g] for _, _, g in cls.lt_slices], factors, n, n_t, yi, inflow_at)
    sales_r = np.zeros((n_t, n * n_e, n_r))  # [cohort, (S, E), R]
    stock_r = np.zeros((n, n_y, n_e * n_r))
    eol = []
    for li, (sl, _, _) in enumerate(cls.lt_slices):
        n_k = sl.stop - sl.start
        sales = np.empty((n_t, n * n_e, n_k))  # [cohort, (S, E), country]
        reg = np.zeros((n_t, n * n_e, n_r))
        for msl, mi, infl, infl_r in cls.parts[li]:
            np.matmul(per_unit[mi], infl, out=sales[:, :, msl])
            reg += per_unit[mi] @ infl_r
        sf_y, pdf_y = kernels[li]
        sales_r += reg
        # stock of the regions and outflow of each country, [S, Y, (E, R)] and [S, Y, (E, country)]
        stock_r += np.matmul(sf_y, reg.reshape(n_t, n, n_e * n_r).transpose(1, 0, 2))
        eol.append(np.matmul(pdf_y, sales.reshape(n_t, n, n_e * n_k).transpose(1, 0, 2)).reshape(n, n_y, n_e, n_k))
    net_r = np.zeros((n, n_y, n_e, n_r))
    if cls.trade is not None:
        where, d_out, mm = cls.trade
        leaving = [eol[c][..., j].copy() for c, j in where]  # each exporter's outflow [S, Y, E]
        for xi, out_x in enumerate(leaving):
            net_r += out_x[..., None] * mm[None, :, xi, None, :]
            for li, (sl, _, _) in enumerate(cls.lt_slices):
                eol[li] -= out_x[..., None] * d_out[None, :, xi, None, sl]
    # a rate that is the same in every country is applied to the regions' sums; otherwise its
    # stage is formed by country: outflow, collected, then liberated and recovered or recovered
    stages = 4 if not lib_u else (2 if yld_u else 3)
    chain = np.zeros((stages, n * n_y * n_e, n_r))
    for li, (sl, _, _) in enumerate(cls.lt_slices):
        m_t = cls.members[li]
        flow = eol[li]
        chain[0] += flow.reshape(-1, flow.shape[-1]) @ m_t
        flow = flow * col[:, :, None, sl]
        chain[1] += flow.reshape(-1, flow.shape[-1]) @ m_t
        if lib is not None:
            flow *= lib[:, :, None, sl]
            chain[2] += flow.reshape(-1, flow.shape[-1]) @ m_t
        if yld is not None:
            flow *= yld[:, :, None, sl]
            chain[stages - 1] += flow.reshape(-1, flow.shape[-1]) @ m_t
    chain = chain.reshape(stages, n, n_y, n_e, n_r)
    out = np.empty((n, n_r, n_e, N_FLOW_STAGES, n_y))

    def put(stage, arr):  # arr [S, Y, E, R]
        out[:, :, :, stage, :] = np.transpose(arr, (0, 3, 2, 1))

    put(0, sales_r[yi].reshape(n_y, n, n_e, n_r).transpose(1, 0, 2, 3))
    put(1, stock_r.reshape(n, n_y, n_e, n_r))
    put(2, net_r)
    put(3, chain[0])
    put(4, chain[1])
    if lib_u:
        liberated = chain[1] * liberation[:, 0, :][:, :, None, None]  # rates [S, Y] -> [S, Y, 1, 1]
        put(5, liberated)
        put(6, liberated * process_yield[:, 0, :][:, :, None, None] if yld_u else chain[2])
    else:
        put(5, chain[2])
        put(6, chain[3])
    return out
