r"""Cohort stock-and-flow models: inflow-driven and stock-driven.

Conventions
-----------
* Time is the **last** axis of every array, one step per calendar year. In the by-cohort
  arrays the cohort axis is second to last: ``[..., cohort, year]``.
* A flow (inflow, outflow) is a period quantity [unit/yr]; a stock is the state at the **end**
  of the year [unit]. Within-year timing of the inflow is set by ``inflow_at`` (see
  :mod:`urbanmine.lifetimes`).
* Any leading axes (sample, region, product, technology, element) are computed together in one
  vectorised pass; lifetime parameters broadcast against the inflow array ``[..., cohort]``.

With ``sf[..., c, t]`` from :func:`urbanmine.lifetimes.survival_factors`::

    stock_by_cohort[c, t]   = inflow[c] * sf[c, t]
    outflow_by_cohort[c, t] = inflow[c] * (sf[c, t - 1] - sf[c, t]),   sf[c, c - 1] = 1
    stock[t] - stock[t - 1] = inflow[t] - outflow[t]                   (mass balance)

When the lifetime is the same for every cohort the survival factor depends on the age
``t - c`` only and the sums over cohorts are discrete convolutions, computed without forming
the ``[cohort, year]`` matrix; the by-cohort arrays are then built only when asked for.

References
----------
.. [1] S. Pauliuk and N. Heeren, "ODYM - An open software framework for studying dynamic
   material systems: Principles, implementation, and data structures," J. Ind. Ecol., vol. 24,
   no. 3, pp. 446-458, 2020, doi:10.1111/jiec.12952.
.. [2] D. B. Müller, "Stock dynamics for forecasting material flows - Case study for housing
   in The Netherlands," Ecol. Econ., vol. 59, no. 1, pp. 142-156, 2006,
   doi:10.1016/j.ecolecon.2005.09.025.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .errors import DimensionMismatchError, InputDataError, MassBalanceError, StockModelError
from .lifetimes import Lifetime, age_kernel, survival_factors, varies_by_cohort

__all__ = [
    "StockResult",
    "inflow_driven",
    "stock_driven",
    "mass_balance_residual",
    "check_mass_balance",
    "NEGATIVE_INFLOW_POLICIES",
]

NEGATIVE_INFLOW_POLICIES = ("raise", "allow", "retire_early")
"""How :func:`stock_driven` treats a stock that falls faster than its products retire."""


def _as_series(values, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputDataError(f"{name} must be numeric") from None
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise DimensionMismatchError(f"{name} needs a year axis (last axis), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise InputDataError(f"{name} must be finite, got {arr[idx]} at index {idx}")
    return arr


def _check_lifetime_shape(lifetime: Lifetime, shape: tuple[int, ...], name: str) -> None:
    if not isinstance(lifetime, Lifetime):
        raise TypeError(f"lifetime must be a urbanmine.lifetimes.Lifetime, got {type(lifetime)!r}")
    try:
        out = np.broadcast_shapes(lifetime.shape, shape)
    except ValueError:
        out = None
    if out != shape:
        raise DimensionMismatchError(
            f"lifetime parameters of shape {lifetime.shape} do not broadcast against {name} of "
            f"shape {shape} ([..., year]); give one lifetime per series with a trailing axis of "
            "length 1, or one per cohort on the last axis"
        )


def _convolve(x: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """``out[..., t, m] = sum_{c <= t} x[..., c] * kernels[..., t - c, m]`` (causal convolution).

    ``x`` is ``[..., year]``; ``kernels`` is ``[..., age, m]``, several kernels side by side so
    that one batched matrix product serves them all. When the kernels have about as many
    leading items as ``x`` (a lifetime per series), a strided window view of the zero-padded
    inflow is multiplied with the kernels; when many series share a kernel (axes where the
    kernels have length 1), the series are collected into the rows of a matrix multiplied
    with the kernel's lower-triangular Toeplitz matrix. Neither forms the
    ``[series, cohort, year]`` array.
    """
    n = x.shape[-1]
    m = kernels.shape[-1]
    klead = (1,) * (x.ndim - 1 - (kernels.ndim - 2)) + kernels.shape[:-2]
    kernels = kernels.reshape(klead + kernels.shape[-2:])
    free = [i for i, (a, b) in enumerate(zip(x.shape[:-1], klead)) if b == 1 and a > 1]
    n_free = int(np.prod([x.shape[i] for i in free])) if free else 1
    if n_free < 4:
        pad = np.concatenate([np.zeros(x.shape[:-1] + (n - 1,)), x], axis=-1)
        windows = sliding_window_view(pad, n, axis=-1)  # [..., t, j] = x[t + j - n + 1]
        return windows @ kernels[..., n - 1 :: -1, :]
    # many series per kernel: [..shared.., F, c] @ [..shared.., m, c, t]
    shared = [i for i in range(x.ndim - 1) if i not in free]
    xp = np.transpose(x, shared + free + [x.ndim - 1])
    lead = xp.shape[: len(shared)]
    xp = xp.reshape(lead + (n_free, n))
    kp = np.transpose(kernels, shared + free + [kernels.ndim - 2, kernels.ndim - 1])
    kp = kp.reshape(kp.shape[: len(shared)] + kp.shape[-2:])  # free axes have length 1
    lag = np.arange(n)[None, :] - np.arange(n)[:, None]  # [c, t] = t - c
    toeplitz = np.where((lag >= 0)[..., None], kp[..., np.clip(lag, 0, None), :], 0.0)  # [.., c, t, m]
    toeplitz = np.moveaxis(toeplitz, -1, -3)  # [.., m, c, t]
    out = xp[..., None, :, :] @ toeplitz  # [.., m, F, t]
    out = np.moveaxis(out, -3, -1)  # [.., F, t, m]
    out = out.reshape(lead + tuple(x.shape[i] for i in free) + (n, m))
    inverse = np.argsort(shared + free)
    return np.transpose(out, list(inverse) + [x.ndim - 1, x.ndim])


def _pdf_from_sf(sf_age: np.ndarray) -> np.ndarray:
    """Share leaving at each completed age from the survival by age [1]."""
    pdf = np.empty_like(sf_age)
    pdf[..., 0] = 1.0 - sf_age[..., 0]
    pdf[..., 1:] = sf_age[..., :-1] - sf_age[..., 1:]
    return pdf


def _pdf_matrix(sf: np.ndarray) -> np.ndarray:
    """Share of cohort ``c`` leaving in year ``t`` from ``sf[..., c, t]`` [1].

    ``pdf[c, t] = sf[c, t - 1] - sf[c, t]`` with ``sf[c, c - 1] = 1``; 0 for ``t < c``.
    """
    n = sf.shape[-1]
    diff = np.arange(n)[None, :] - np.arange(n)[:, None]  # t - c
    prev = np.zeros_like(sf)
    prev[..., 1:] = sf[..., :-1]
    prev = np.where(diff == 0, 1.0, np.where(diff > 0, prev, 0.0))
    return prev - sf


@dataclass
class StockResult:
    """Stocks and flows of a cohort model. Time is the last axis; cohorts second to last.

    Attributes
    ----------
    inflow : ndarray ``[..., year]``
        Inflow [unit/yr].
    stock : ndarray ``[..., year]``
        Stock at the end of each year [unit].
    outflow : ndarray ``[..., year]``
        Outflow [unit/yr].
    initial_stock : ndarray ``[..., age]`` or None
        Stock by age at the end of the year before the first year [unit].
    """

    inflow: np.ndarray
    stock: np.ndarray
    outflow: np.ndarray
    initial_stock: np.ndarray | None = None
    _sf: np.ndarray | None = field(default=None, repr=False)
    _kernel: np.ndarray | None = field(default=None, repr=False)
    _hist_stock_by_cohort: np.ndarray | None = field(default=None, repr=False)
    _hist_outflow_by_cohort: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_historic_cohorts(self) -> int:
        """Number of cohorts older than the first year (length of the initial stock's age axis)."""
        return 0 if self.initial_stock is None else self.initial_stock.shape[-1]

    @property
    def cohort_offsets(self) -> np.ndarray:
        """Inflow year of each cohort row relative to the first year (negative = historic)."""
        return np.arange(-self.n_historic_cohorts, self.inflow.shape[-1])

    def survival_factors(self) -> np.ndarray:
        """``sf[..., cohort, year]`` of the modelled cohorts [1]."""
        if self._sf is None:
            n = self.inflow.shape[-1]
            age = np.arange(n)[None, :] - np.arange(n)[:, None]
            self._sf = np.where(age >= 0, self._kernel[..., np.clip(age, 0, None)], 0.0)
        return self._sf

    @property
    def stock_by_cohort(self) -> np.ndarray:
        """Stock of each cohort at the end of each year, ``[..., cohort, year]`` [unit].

        With an initial stock the first :attr:`n_historic_cohorts` rows are the historic cohorts
        (oldest first); :attr:`cohort_offsets` labels the rows.
        """
        modelled = self.inflow[..., :, None] * self.survival_factors()
        return self._with_history(modelled, self._hist_stock_by_cohort)

    @property
    def outflow_by_cohort(self) -> np.ndarray:
        """Outflow of each cohort in each year, ``[..., cohort, year]`` [unit/yr]."""
        modelled = self.inflow[..., :, None] * _pdf_matrix(self.survival_factors())
        return self._with_history(modelled, self._hist_outflow_by_cohort)

    def _with_history(self, modelled, hist):
        if hist is None:
            return modelled
        shape = np.broadcast_shapes(modelled.shape[:-2], hist.shape[:-2])
        return np.concatenate(
            [
                np.broadcast_to(hist, shape + hist.shape[-2:]),
                np.broadcast_to(modelled, shape + modelled.shape[-2:]),
            ],
            axis=-2,
        )

    def check(self, rtol: float = 1e-9) -> None:
        """Raise :class:`MassBalanceError` if inflow - outflow != stock change (see
        :func:`check_mass_balance`)."""
        check_mass_balance(self, rtol=rtol)


def mass_balance_residual(result: StockResult) -> np.ndarray:
    """``inflow - outflow - (stock[t] - stock[t-1])`` for every year [unit/yr].

    The stock before the first year is the sum of the initial stock (0 without one).
    """
    before = 0.0 if result.initial_stock is None else result.initial_stock.sum(axis=-1)
    prev = np.concatenate(
        [np.broadcast_to(np.asarray(before)[..., None], result.stock.shape[:-1] + (1,)),
         result.stock[..., :-1]],
        axis=-1,
    )
    return result.inflow - result.outflow - (result.stock - prev)


def check_mass_balance(result: StockResult, rtol: float = 1e-9) -> None:
    """Check ``inflow - outflow = Δstock`` in every year of every series.

    Parameters
    ----------
    result : StockResult
    rtol : float
        Tolerance relative to the largest absolute inflow, outflow or stock of the same
        series. [1]

    Raises
    ------
    MassBalanceError
        Naming the worst series index and year.
    """
    resid = np.abs(mass_balance_residual(result))
    scale = np.max(
        np.abs(np.stack(np.broadcast_arrays(result.inflow, result.outflow, result.stock))),
        axis=(0, -1),
    )
    tiny = np.finfo(float).tiny  # below this, values are subnormal round-off
    rel = resid / np.maximum(scale, tiny)[..., None]
    if rel.size and np.max(rel) > rtol:
        idx = tuple(int(i) for i in np.unravel_index(np.argmax(rel), rel.shape))
        raise MassBalanceError(
            f"mass balance off by {resid[idx]:.3g} ({rel[idx]:.2g} relative) at index {idx}; "
            f"expected within {rtol:g} relative"
        )


def _historic(kernel: np.ndarray, initial_stock: np.ndarray, n: int):
    """Stock and outflow of the cohorts in the initial stock, ``[..., age, year]``.

    ``kernel[..., a]`` must cover ages ``0 .. n_ages + n - 1``.
    """
    n_ages = initial_stock.shape[-1]
    a = np.arange(n_ages)
    later = kernel[..., a[:, None] + 1 + np.arange(n)[None, :]]  # [..., a, t]
    now = kernel[..., a][..., :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(now > 0, later / np.where(now > 0, now, 1.0), 0.0)
    stock_ac = initial_stock[..., :, None] * ratio
    prev = np.concatenate(
        [np.broadcast_to(initial_stock[..., :, None], stock_ac.shape[:-1] + (1,)),
         stock_ac[..., :-1]],
        axis=-1,
    )
    outflow_ac = prev - stock_ac
    # oldest cohort first, as in the rest of the cohort axis
    return stock_ac[..., ::-1, :], outflow_ac[..., ::-1, :]


def _prepare_initial_stock(initial_stock, shape):
    if initial_stock is None:
        return None
    init = _as_series(initial_stock, "initial_stock")
    if np.any(init < 0):
        raise InputDataError("initial_stock must be >= 0 in every age")
    try:
        np.broadcast_shapes(init.shape[:-1], shape[:-1])
    except ValueError:
        raise DimensionMismatchError(
            f"initial_stock of shape {init.shape} ([..., age]) does not broadcast against the "
            f"leading axes {shape[:-1]}"
        ) from None
    return init


def inflow_driven(
    inflow,
    lifetime: Lifetime,
    inflow_at: str = "middle",
    *,
    n_pts_per_interval: int = 1,
    initial_stock=None,
    check: bool = True,
    rtol: float = 1e-9,
) -> StockResult:
    """Stocks and outflows from the inflow of every cohort and a lifetime distribution.

    Parameters
    ----------
    inflow : array-like ``[..., year]``
        Inflow in each year [unit/yr].
    lifetime : Lifetime
        Parameters broadcast against ``inflow`` (see :mod:`urbanmine.lifetimes`).
    inflow_at : {"start", "middle", "end"}
        Where within its year a cohort enters the stock; ``end`` reproduces ODYM.
    n_pts_per_interval : int
        Gauss-Lobatto points to average survival over the inflow year (1 = off).
    initial_stock : array-like ``[..., age]``, optional
        Stock by age at the end of the year before the first year [unit]; index ``a`` holds the
        cohort that entered ``a`` years before that year. Historic cohorts follow the lifetime of
        the first modelled cohort, conditioned on having survived to their age.
    check : bool
        Verify the mass balance to ``rtol`` before returning.

    Returns
    -------
    StockResult

    Examples
    --------
    >>> from urbanmine.lifetimes import Fixed
    >>> inflow_driven([10.0, 0, 0, 0], Fixed(2)).outflow.tolist()
    [0.0, 0.0, 10.0, 0.0]
    """
    inflow = _as_series(inflow, "inflow")
    _check_lifetime_shape(lifetime, inflow.shape, "inflow")
    init = _prepare_initial_stock(initial_stock, inflow.shape)
    n = inflow.shape[-1]
    n_hist = 0 if init is None else init.shape[-1]

    hist_stock = hist_out = None
    if not varies_by_cohort(lifetime):
        kernel = age_kernel(lifetime, n + n_hist, inflow_at, n_pts_per_interval)
        both = _convolve(inflow, np.stack([kernel[..., :n], _pdf_from_sf(kernel[..., :n])], -1))
        stock, outflow = both[..., 0].copy(), both[..., 1].copy()
        result = StockResult(inflow, stock, outflow, init, _kernel=kernel[..., :n])
        if init is not None:
            hist_stock, hist_out = _historic(kernel, init, n)
    else:
        sf = survival_factors(lifetime, n, inflow_at, n_pts_per_interval)
        result = _from_survival_matrix(inflow, sf, init)
        if init is not None:
            kernel = age_kernel(lifetime._first_cohort(), n + n_hist, inflow_at, n_pts_per_interval)
            hist_stock, hist_out = _historic(kernel, init, n)
    return _finish(result, hist_stock, hist_out, check, rtol)


def _from_survival_matrix(inflow, sf, init) -> StockResult:
    """Stock and outflow of the modelled cohorts from the full ``sf[..., c, t]`` matrix."""
    stock = np.einsum("...c,...ct->...t", inflow, sf)
    outflow = np.einsum("...c,...ct->...t", inflow, _pdf_matrix(sf))
    return StockResult(inflow, stock, outflow, init, _sf=sf)


def _finish(result, hist_stock, hist_out, check, rtol) -> StockResult:
    """Add the historic cohorts, give every total the full shape, check the mass balance."""
    if hist_stock is not None:
        result.stock = result.stock + hist_stock.sum(axis=-2)
        result.outflow = result.outflow + hist_out.sum(axis=-2)
        result._hist_stock_by_cohort, result._hist_outflow_by_cohort = hist_stock, hist_out
    shape = np.broadcast_shapes(result.inflow.shape, result.stock.shape, result.outflow.shape)
    for name in ("inflow", "stock", "outflow"):
        arr = getattr(result, name)
        if arr.shape != shape:
            setattr(result, name, np.broadcast_to(arr, shape).copy())
    if check:
        result.check(rtol)
    return result


def stock_driven(
    stock,
    lifetime: Lifetime,
    inflow_at: str = "middle",
    *,
    n_pts_per_interval: int = 1,
    initial_stock=None,
    negative_inflow: str = "raise",
    check: bool = True,
    rtol: float = 1e-9,
) -> StockResult:
    """Inflows and outflows that make the stock follow a given path.

    Solves ``stock[t] = historic[t] + sum_{c <= t} inflow[c] * sf[c, t]`` for the inflow, a
    lower-triangular system per series (LAPACK, all series at once).

    Parameters
    ----------
    stock : array-like ``[..., year]``
        Stock at the end of each year [unit].
    lifetime, inflow_at, n_pts_per_interval, initial_stock, check, rtol
        As in :func:`inflow_driven`.
    negative_inflow : {"raise", "allow", "retire_early"}
        What to do when the stock falls faster than its products retire, so that the solved
        inflow is negative:

        * ``"raise"`` (default): raise :class:`~urbanmine.errors.StockModelError` naming the
          first series and year.
        * ``"allow"``: keep the negative inflows (stocks are met exactly; useful as a diagnostic).
        * ``"retire_early"``: set those inflows to 0 and retire the surplus stock early, taking
          the same share from every cohort present in that year; the early retirements are added
          to the outflow and remove those products from later years too. The stock path is still
          met exactly and inflow >= 0. Years are solved in sequence (a loop over years,
          vectorised over the leading axes), so this policy is slower.

    Returns
    -------
    StockResult with ``.inflow`` solved.
    """
    if negative_inflow not in NEGATIVE_INFLOW_POLICIES:
        raise StockModelError(
            f"negative_inflow must be one of {', '.join(NEGATIVE_INFLOW_POLICIES)}, "
            f"got {negative_inflow!r}"
        )
    stock = _as_series(stock, "stock")
    _check_lifetime_shape(lifetime, stock.shape, "stock")
    init = _prepare_initial_stock(initial_stock, stock.shape)
    n = stock.shape[-1]
    n_hist = 0 if init is None else init.shape[-1]

    sf = survival_factors(lifetime, n, inflow_at, n_pts_per_interval)  # [..., c, t]
    hist_stock = hist_out = None
    target = stock
    if init is not None:
        lt0 = lifetime._first_cohort() if varies_by_cohort(lifetime) else lifetime
        kernel = age_kernel(lt0, n + n_hist, inflow_at, n_pts_per_interval)
        hist_stock, hist_out = _historic(kernel, init, n)
        target = stock - hist_stock.sum(axis=-2)
    diag = np.diagonal(sf, axis1=-2, axis2=-1)
    if np.any(diag <= 0):
        raise StockModelError(
            "stock-driven model needs a positive share surviving the inflow year "
            f"(sf[c, c] > 0), got {np.min(diag):g}; use a longer lifetime or inflow_at='end'"
        )

    if negative_inflow == "retire_early":
        return _stock_driven_retire_early(stock, sf, init, hist_stock, check, rtol)

    a = np.swapaxes(sf, -1, -2)  # [..., t, c], lower triangular
    shape = np.broadcast_shapes(a.shape[:-2], target.shape[:-1])
    inflow = np.linalg.solve(
        np.broadcast_to(a, shape + (n, n)), np.broadcast_to(target, shape + (n,))[..., None]
    )[..., 0]
    if negative_inflow == "raise":
        scale = np.max(np.abs(stock), axis=-1, keepdims=True)
        neg = inflow < -1e-12 * np.where(scale > 0, scale, 1.0)
        if np.any(neg):
            idx = tuple(int(i) for i in np.argwhere(neg)[0])
            raise StockModelError(
                f"stock falls faster than products retire: inflow would be {inflow[idx]:.6g} at "
                f"index {idx} (series {idx[:-1]}, year {idx[-1]}); pass "
                "negative_inflow='allow' to keep negative inflows or 'retire_early' to retire "
                "the surplus early"
            )
        inflow = np.maximum(inflow, 0.0)
    return _finish(_from_survival_matrix(inflow, sf, init), hist_stock, hist_out, check, rtol)


class _EarlyRetirementResult(StockResult):
    """StockResult whose by-cohort arrays were computed during the solve."""

    _stock_bc: np.ndarray | None = None
    _outflow_bc: np.ndarray | None = None

    @property
    def stock_by_cohort(self):  # noqa: D102
        return self._stock_bc

    @property
    def outflow_by_cohort(self):  # noqa: D102
        return self._outflow_bc


def _stock_driven_retire_early(stock, sf, init, hist_stock, check, rtol):
    """Year-by-year solve with early retirement instead of negative inflow."""
    n = stock.shape[-1]
    n_hist = 0 if init is None else init.shape[-1]
    shape = np.broadcast_shapes(sf.shape[:-2], stock.shape[:-1])
    rows = n_hist + n
    keep = np.ones(shape + (rows,))  # share of each cohort not retired early so far
    stock_bc = np.zeros(shape + (rows, n))
    inflow = np.zeros(shape + (n,))
    sf_b = np.broadcast_to(sf, shape + (n, n))
    target = np.broadcast_to(stock, shape + (n,))
    if n_hist:
        hist_b = np.broadcast_to(hist_stock, shape + (n_hist, n))
    for t in range(n):  # sequential by nature: an early retirement in year t changes later years
        natural = np.zeros(shape + (rows,))
        if n_hist:
            natural[..., :n_hist] = hist_b[..., t]
        natural[..., n_hist : n_hist + t] = inflow[..., :t] * sf_b[..., :t, t]
        natural *= keep
        existing = natural.sum(axis=-1)
        need = target[..., t] - existing
        inflow[..., t] = np.maximum(need, 0.0) / sf_b[..., t, t]
        surplus = np.maximum(-need, 0.0)
        safe = np.where(existing > 0, existing, 1.0)
        factor = np.clip(np.where(existing > 0, 1.0 - surplus / safe, 1.0), 0.0, 1.0)
        keep *= factor[..., None]
        stock_bc[..., :, t] = natural * factor[..., None]
        stock_bc[..., n_hist + t, t] = inflow[..., t] * sf_b[..., t, t]
    prev = np.zeros_like(stock_bc)
    prev[..., 1:] = stock_bc[..., :-1]
    if n_hist:
        prev[..., :n_hist, 0] = init[..., ::-1]
    entering = np.zeros_like(stock_bc)
    idx = np.arange(n)
    entering[..., n_hist + idx, idx] = inflow
    outflow_bc = prev + entering - stock_bc
    result = _EarlyRetirementResult(
        inflow, stock_bc.sum(axis=-2), outflow_bc.sum(axis=-2), init, _sf=sf
    )
    result._stock_bc, result._outflow_bc = stock_bc, outflow_bc
    if check:
        result.check(rtol)
    return result
