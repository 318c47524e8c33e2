r"""Product lifetime distributions and their discretisation into survival factors.

A lifetime model gives the continuous survival function :math:`S(a)`: the share of a cohort of
products still in use at age :math:`a` [yr]. :func:`survival_factors` turns it into the discrete
table ``sf[..., cohort, year]``, the share of the inflow of year ``cohort`` still in stock at the
**end** of year ``year``.

Time convention
---------------
Inflow happens during the year. With ``inflow_at="middle"`` (the default) a cohort is put into
use at mid-year, so at the end of calendar year ``t`` the cohort of year ``c`` is
``t - c + 0.5`` years old::

    sf[c, t] = S(t - c + 0.5)      inflow_at="middle"  (flodym >= 0.4 default)
    sf[c, t] = S(t - c + 1)        inflow_at="start"
    sf[c, t] = S(t - c)            inflow_at="end"     (ODYM, flodym <= 0.3)

and ``sf[c, t] = 0`` for ``t < c``. With constant inflow of 1/yr the steady stock equals the
mean lifetime for ``middle``, the mean minus 0.5 yr for ``start`` and plus 0.5 yr for ``end``.
``n_pts_per_interval > 1`` averages the survival over inflow spread evenly through the year
with Gauss-Lobatto quadrature (``inflow_at`` is then ignored), which matters for lifetimes of a
year or two. These are the options and numbers of flodym 1.1.0's lifetime models, so flodym and
ODYM models can be ported without a change in results.

Parameters
----------
Every parameter is a scalar or a numpy array that broadcasts against the inflow array
``[..., cohort]`` it will be applied to: a scalar is one lifetime for everything; an array of
shape ``(n_series, 1)`` gives one lifetime per series; a parameter that varies by cohort has
the cohort axis last (shape ``(n_cohort,)`` or ``(n_series, n_cohort)``).

Notes
-----
ODYM's lognormal lifetime (``dynamic_stock_model.py``, ``compute_sf``) converts the mean and
standard deviation it is given with :math:`\sigma^2 = \ln(1 + M^2/S^2)` instead of
:math:`\ln(1 + S^2/M^2)`, so a lifetime given to ODYM as mean 10, standard deviation 3 comes out
with a standard deviation of about 33 yr. :class:`LogNormal` takes the mean and standard
deviation of the lifetime itself and converts them correctly (as flodym does since January 2025).
Porting an ODYM model that used a lognormal lifetime therefore changes results; reproduce ODYM's
numbers, if needed, with ``LogNormal(mean, mean**2 / std)``.

References
----------
.. [1] S. Pauliuk and N. Heeren, "ODYM - An open software framework for studying dynamic
   material systems: Principles, implementation, and data structures," J. Ind. Ecol., vol. 24,
   no. 3, pp. 446-458, 2020, doi:10.1111/jiec.12952.
.. [2] flodym (Flexible Open Dynamic Material Systems Model), version 1.1.0, PIK, MIT licence,
   https://github.com/pik-piam/flodym, module ``flodym.lifetime_models``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from scipy.special import ndtr

from .errors import DimensionMismatchError, LifetimeError

__all__ = [
    "INFLOW_AT",
    "Lifetime",
    "Weibull",
    "LogNormal",
    "Normal",
    "FoldedNormal",
    "Fixed",
    "Empirical",
    "Chained",
    "survival_factors",
    "quadrature",
]

INFLOW_AT = ("start", "middle", "end")
"""Allowed values of ``inflow_at``: where within its year a cohort enters the stock."""

_INFLOW_POINT = {"start": 0.0, "middle": 0.5, "end": 1.0}
MAX_QUADRATURE_POINTS = 10


def _as_param(name: str, family: str, value) -> np.ndarray:
    """Convert one parameter to a float array, rejecting non-numeric and non-finite values."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise LifetimeError(
            f"{family}: parameter '{name}' must be numeric, got {value!r}"
        ) from None
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].flat[0]
        raise LifetimeError(f"{family}: parameter '{name}' must be finite, got {bad}")
    return arr


