"""Cross-check against flodym 1.1.0's InflowDrivenDSM / StockDrivenDSM (skipped without flodym).

flodym is not a dependency of urbanmine. To run these tests::

    python -m venv /tmp/fl && /tmp/fl/bin/pip install flodym==1.1.0 -e '.[test]'
    /tmp/fl/bin/python -m pytest tests/validation/test_flodym.py

flodym's arrays put time first (``[year, series]`` for parameters, ``[year, cohort, series]``
for survival factors); urbanmine puts time last (``[series, cohort]``, ``[series, cohort,
year]``).
"""

import numpy as np
import pytest

flodym = pytest.importorskip("flodym")
try:
    from importlib.metadata import version

    _FLODYM_VERSION = version("flodym")
except Exception:  # pragma: no cover - flodym without metadata
    _FLODYM_VERSION = "unknown"
if _FLODYM_VERSION != "1.1.0":
    pytest.skip(
        f"reference numbers are flodym 1.1.0's; found {_FLODYM_VERSION}", allow_module_level=True
    )

from urbanmine import lifetimes as lt  # noqa: E402
from urbanmine.stocks import inflow_driven, stock_driven  # noqa: E402

N_YEARS, N_SERIES = 30, 3
RNG = np.random.default_rng(42)
INFLOW = RNG.uniform(0.5, 2.0, (N_SERIES, N_YEARS))
# parameters vary by series and by cohort: [series, cohort]
MEAN = RNG.uniform(4.0, 15.0, (N_SERIES, N_YEARS))
STD = RNG.uniform(1.0, 4.0, (N_SERIES, N_YEARS))
SHAPE = RNG.uniform(1.2, 4.0, (N_SERIES, N_YEARS))
FIXED = RNG.integers(1, 12, (N_SERIES, N_YEARS)).astype(float)


def _dims():
    return flodym.DimensionSet(
        dim_list=[
            flodym.Dimension(name="time", letter="t", items=list(range(2000, 2000 + N_YEARS))),
            flodym.Dimension(name="series", letter="s", items=list(range(N_SERIES))),
        ]
    )


CASES = {
    "weibull": (
        lambda p: lt.Weibull(shape=p(SHAPE), scale=p(MEAN)),
        lambda dims, p, kw: flodym.WeibullLifetime(
            dims=dims, weibull_shape=p(SHAPE), weibull_scale=p(MEAN), **kw
        ),
    ),
    "lognormal": (
        lambda p: lt.LogNormal(mean=p(MEAN), std=p(STD)),
        lambda dims, p, kw: flodym.LogNormalLifetime(dims=dims, mean=p(MEAN), std=p(STD), **kw),
    ),
    "normal": (
        lambda p: lt.Normal(mean=p(MEAN), std=p(STD)),
        lambda dims, p, kw: flodym.NormalLifetime(dims=dims, mean=p(MEAN), std=p(STD), **kw),
    ),
    "foldednormal": (
        lambda p: lt.FoldedNormal(mean=p(MEAN), std=p(STD)),
        lambda dims, p, kw: flodym.FoldedNormalLifetime(dims=dims, mean=p(MEAN), std=p(STD), **kw),
    ),
    "fixed": (
        lambda p: lt.Fixed(p(FIXED)),
        lambda dims, p, kw: flodym.FixedLifetime(dims=dims, mean=p(FIXED), **kw),
    ),
}


def _flodym_run(family, by_cohort, inflow_at, n_pts):
    dims = _dims()
    if by_cohort:
        fl_param = lambda a: a.T.copy()  # noqa: E731  [t, s]
    else:
        fl_param = lambda a: np.broadcast_to(a[:, :1].T, (N_YEARS, N_SERIES)).copy()  # noqa: E731
    kw = {"inflow_at": inflow_at, "n_pts_per_interval": n_pts}
    model = CASES[family][1](dims, fl_param, kw)
    dsm = flodym.InflowDrivenDSM(dims=dims, lifetime_model=model)
    dsm.inflow.values[...] = INFLOW.T
    dsm.compute()
    return dsm


# (inflow_at, n_pts_per_interval): inflow_at is ignored by both tools when n_pts > 1
TIMINGS = [("start", 1), ("middle", 1), ("end", 1), ("middle", 2), ("middle", 5)]


@pytest.mark.parametrize(("inflow_at", "n_pts"), TIMINGS)
@pytest.mark.parametrize("by_cohort", [False, True], ids=["per-series", "per-cohort"])
@pytest.mark.parametrize("family", sorted(CASES))
def test_inflow_driven_equals_flodym(family, by_cohort, inflow_at, n_pts):
    dsm = _flodym_run(family, by_cohort, inflow_at, n_pts)
    ours_param = (lambda a: a) if by_cohort else (lambda a: a[:, :1])
    res = inflow_driven(INFLOW, CASES[family][0](ours_param), inflow_at, n_pts_per_interval=n_pts)
    np.testing.assert_allclose(res.stock, dsm.stock.values.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.outflow, dsm.outflow.values.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        res.stock_by_cohort, np.moveaxis(dsm.get_stock_by_cohort(), (0, 1), (-1, -2)),
        rtol=1e-9, atol=1e-12,
    )
    np.testing.assert_allclose(
        res.outflow_by_cohort, np.moveaxis(dsm.get_outflow_by_cohort(), (0, 1), (-1, -2)),
        rtol=1e-9, atol=1e-12,
    )


@pytest.mark.parametrize("inflow_at", ["start", "middle", "end"])
@pytest.mark.parametrize("family", ["weibull", "lognormal", "foldednormal"])
def test_stock_driven_equals_flodym(family, inflow_at):
    dims = _dims()
    fl_param = lambda a: a.T.copy()  # noqa: E731
    model = CASES[family][1](dims, fl_param, {"inflow_at": inflow_at})
    stock = np.cumsum(INFLOW, axis=-1)  # a growing stock: no negative inflow
    dsm = flodym.StockDrivenDSM(dims=dims, lifetime_model=model)
    dsm.stock.values[...] = stock.T
    dsm.compute()
    res = stock_driven(stock, CASES[family][0](lambda a: a), inflow_at, negative_inflow="allow")
    np.testing.assert_allclose(res.inflow, dsm.inflow.values.T, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(res.outflow, dsm.outflow.values.T, rtol=1e-9, atol=1e-10)
