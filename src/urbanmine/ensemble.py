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
* **The chain per country, summed as it goes.** Collected, liberated and recovered flows multiply
  each country's outflow by its rates (cumulatively); each stage is summed into regions with one
  matrix product with the membership matrix (sparse when the regions are single countries). A
  rate that is the same in every country (the usual ``*`` lever) is applied after the sum, to
  the regions; used exports become a correction of the regions' sums.

Everything is float64 and vectorised over samples, countries, elements and years. The loops are
over classes, segments and exporters (a handful each) and over chunks of 32 samples, whose
arrays stay in cache; pieces of at least 128 samples run on threads with one BLAS thread each.
No number depends on the chunks, pieces or threads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .lifetimes import FAMILIES, Chained, age_kernel, survival_factors
from .stocks import _pdf_from_sf, _pdf_matrix

__all__ = ["Classes", "classes", "lifetime_groups", "class_kernels", "block_cells"]

N_FLOW_STAGES = 7  # sales, in_use_stock, net_export, end_of_life, collected, liberated, recovered
THREADS = min(os.cpu_count() or 1, 4)
"""Threads that compute pieces of a block of samples at once."""


def _row_ids(n: int, *tables) -> np.ndarray:
    """An integer id per row ``0..n-1``, equal where every table's row is equal (NaN equal NaN)."""
    cols = [np.nan_to_num(np.asarray(t, dtype=float).reshape(n, -1), nan=np.inf) for t in tables if t is not None]
    if not cols:
        return np.zeros(n, dtype=int)
    _, inv = np.unique(np.concatenate(cols, axis=1), axis=0, return_inverse=True)
    return inv.reshape(-1)


@dataclass
class Classes:
    """Countries ordered by (lifetime class, mix class): everything fixed by the inputs, the
    scenario and the regions (not by the draws)."""

    order: np.ndarray  # positions in prep.countries, classes contiguous
    lt_slices: list  # per lifetime class: (slice into order, representative position, lifetime group)
    mix_reps: np.ndarray  # representative position of every mix class
    parts: list  # per lifetime class: list of (slice local to the class, mix class, inflow [T, G, n], regional
    # inflow [T, G, R]) with the inflow of the scenario's demand path [unit/yr]
    members: list  # per lifetime class: membership [n_class, R] (float64; sparse when mostly zeros)
    trade: tuple | None  # (exporter (class, local index) list, D [Y, exporter, country-ordered], Mm [Y, exporter, R])
    members_all: object = None  # membership [country in class order, R], dense or sparse likewise


def _membership(m):
    """Membership ``[country, R]`` as given, or as a sparse matrix when most of it is zero (e.g.
    every country its own region), so that summing into regions costs what the members do."""
    if m.shape[1] > 8 and np.count_nonzero(m) < 0.2 * m.size:
        from scipy import sparse

        return sparse.csr_matrix(m.T)  # [R, country]: the regions' sums as sparse x dense
    return np.ascontiguousarray(m)


def _to_regions(x, m):
    """``x [rows, country] @ m [country, R]`` with ``m`` from :func:`_membership`."""
    if isinstance(m, np.ndarray):
        return x @ m
    return (m @ x.T).T


def lifetime_groups(lifetime, n_c):
    """Group index of every country and the group's lifetime."""
    if not isinstance(lifetime, list):
        return np.zeros(n_c, dtype=int), [lifetime]
    g = np.empty(n_c, dtype=int)
    for i, (pos, _) in enumerate(lifetime):
        g[pos] = i
    return g, [lt for _, lt in lifetime]


def classes(prep, product, scen, params, yi, membership) -> Classes:
    years = prep.years
    n_c = len(prep.countries)
    countries = prep.countries
    group, _ = lifetime_groups(params.lifetime, n_c)
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
        members.append(_membership(m[:, pos].T))  # [n_class, R]
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
    return Classes(order, lt_slices, reps, parts, members, trade, _membership(m[:, order].T))


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