def _require(cond: np.ndarray, arr: np.ndarray, family: str, name: str, expected: str) -> None:
    """Raise a one-line LifetimeError naming the first value of ``arr`` that breaks ``cond``."""
    cond = np.broadcast_to(cond, arr.shape)
    if not np.all(cond):
        idx = np.argwhere(~cond)[0] if arr.ndim else ()
        where = f" (at index {tuple(int(i) for i in idx)})" if arr.ndim else ""
        raise LifetimeError(
            f"{family}: parameter '{name}' must be {expected}, got {arr[tuple(idx)]:g}{where}"
        )


class Lifetime(ABC):
    """A lifetime distribution with a continuous survival function.

    Subclasses define the parameters and :meth:`_survival`. Instances are immutable.
    """

    family: ClassVar[str] = ""
    """Short name used in lifetime specifications such as ``weibull:shape=2,scale=15``."""
    param_names: ClassVar[tuple[str, ...]] = ()
    param_units: ClassVar[dict[str, str]] = {}

    def __init__(self, **params):
        self._params = {
            name: _as_param(name, type(self).__name__, params[name]) for name in self.param_names
        }
        try:
            self._shape = np.broadcast_shapes(*(p.shape for p in self._params.values()))
        except ValueError:
            shapes = ", ".join(f"{k}{v.shape}" for k, v in self._params.items())
            raise DimensionMismatchError(
                f"{type(self).__name__}: parameter shapes do not broadcast: {shapes}"
            ) from None
        self._validate()

    # -- parameters -------------------------------------------------------------------------
    @property
    def params(self) -> dict[str, np.ndarray]:
        """The parameters as float arrays (copies)."""
        return {k: v.copy() for k, v in self._params.items()}

    @property
    def shape(self) -> tuple[int, ...]:
        """Broadcast shape of the parameters; its last axis is the cohort axis."""
        return self._shape

    def _validate(self) -> None:  # noqa: B027 - optional hook: Chained has no own parameters
        """Check the parameters (raise :class:`LifetimeError`); families override this."""

    def _with_params(self, params: dict[str, np.ndarray]) -> Lifetime:
        """A new instance of the same family with ``params`` (already validated)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._params = params
        new._shape = np.broadcast_shapes(*(p.shape for p in params.values()))
        return new

    def _expand(self) -> Lifetime:
        """The same lifetime with a trailing length-1 axis added to every parameter."""
        return self._with_params({k: v[..., None] for k, v in self._params.items()})

    def _first_cohort(self) -> Lifetime:
        """The same lifetime keeping only the first item of the cohort (last) axis."""
        return self._with_params(
            {k: (v[..., :1] if v.ndim else v) for k, v in self._params.items()}
        )

    # -- evaluation -------------------------------------------------------------------------
    def survival(self, age) -> np.ndarray:
        """Share of a cohort still in use at ``age`` [yr]; within [0, 1], non-increasing.

        ``age`` broadcasts against the parameters.
        """
        age = np.asarray(age, dtype=float)
        try:
            np.broadcast_shapes(age.shape, self.shape)
        except ValueError:
            raise DimensionMismatchError(
                f"{type(self).__name__}.survival: age of shape {age.shape} does not broadcast "
                f"against parameters of shape {self.shape}"
            ) from None
        return self._survival(age)

    @abstractmethod
    def _survival(self, age: np.ndarray) -> np.ndarray:
        """Continuous survival function at ``age`` (float array) [1]."""

    @abstractmethod
    def mean(self) -> np.ndarray:
        """Expected lifetime [yr] (for :class:`Normal`, of the untruncated distribution)."""

    time_params: ClassVar[tuple[str, ...]] = ()
    """Parameters measured in years: scaling them all by ``f`` scales the lifetime by ``f``."""

    def scaled(self, factor) -> Lifetime:
        """The lifetime stretched in time by ``factor`` [1]: ``S'(a) = S(a / factor)``.

        Every time parameter is multiplied by ``factor``, so the mean is too; ``factor``
        broadcasts against the parameters like another parameter (e.g. one per region and
        cohort for a policy that extends the life of products sold from some year on).
        """
        f = np.asarray(factor, dtype=float)
        if np.any(~np.isfinite(f)) or np.any(f <= 0):
            raise LifetimeError(f"{type(self).__name__}.scaled: factor must be finite and > 0")
        if not self.time_params:
            raise LifetimeError(f"{type(self).__name__} cannot be scaled in time")
        return self._with_params({k: (v * f if k in self.time_params else v)
                                  for k, v in self._params.items()})

    def then(self, storage: Lifetime, *, steps_per_year: int = 24) -> Chained:
        """This lifetime followed by a storage delay: see :class:`Chained`."""
        return Chained(self, storage, steps_per_year=steps_per_year)

    def __repr__(self) -> str:
        parts = []
        for k, v in self._params.items():
            parts.append(f"{k}={v.item():g}" if v.size == 1 else f"{k}=<array {v.shape}>")
        return f"{type(self).__name__}({', '.join(parts)})"


class Weibull(Lifetime):
    r"""Weibull lifetime, :math:`S(a) = \exp(-(a/\lambda)^k)` for :math:`a \ge 0`.

    Parameters
    ----------
    shape : float or array-like
        Shape :math:`k > 0`; :math:`k > 1` means wear-out dominated retirement. [1]
    scale : float or array-like
        Scale :math:`\lambda > 0`, the age by which 63.2 % of a cohort has left. [yr]

    Notes
    -----
    Mean :math:`\lambda\,\Gamma(1 + 1/k)`. Identical to ``scipy.stats.weibull_min(c=k,
    scale=λ)`` and to flodym's ``WeibullLifetime(weibull_shape=k, weibull_scale=λ)``.

    Examples
    --------
    >>> float(Weibull(shape=2.0, scale=15.0).survival(15.0))  # e**-1
    0.36787944117144233
    """

    family = "weibull"
    time_params = ("scale",)
    param_names = ("shape", "scale")
    param_units = {"shape": "1", "scale": "yr"}

    def __init__(self, shape, scale):
        super().__init__(shape=shape, scale=scale)

    def _validate(self):
        for name in ("shape", "scale"):
            p = self._params[name]
            _require(p > 0, p, "Weibull", name, "> 0")

    def _survival(self, age):
        k, lam = self._params["shape"], self._params["scale"]
        x = np.maximum(age, 0.0) / lam
        return np.exp(-(x**k))

    def mean(self):
        k, lam = self._params["shape"], self._params["scale"]
        from scipy.special import gamma

        return lam * gamma(1.0 + 1.0 / k)


class LogNormal(Lifetime):
    r"""Lognormal lifetime given by the mean and standard deviation of the lifetime itself.

    Parameters
    ----------
    mean : float or array-like
        Mean lifetime :math:`M > 0`. [yr]
    std : float or array-like
        Standard deviation of the lifetime :math:`s > 0`. [yr]

    Notes
    -----
    With :math:`\sigma^2 = \ln(1 + s^2/M^2)` and :math:`\mu = \ln M - \sigma^2/2`,
    :math:`S(a) = 1 - \Phi((\ln a - \mu)/\sigma)`. Not ODYM's conversion, which is wrong (see the
    module notes).
    """

    family = "lognormal"
    time_params = ("mean", "std")
    param_names = ("mean", "std")
    param_units = {"mean": "yr", "std": "yr"}

    def __init__(self, mean, std):
        super().__init__(mean=mean, std=std)

    def _validate(self):
        for name in ("mean", "std"):
            p = self._params[name]
            _require(p > 0, p, "LogNormal", name, "> 0")

    def _log_params(self):
        m, s = self._params["mean"], self._params["std"]
        sigma2 = np.log1p((s / m) ** 2)
        return np.log(m) - 0.5 * sigma2, np.sqrt(sigma2)

    def _survival(self, age):
        mu, sigma = self._log_params()
        with np.errstate(divide="ignore"):
            log_age = np.log(np.maximum(age, 0.0))
        return ndtr((mu - log_age) / sigma)

    def mean(self):
        return self._params["mean"].copy()


class Normal(Lifetime):
    r"""Normally distributed lifetime, not truncated at zero.

    Parameters
    ----------
    mean : float or array-like
        Mean lifetime :math:`\mu \ge 0`. [yr]
    std : float or array-like
        Standard deviation :math:`\sigma > 0`. [yr]

    Notes
    -----
    :math:`S(a) = 1 - \Phi((a - \mu)/\sigma)`. The probability of a negative lifetime is not
    removed: it leaves the stock in the inflow year, as in ODYM and flodym. Prefer
    :class:`FoldedNormal`, :class:`LogNormal` or :class:`Weibull` when
    :math:`\mu/\sigma` is below about 3.
    """

    family = "normal"
    time_params = ("mean", "std")
    param_names = ("mean", "std")
    param_units = {"mean": "yr", "std": "yr"}

    def __init__(self, mean, std):
        super().__init__(mean=mean, std=std)

    def _validate(self):
        _require(self._params["mean"] >= 0, self._params["mean"], "Normal", "mean", ">= 0")
        _require(self._params["std"] > 0, self._params["std"], "Normal", "std", "> 0")

    def _survival(self, age):
        return ndtr((self._params["mean"] - age) / self._params["std"])

    def mean(self):
        return self._params["mean"].copy()


class FoldedNormal(Lifetime):
    r"""Folded normal lifetime :math:`|X|` with :math:`X \sim N(\mu, \sigma)`.

    Parameters
    ----------
    mean : float or array-like
        Mean :math:`\mu \ge 0` of the normal distribution *before* folding. [yr]
    std : float or array-like
        Standard deviation :math:`\sigma > 0` of the normal distribution before folding. [yr]

    Notes
    -----
    :math:`S(a) = \Phi((\mu - a)/\sigma) + \Phi((-\mu - a)/\sigma)` for :math:`a \ge 0`. The
    parameters are those of the unfolded normal, as in ODYM and flodym (``FoldedNormalLifetime``),
    so the mean lifetime is larger than ``mean`` when ``mean/std`` is small; :meth:`mean` gives
    the mean of the folded distribution.
    """

    family = "foldednormal"
    time_params = ("mean", "std")
    param_names = ("mean", "std")
    param_units = {"mean": "yr", "std": "yr"}

    def __init__(self, mean, std):
        super().__init__(mean=mean, std=std)

    def _validate(self):
        _require(self._params["mean"] >= 0, self._params["mean"], "FoldedNormal", "mean", ">= 0")
        _require(self._params["std"] > 0, self._params["std"], "FoldedNormal", "std", "> 0")

    def _survival(self, age):
        mu, sd = self._params["mean"], self._params["std"]
        a = np.maximum(age, 0.0)
        return np.minimum(ndtr((mu - a) / sd) + ndtr((-mu - a) / sd), 1.0)

    def mean(self):
        mu, sd = self._params["mean"], self._params["std"]
        return sd * np.sqrt(2.0 / np.pi) * np.exp(-0.5 * (mu / sd) ** 2) + mu * (
            1.0 - 2.0 * ndtr(-mu / sd)
        )


class Fixed(Lifetime):
    """Every product of a cohort is used for exactly ``lifetime`` years.

    Parameters
    ----------
    lifetime : float or array-like
        Lifetime :math:`L \\ge 0`. [yr]

    Notes
    -----
    :math:`S(a) = 1` for :math:`a < L`, else 0 (flodym's ``FixedLifetime``). With the default
    ``inflow_at="middle"`` and an integer :math:`L` a cohort leaves exactly :math:`L` years after
    its inflow year; a fractional :math:`L` such as 3.5 leaves after 3 years (ODYM, which assumes
    ``inflow_at="end"``, would keep it for 4).
    """

    family = "fixed"
    time_params = ("lifetime",)
    param_names = ("lifetime",)
    param_units = {"lifetime": "yr"}

    def __init__(self, lifetime):
        super().__init__(lifetime=lifetime)

    def _validate(self):
        _require(self._params["lifetime"] >= 0, self._params["lifetime"], "Fixed", "lifetime", ">= 0")

    def _survival(self, age):
        return (age < self._params["lifetime"]).astype(float)

    def mean(self):
        return self._params["lifetime"].copy()


def _interp_rows(grid: np.ndarray, table: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation of ``table[..., grid]`` at ``x``, row by row.

    ``grid`` is 1-D and increasing; ``table``'s leading axes broadcast against ``x``. Values
    outside the grid take the value at the nearest end.
    """
    x = np.clip(x, grid[0], grid[-1])
    i = np.clip(np.searchsorted(grid, x, side="right") - 1, 0, grid.size - 2)
    x0, x1 = grid[i], grid[i + 1]
    frac = (x - x0) / (x1 - x0)
    shape = np.broadcast_shapes(table.shape[:-1], x.shape)
    tb = np.broadcast_to(table, shape + table.shape[-1:])
    ib = np.broadcast_to(i, shape)[..., None]
    y0 = np.take_along_axis(tb, ib, axis=-1)[..., 0]
    y1 = np.take_along_axis(tb, ib + 1, axis=-1)[..., 0]
    return y0 + np.broadcast_to(frac, shape) * (y1 - y0)


class Empirical(Lifetime):
    """Survival read from a table, linear between the tabulated ages.

    Parameters
    ----------
    survival : array-like, shape ``(..., n_ages)``
        Share of a cohort still in use at each age of ``ages``, within [0, 1] and
        non-increasing along the last axis. Leading axes broadcast like any other parameter
        (their last axis is the cohort axis). [1]
    ages : array-like, shape ``(n_ages,)``, optional
        Ages of the table, increasing and starting at 0. Default ``0, 1, ..., n_ages - 1``. [yr]

    Notes
    -----
    Beyond the last tabulated age the survival keeps its last value: a table that does not
    reach 0 describes products part of which never leave.
    """

    family = "empirical"
    param_names = ("survival",)
    param_units = {"survival": "1"}

    def __init__(self, survival, ages=None):
        table = _as_param("survival", "Empirical", survival)
        if table.ndim == 0 or table.shape[-1] < 2:
            raise LifetimeError(
                f"Empirical: 'survival' needs at least 2 ages on its last axis, got shape {table.shape}"
            )
        n = table.shape[-1]
        grid = np.arange(n, dtype=float) if ages is None else _as_param("ages", "Empirical", ages)
        if grid.shape != (n,):
            raise DimensionMismatchError(
                f"Empirical: 'ages' has shape {grid.shape}, expected ({n},) to match 'survival'"
            )
        if grid[0] != 0 or np.any(np.diff(grid) <= 0):
            raise LifetimeError(
                f"Empirical: 'ages' must start at 0 and increase strictly, got {grid.tolist()}"
            )
        self._grid = grid
        self._params = {"survival": table}
        self._shape = table.shape[:-1]
        self._validate()

    def _validate(self):
        s = self._params["survival"]
        _require((s >= 0) & (s <= 1), s, "Empirical", "survival", "within [0, 1]")
        steps = np.diff(s, axis=-1)
        _require(steps <= 0, steps, "Empirical", "survival (step between ages)", "<= 0 (non-increasing)")

    @property
    def ages(self) -> np.ndarray:
        """Ages of the table [yr]."""
        return self._grid.copy()

    def _with_params(self, params):
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._params = params
        new._shape = params["survival"].shape[:-1]
        return new

    def _expand(self):
        return self._with_params({"survival": self._params["survival"][..., None, :]})

    def _first_cohort(self):
        s = self._params["survival"]
        return self._with_params({"survival": s[..., :1, :] if s.ndim > 1 else s})

    def _survival(self, age):
        s = _interp_rows(self._grid, self._params["survival"], age)
        return np.where(age < 0, 1.0, s)

    def mean(self):
        # area under the piecewise-linear survival curve up to the last age
        s = self._params["survival"]
        return np.sum(0.5 * (s[..., 1:] + s[..., :-1]) * np.diff(self._grid), axis=-1)


class Chained(Lifetime):
    r"""A use lifetime followed by a storage ("hibernation") delay before disposal.

    A product leaves the chained stock when use *and* storage are over: its time to disposal is
    :math:`T = U + D` with independent use time :math:`U` and storage delay :math:`D`, and

    .. math:: S_T(a) = 1 - \int_0^a F_D(a - u)\, dF_U(u).

    Parameters
    ----------
    use : Lifetime
        Lifetime in active use. [yr]
    storage : Lifetime
        Delay between end of use and disposal. [yr]
    steps_per_year : int, default 24
        Resolution of the numerical convolution: the integral is a midpoint Stieltjes sum over
        steps of ``1/steps_per_year`` yr, computed by FFT. [1/yr]

    Notes
    -----
    The discretisation error of the convolution is of the order of the step squared for smooth
    distributions (below 1e-3 in survival at the default resolution) and at most half a step
    in time where a distribution jumps (:class:`Fixed`). :meth:`survival_in_use` gives the
    part of the chained survival that is still in use (not yet stored).

    Examples
    --------
    >>> phone = Weibull(shape=2.0, scale=2.2).then(Weibull(shape=1.5, scale=3.3))
    >>> round(float(phone.mean()), 2)
    4.93
    """

    family = "chained"
    param_names = ()

    def __init__(self, use: Lifetime, storage: Lifetime, *, steps_per_year: int = 24):
        if not isinstance(use, Lifetime) or not isinstance(storage, Lifetime):
            raise LifetimeError("Chained: 'use' and 'storage' must both be Lifetime objects")
        if int(steps_per_year) != steps_per_year or steps_per_year < 1:
            raise LifetimeError(
                f"Chained: 'steps_per_year' must be a positive integer, got {steps_per_year!r}"
            )
        try:
            shape = np.broadcast_shapes(use.shape, storage.shape)
        except ValueError:
            raise DimensionMismatchError(
                f"Chained: use parameters {use.shape} and storage parameters {storage.shape} "
                "do not broadcast"
            ) from None
        self.use, self.storage, self.steps_per_year = use, storage, int(steps_per_year)
        self._params = {}
        self._shape = shape

    @property
    def params(self):
        return {
            **{f"use.{k}": v for k, v in self.use.params.items()},
            **{f"storage.{k}": v for k, v in self.storage.params.items()},
        }

    def _with_parts(self, use, storage):
        return Chained(use, storage, steps_per_year=self.steps_per_year)

    def _expand(self):
        return self._with_parts(self.use._expand(), self.storage._expand())

    def _first_cohort(self):
        return self._with_parts(self.use._first_cohort(), self.storage._first_cohort())

    def _survival(self, age):
        h = 1.0 / self.steps_per_year
        n_steps = max(int(math.ceil(float(np.max(age, initial=0.0)) / h)), 1) + 1
        grid = np.arange(n_steps + 1) * h
        s_use = self.use._expand().survival(grid)  # [..., n_steps + 1]
        storage = self.storage._expand()
        f_store_mid = 1.0 - storage.survival((np.arange(n_steps) + 0.5) * h)
        f_store_grid = 1.0 - storage.survival(grid)
        d_use = s_use[..., :-1] - s_use[..., 1:]  # use ends within (g_j, g_j+1]
        size = 1 << int(math.ceil(math.log2(2 * n_steps)))
        conv = np.fft.irfft(
            np.fft.rfft(d_use, size) * np.fft.rfft(f_store_mid, size), size
        )[..., :n_steps]
        f_total = np.zeros(np.broadcast_shapes(conv.shape[:-1], s_use.shape[:-1]) + grid.shape)
        f_total[..., 1:] = conv
        # probability mass of a use time <= 0 (e.g. a Normal's negative tail) ends use at 0
        f_total = f_total + (1.0 - s_use[..., :1]) * f_store_grid
        table = np.clip(1.0 - f_total, 0.0, 1.0)
        # FFT round-off is ~1e-16; snap it away so that certain survival is exactly 1 or 0
        table = np.where(table > 1.0 - 1e-12, 1.0, np.where(table < 1e-12, 0.0, table))
        table = np.minimum.accumulate(table, axis=-1)
        return np.where(age < 0, 1.0, _interp_rows(grid, table, age))

    def scaled(self, factor) -> Chained:
        """The use lifetime stretched by ``factor``; the storage delay is unchanged."""
        return self._with_parts(self.use.scaled(factor), self.storage)

    def survival_in_use(self, age) -> np.ndarray:
        """Share of a cohort still in active use (not yet in storage) at ``age`` [1]."""
        return self.use.survival(age)

    def mean(self):
        return self.use.mean() + self.storage.mean()

    def __repr__(self):
        return f"Chained(use={self.use!r}, storage={self.storage!r})"


# -- discretisation ---------------------------------------------------------------------------


def quadrature(n_pts_per_interval: int = 1, inflow_at: str = "middle"):
    """Points within the inflow year (0 = start, 1 = end) and their weights.

    One point is placed by ``inflow_at``; two or more are Gauss-Lobatto points over the year,
    exact for polynomials of degree ``2 n - 3``.

    Returns
    -------
    points, weights : ndarray
        Positions within the year [1] and weights summing to 1.
    """
    if inflow_at not in INFLOW_AT:
        raise LifetimeError(
            f"inflow_at must be one of {', '.join(INFLOW_AT)}, got {inflow_at!r}"
        )
    n = n_pts_per_interval
    if isinstance(n, bool) or int(n) != n or not 1 <= n <= MAX_QUADRATURE_POINTS:
        raise LifetimeError(
            f"n_pts_per_interval must be an integer from 1 to {MAX_QUADRATURE_POINTS}, got {n!r}"
        )
    n = int(n)
    if n == 1:
        return np.array([_INFLOW_POINT[inflow_at]]), np.array([1.0])
    from numpy.polynomial import legendre

    p_last = legendre.Legendre.basis(n - 1)
    inner = np.sort(p_last.deriv().roots().real)
    nodes = np.concatenate([[-1.0], inner, [1.0]])
    weights = 2.0 / (n * (n - 1) * p_last(nodes) ** 2)
    # the closed form sums to 2 only up to round-off (1 + 2e-16 for some n): normalise, so that a
    # certain survival (1 at every point) stays exactly 1
    return (nodes + 1.0) / 2.0, weights / weights.sum()


def varies_by_cohort(lifetime: Lifetime) -> bool:
    """Whether any parameter has a cohort (last) axis longer than 1."""
    return len(lifetime.shape) > 0 and lifetime.shape[-1] > 1


def age_kernel(
    lifetime: Lifetime, n_ages: int, inflow_at: str = "middle", n_pts_per_interval: int = 1
) -> np.ndarray:
    """Survival factor by completed age for a lifetime that does not vary by cohort.

    ``kernel[..., a]`` is the share of a cohort still in stock at the end of the year in which
    it is ``a`` calendar years past its inflow year, i.e. ``sf[c, c + a]``.

    Returns
    -------
    ndarray, shape ``lifetime.shape[:-1] + (n_ages,)``
    """
    if varies_by_cohort(lifetime):
        raise DimensionMismatchError(
            "age_kernel needs a lifetime that does not vary by cohort; "
            f"its parameters have shape {lifetime.shape}"
        )
    points, weights = quadrature(n_pts_per_interval, inflow_at)
    ages = np.arange(n_ages, dtype=float)[:, None] + 1.0 - points  # [a, q]
    # parameters [..., 1] -> [..., 1, 1], against ages [a, q] -> [..., a, q]
    lt = lifetime._expand() if lifetime.shape else lifetime
    return _as_survival_factors(lt.survival(ages) @ weights)


def _as_survival_factors(sf: np.ndarray) -> np.ndarray:
    """Weighted means of survival values, made exactly what they are mathematically.

    Each factor is a probability (a mean of values in [0, 1] with weights summing to 1) and, along
    the last (age or year) axis, non-increasing because every survival function is. Round-off in
    the weighted sum can break both by about 1e-16; clipping and a running minimum restore them
    without changing any value by more than that.
    """
    return np.minimum.accumulate(np.clip(sf, 0.0, 1.0), axis=-1)


def survival_factors(
    lifetime: Lifetime, n_years: int, inflow_at: str = "middle", n_pts_per_interval: int = 1
) -> np.ndarray:
    """Discrete survival table ``sf[..., cohort, year]`` (see the module docstring).

    Parameters
    ----------
    lifetime : Lifetime
        Its parameters' last axis, if longer than 1, must have length ``n_years`` (cohorts).
    n_years : int
        Number of consecutive years. [yr]
    inflow_at : {"start", "middle", "end"}
        Where within its year a cohort enters the stock.
    n_pts_per_interval : int
        Quadrature points over the inflow year (1 = a single point placed by ``inflow_at``).

    Returns
    -------
    ndarray, shape ``lifetime.shape[:-1] + (n_years, n_years)``
        Share of cohort ``c`` in stock at the end of year ``t``; 0 for ``t < c``. [1]
    """
    n = int(n_years)
    if varies_by_cohort(lifetime) and lifetime.shape[-1] != n:
        raise DimensionMismatchError(
            f"lifetime parameters vary over {lifetime.shape[-1]} cohorts, expected {n} "
            "(one per year) or 1"
        )
    age = np.arange(n)[None, :] - np.arange(n)[:, None]  # [c, t] = t - c
    if not varies_by_cohort(lifetime):
        kernel = age_kernel(lifetime, n, inflow_at, n_pts_per_interval)
        return np.where(age >= 0, kernel[..., np.clip(age, 0, None)], 0.0)
    points, weights = quadrature(n_pts_per_interval, inflow_at)
    lt = lifetime._expand()._expand()  # [..., c, 1, 1] against ages [c, t, q]
    # before its inflow year a cohort is given its age-0 value, so the running minimum over
    # years (last axis) sees a non-increasing row; those cells are zeroed afterwards
    ages = np.maximum(age, 0)[:, :, None] + 1.0 - points
    sf = _as_survival_factors(lt.survival(ages) @ weights)
    return np.where(age >= 0, sf, 0.0)


# -- text specifications ------------------------------------------------------------------------

FAMILIES: dict[str, type[Lifetime]] = {
    cls.family: cls for cls in (Weibull, LogNormal, Normal, FoldedNormal, Fixed)
}
"""Lifetime families that take scalar parameters in a text specification."""


def parse_lifetime(spec: str, *, what: str = "--lifetime") -> Lifetime:
    """Build a lifetime from a text specification ``family:name=value,name=value``.

    Families: ``weibull:shape=,scale=``, ``lognormal:mean=,std=``, ``normal:mean=,std=``,
    ``foldednormal:mean=,std=``, ``fixed:lifetime=``, and ``empirical:file=PATH`` (a CSV with
    columns ``age,survival``). Values are in years except Weibull's shape.

    Examples
    --------
    >>> parse_lifetime("weibull:shape=2.5,scale=15")
    Weibull(shape=2.5, scale=15)
    """
    text = spec.strip()
    family, _, rest = text.partition(":")
    family = family.strip().lower().replace("_", "").replace("-", "")
    known = sorted([*FAMILIES, "empirical"])
    if family not in FAMILIES and family != "empirical":
        raise LifetimeError(
            f"{what} {spec!r}: unknown lifetime family {family!r}; expected one of {', '.join(known)}"
        )
    params: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        name, eq, value = item.partition("=")
        if not eq or not name.strip() or not value.strip():
            raise LifetimeError(f"{what} {spec!r}: {item!r} is not of the form name=value")
        if name.strip() in params:
            raise LifetimeError(f"{what} {spec!r}: parameter {name.strip()!r} given twice")
        params[name.strip()] = value.strip()
    if family == "empirical":
        expected = ("file",)
    else:
        expected = FAMILIES[family].param_names
    unknown = [k for k in params if k not in expected]
    missing = [k for k in expected if k not in params]
    if unknown or missing:
        form = ",".join(f"{k}=..." for k in expected)
        problem = (
            f"unknown parameter {unknown[0]!r}" if unknown else f"missing parameter {missing[0]!r}"
        )
        raise LifetimeError(f"{what} {spec!r}: {problem}; expected {family}:{form}")
    if family == "empirical":
        from .io import read_series_csv

        ages, surv = read_series_csv(params["file"], key="age", value="survival", consecutive=False)
        try:
            return Empirical(surv, ages=ages)
        except LifetimeError as exc:
            raise LifetimeError(f"{params['file']}: {exc}") from None
    values = {}
    for k, v in params.items():
        try:
            values[k] = float(v)
        except ValueError:
            raise LifetimeError(f"{what} {spec!r}: {k} = {v!r} is not a number") from None
    try:
        return FAMILIES[family](**values)
    except LifetimeError as exc:
        raise LifetimeError(f"{what} {spec!r}: {exc}") from None