def class_kernels(lifetimes, factors, n_years, yi, inflow_at) -> list:
    """The cohort kernels of every lifetime class for a block of samples.

    Each is ``("age", k)`` with the survival by age ``k [S or 1, age]`` of a lifetime that does
    not vary by cohort, or ``("table", sf, pdf)`` with the survival and the share leaving
    ``[S or 1, Y, cohort]`` in the output years ``yi`` when a lifetime factor ``[S or 1, cohort]``
    (a scenario lever) makes it vary by cohort [1]. Classes without a factor are computed in one
    call when their lifetimes stack (:func:`_stacked`).
    """
    out = [None] * len(lifetimes)
    plain = [i for i, f in enumerate(factors) if f is None]
    lt = _stacked([lifetimes[i] for i in plain]) if len(plain) > 1 else None
    if lt is not None:
        k = age_kernel(lt, n_years, inflow_at)  # [S or 1, class, age]
        for j, i in enumerate(plain):
            out[i] = ("age", k[:, j])
    for i, (life, f) in enumerate(zip(lifetimes, factors)):
        if out[i] is not None:
            continue
        if f is None:
            out[i] = ("age", age_kernel(life, n_years, inflow_at).reshape(-1, n_years))
            continue
        sf = survival_factors(life.scaled(f[:, None, None, :]), n_years, inflow_at).reshape(-1, n_years, n_years)
        out[i] = ("table", np.swapaxes(sf[:, :, yi], 1, 2), np.swapaxes(_pdf_matrix(sf)[:, :, yi], 1, 2))
    return out


def _matrices(kernel, sl, n, n_years, yi):
    """Survival and retirement ``[n, Y, cohort]`` of one class for the samples ``sl`` of a block."""
    if kernel[0] == "table":
        sf, pdf = (a if a.shape[0] == 1 else a[sl] for a in kernel[1:])
    else:
        k = kernel[1] if kernel[1].shape[0] == 1 else kernel[1][sl]
        sf, pdf = _toeplitz(k, n_years, yi), _toeplitz(_pdf_from_sf(k), n_years, yi)
    shape = (n,) + sf.shape[1:]
    return np.ascontiguousarray(np.broadcast_to(sf, shape)), np.ascontiguousarray(np.broadcast_to(pdf, shape))


def _take_lifetime(lt, sl, memo):
    """``lt`` for the samples ``sl`` (parameters ``[S, ...]``; those of length 1 or scalars stay);
    a part shared by several lifetimes (a storage delay) stays shared (``memo``)."""
    if id(lt) in memo:
        return memo[id(lt)]
    if isinstance(lt, Chained):
        out = Chained(_take_lifetime(lt.use, sl, memo), _take_lifetime(lt.storage, sl, memo),
                      steps_per_year=lt.steps_per_year)
    else:
        out = lt._with_params({k: (v if v.ndim == 0 or v.shape[0] == 1 else v[sl]) for k, v in lt._params.items()})
    memo[id(lt)] = out
    return out


def _uniform(rate) -> bool:
    """Whether a rate ``[S, country, Y]`` is the same in every country."""
    return rate.shape[1] == 1 or rate.strides[1] == 0 or bool(np.all(rate == rate[:, :1, :]))


def _toeplitz(k, n_years, yi):
    """``out[s, y, c] = k[s, yi[y] - c]`` for cohorts ``c <= yi[y]``, else 0: the rows are windows
    of the kernel reversed and padded with zeros (one gather, no index arrays)."""
    rev = np.zeros((k.shape[0], 2 * n_years))
    rev[:, :n_years] = k[:, ::-1]
    return sliding_window_view(rev, n_years, axis=1)[:, n_years - 1 - yi]


def block_cells(prep, cls: Classes, per_unit, lifetimes, factors, rates, yi, n_regions, inflow_at, n, chunk,
                threads=None, out=None):
    """Flow stages of one product under one scenario for a block of ``n`` samples, summed into
    regions: ``[n, R, E, 7, Y]`` [t/yr, t] with the stages in the order of
    :data:`urbanmine.estimate.FLOW_STAGES`. The block is computed in chunks of ``chunk`` samples
    (arrays of a chunk stay in the processor's cache), pieces of at least 128 samples on
    ``threads`` threads (default :data:`THREADS`); a sample's numbers depend on neither.

    Parameters
    ----------
    prep : urbanmine.estimate._Prepared
        The product's years.
    cls : Classes
        The countries' classes (:func:`classes`).
    per_unit : ndarray ``[mix, cohort, S or 1, E, segment]``
        Each element sold per unit of each segment's inflow, by mix class [t/unit].
    lifetimes, factors : lists, one item per lifetime class
        The class's lifetime (parameters ``[S or 1, 1, 1, 1]``) and lifetime factor ``[S or 1,
        cohort]`` or None.
    rates : (collection, liberation, process_yield)
        In the output years ``yi``, within 0-1 [1]: the collection ``[S or 1, Y, country]`` with
        the countries in the classes' order (``cls.order``), the others ``[S or 1, country, Y]``
        for the countries of ``prep.countries``.
    """
    n_y = len(yi)
    collection, liberation, process_yield = rates
    lib_u, yld_u = _uniform(liberation), _uniform(process_yield)

    def ordered(rate):  # [S or 1, Y, country] in the classes' order
        return np.ascontiguousarray(np.swapaxes(rate[:, cls.order], 1, 2))

    col = collection
    lib = None if lib_u else ordered(liberation)
    yld = None if lib_u and yld_u else ordered(process_yield)
    if lib_u and yld is not None:  # only the yield differs by country: liberation joins it
        yld = yld * np.swapaxes(liberation[:, :1], 1, 2)
    lib_r = liberation[:, 0, :] if lib_u else None  # [S or 1, Y], applied to the regions' sums
    yld_r = process_yield[:, 0, :] if lib_u and yld_u else None
    n_e = per_unit.shape[3]
    shape = (n, n_regions, n_e + 1, N_FLOW_STAGES, n_y)  # the elements and their sum
    out = np.empty(shape) if out is None else out
    m_ord = cls.members_all  # [country in class order, R]
    per_sample = np.moveaxis(per_unit, 2, 0)  # [S or 1, mix, cohort, E, segment]

    def take(a, sl):
        return None if a is None else (a if a.shape[0] == 1 else a[sl])

    def piece(sl):
        # the lifetime kernels of a piece of samples (a phone's chained lifetime is an FFT over
        # ~4,000 steps per sample and class: a whole block's spectra would not stay in cache),
        # then its chunks
        memo = {}
        kernels = class_kernels([_take_lifetime(lt, sl, memo) for lt in lifetimes],
                                [take(f, sl) for f in factors], len(prep.years), yi, inflow_at)
        for a in range(sl.start, sl.stop, chunk):
            sub = slice(a, min(a + chunk, sl.stop))
            m = sub.stop - sub.start
            pu = np.broadcast_to(take(per_sample, sub), (m,) + per_sample.shape[1:])
            pu = np.ascontiguousarray(np.moveaxis(pu, 0, 2)).reshape(per_unit.shape[0], per_unit.shape[1], m * n_e, -1)
            local = slice(a - sl.start, a - sl.start + m)
            mats = [_matrices(k, local, m, len(prep.years), yi) for k in kernels]
            _chunk(out[sub], cls, m_ord, pu, mats, take(col, sub), take(lib, sub), take(yld, sub), take(lib_r, sub),
                   take(yld_r, sub), n_e, n_regions, yi, m)

    size = max(chunk, 128)
    pieces = [slice(a, min(a + size, n)) for a in range(0, n, size)]
    threads = min(len(pieces), THREADS if threads is None else threads)
    if threads > 1:
        # pieces on threads, one BLAS thread each (numpy releases the GIL in its array work);
        # each sample's numbers are the same whichever thread computes them
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
            list(pool.map(piece, pieces))
    else:
        for sl in pieces:
            piece(sl)
    return out


def _chunk(out, cls, m_ord, per_unit, mats, col, lib, yld, lib_r, yld_r, n_e, n_r, yi, n):
    """:func:`block_cells` for one chunk of ``n`` samples, written to ``out`` ``[n, R, E + 1, 7, Y]``."""
    n_t, n_y = per_unit.shape[1], len(yi)
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
        sf_y, pdf_y = mats[li]
        sales_r += reg
        # stock of the regions and outflow of each country, [S, Y, (E, R)] and [S, Y, (E, country)]
        stock_r += np.matmul(sf_y, reg.reshape(n_t, n, n_e * n_r).transpose(1, 0, 2))
        eol.append(np.matmul(pdf_y, sales.reshape(n_t, n, n_e * n_k).transpose(1, 0, 2)).reshape(n, n_y, n_e, n_k))
    # a rate that is the same in every country is applied to the regions' sums; otherwise its
    # stage is formed by country: outflow, collected, then liberated and recovered or recovered
    stages = 2 + (lib is not None) + (yld is not None)
    chain = np.zeros((stages, n * n_y * n_e, n_r))
    for li, (sl, _, _) in enumerate(cls.lt_slices):
        m_t = cls.members[li]
        flow = eol[li]
        chain[0] += _to_regions(flow.reshape(-1, flow.shape[-1]), m_t)
        flow = flow * col[:, :, None, sl]
        chain[1] += _to_regions(flow.reshape(-1, flow.shape[-1]), m_t)
        if lib is not None:
            flow *= lib[:, :, None, sl]
            chain[2] += _to_regions(flow.reshape(-1, flow.shape[-1]), m_t)
        if yld is not None:
            flow *= yld[:, :, None, sl]
            chain[stages - 1] += _to_regions(flow.reshape(-1, flow.shape[-1]), m_t)
    chain = chain.reshape(stages, n, n_y, n_e, n_r)
    net_r = np.zeros((n, n_y, n_e, n_r))
    if cls.trade is not None:
        # used exports move outflow between countries: eol' = eol - d * eol[exporter], with d
        # [Y, country] the net export per unit of the exporter's outflow; each stage's regional
        # sum falls by the exporter's outflow times the sum over countries of membership x
        # cumulative rate x d
        where, d_out, mm = cls.trade
        weights = [None, col] + ([lib] if lib is not None else []) + ([yld] if yld is not None else [])
        for xi, (c, j) in enumerate(where):
            out_x = eol[c][..., j][..., None]  # the exporter's outflow [S, Y, E, 1]
            net_r += out_x * mm[None, :, xi, None, :]
            w = None
            for k in range(stages):
                w = d_out[None, :, xi] if k == 0 else w * weights[k]
                w2 = np.broadcast_to(w, (n,) + w.shape[1:]).reshape(-1, w.shape[-1])
                chain[k] -= out_x * _to_regions(w2, m_ord).reshape(n, n_y, 1, -1)

    def put(stage, arr):  # arr [S, Y, E, R]; the last element slot holds their sum
        out[:, :, :n_e, stage, :] = np.transpose(arr, (0, 3, 2, 1))
        out[:, :, n_e, stage, :] = np.transpose(arr.sum(axis=2), (0, 2, 1))

    put(0, sales_r[yi].reshape(n_y, n, n_e, n_r).transpose(1, 0, 2, 3))
    put(1, stock_r.reshape(n, n_y, n_e, n_r))
    put(2, net_r)
    put(3, chain[0])
    put(4, chain[1])
    if lib is None:
        liberated = chain[1] * lib_r[:, :, None, None]  # rates [S, Y] -> [S, Y, 1, 1]
        put(5, liberated)
        put(6, liberated * yld_r[:, :, None, None] if yld is None else chain[2])
    else:
        put(5, chain[2])
        put(6, chain[3])
