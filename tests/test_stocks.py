"""Cohort stock models: cases worked out by hand and from the mathematics."""

import numpy as np
import pytest

from urbanmine import lifetimes as lt
from urbanmine.errors import DimensionMismatchError, InputDataError, MassBalanceError, StockModelError
from urbanmine.stocks import (
    check_mass_balance,
    inflow_driven,
    mass_balance_residual,
    stock_driven,
)


def test_fixed_lifetime_pulse_by_hand():
    # 10 units enter in year 0 and live exactly 3 years: they leave in year 3
    r = inflow_driven([10.0, 0, 0, 0, 0], lt.Fixed(3))
    np.testing.assert_array_equal(r.stock, [10, 10, 10, 0, 0])
    np.testing.assert_array_equal(r.outflow, [0, 0, 0, 10, 0])


@pytest.mark.parametrize(
    ("inflow_at", "leaves_in"),
    # Fixed(2.5): survives while the age at the end of the year is below 2.5
    [("middle", 2), ("start", 2), ("end", 3)],
)
def test_fractional_fixed_lifetime_depends_on_convention(inflow_at, leaves_in):
    r = inflow_driven([4.0, 0, 0, 0, 0], lt.Fixed(2.5), inflow_at)
    expected = np.zeros(5)
    expected[leaves_in] = 4.0
    np.testing.assert_array_equal(r.outflow, expected)


def test_weibull_pulse_by_hand():
    # outflow of a pulse in year t is S(t - 0.5) - S(t + 0.5), with S(-0.5) = 1
    shape, scale = 2.0, 4.0
    r = inflow_driven([1.0, 0, 0, 0], lt.Weibull(shape, scale))
    s = lambda a: np.exp(-((a / scale) ** shape))  # noqa: E731
    np.testing.assert_allclose(r.stock, [s(0.5), s(1.5), s(2.5), s(3.5)], rtol=1e-14)
    np.testing.assert_allclose(
        r.outflow, [1 - s(0.5), s(0.5) - s(1.5), s(1.5) - s(2.5), s(2.5) - s(3.5)], rtol=1e-13
    )


@pytest.mark.parametrize(
    "lifetime",
    [lt.Weibull(2.5, 15.0), lt.LogNormal(12.0, 4.0), lt.FoldedNormal(10.0, 4.0),
     lt.Normal(15.0, 3.0)],
    ids=["weibull", "lognormal", "foldednormal", "normal"],
)
@pytest.mark.parametrize(("inflow_at", "shift"), [("middle", 0.0), ("start", -0.5), ("end", 0.5)])
def test_constant_inflow_gives_steady_stock_equal_to_mean_lifetime(lifetime, inflow_at, shift):
    # constant inflow 1/yr: steady stock = sum over ages of S(a + offset) ~ mean lifetime,
    # a midpoint (or end-point) rule for the integral of S, within 1e-3 yr for smooth S
    r = inflow_driven(np.ones(400), lifetime, inflow_at)
    assert r.stock[-1] == pytest.approx(float(lifetime.mean()) + shift, abs=1e-3)
    assert r.outflow[-1] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(("inflow_at", "cohorts"), [("start", 7), ("middle", 8), ("end", 8)])
def test_constant_inflow_with_integer_fixed_lifetime_by_hand(inflow_at, cohorts):
    # S jumps at L = 8. At a year's end the cohort of year t - k is k + 1 (start), k + 0.5
    # (middle) or k (end) years old, so k = 0..6, 0..7 and 0..7 are still in stock.
    r = inflow_driven(np.ones(30), lt.Fixed(8.0), inflow_at)
    assert r.stock[-1] == cohorts


def test_round_trip_inflow_stock_inflow():
    rng = np.random.default_rng(1)
    inflow = rng.uniform(0, 5, (4, 50))
    lifetime = lt.LogNormal(mean=rng.uniform(5, 20, (4, 1)), std=3.0)
    r = inflow_driven(inflow, lifetime)
    back = stock_driven(r.stock, lifetime)
    np.testing.assert_allclose(back.inflow, inflow, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(back.outflow, r.outflow, rtol=1e-9, atol=1e-9)


def test_round_trip_with_cohort_varying_lifetime_and_initial_stock():
    rng = np.random.default_rng(2)
    inflow = rng.uniform(0, 5, (3, 30))
    lifetime = lt.Weibull(shape=2.0, scale=np.linspace(6, 12, 30))
    init = rng.uniform(0, 2, (3, 8))
    r = inflow_driven(inflow, lifetime, initial_stock=init)
    back = stock_driven(r.stock, lifetime, initial_stock=init)
    np.testing.assert_allclose(back.inflow, inflow, rtol=1e-9, atol=1e-9)


def test_initial_stock_by_hand():
    # Fixed(3), middle: the cohort that entered 1 year before the first year is 1.5 yr old at
    # the end of year 0, 2.5 at the end of year 1 and gone (3.5) in year 2; the one that entered
    # 2 years before leaves in year 1.
    r = inflow_driven([0.0, 0, 0], lt.Fixed(3), initial_stock=[5.0, 7.0, 0.0])
    np.testing.assert_array_equal(r.stock, [12, 5, 0])
    np.testing.assert_array_equal(r.outflow, [0, 7, 5])
    assert r.stock_by_cohort.shape == (6, 3)
    np.testing.assert_array_equal(r.cohort_offsets, [-3, -2, -1, 0, 1, 2])
    np.testing.assert_array_equal(r.stock_by_cohort[1], [7, 0, 0])  # entered 2 years before
    np.testing.assert_array_equal(r.outflow_by_cohort.sum(axis=-2), r.outflow)
    check_mass_balance(r)


def test_initial_stock_weibull_conditional_survival():
    # a historic cohort of age a keeps S(a + 1 + t + 0.5) / S(a + 0.5) of its stock
    w = lt.Weibull(2.0, 10.0)
    r = inflow_driven(np.zeros(3), w, initial_stock=[0.0, 0.0, 6.0])
    s = lambda x: np.exp(-((x / 10.0) ** 2))  # noqa: E731
    np.testing.assert_allclose(r.stock, 6.0 * s(np.array([3.5, 4.5, 5.5])) / s(2.5), rtol=1e-13)


def test_by_cohort_arrays_sum_to_totals():
    rng = np.random.default_rng(3)
    r = inflow_driven(rng.uniform(0, 1, (2, 3, 20)), lt.Weibull(2.0, rng.uniform(3, 9, (3, 1))))
    assert r.stock_by_cohort.shape == (2, 3, 20, 20)
    np.testing.assert_allclose(r.stock_by_cohort.sum(axis=-2), r.stock, rtol=1e-12)
    np.testing.assert_allclose(r.outflow_by_cohort.sum(axis=-2), r.outflow, rtol=1e-12)
    assert np.all(np.triu(np.ones((20, 20))) >= (r.stock_by_cohort[0, 0] != 0))  # no t < c


def test_stock_driven_negative_inflow_policies_by_hand():
    # Fixed(10): nothing retires naturally within 3 years. The stock 10, 10, 4 needs inflow
    # 10, 0, -6: the surplus of 6 must go.
    stock = [10.0, 10.0, 4.0]
    with pytest.raises(StockModelError, match="inflow would be -6 at index \\(2,\\)"):
        stock_driven(stock, lt.Fixed(10))
    allowed = stock_driven(stock, lt.Fixed(10), negative_inflow="allow")
    np.testing.assert_allclose(allowed.inflow, [10, 0, -6], atol=1e-12)
    early = stock_driven(stock, lt.Fixed(10), negative_inflow="retire_early")
    np.testing.assert_allclose(early.inflow, [10, 0, 0], atol=1e-12)
    np.testing.assert_allclose(early.outflow, [0, 0, 6], atol=1e-12)
    np.testing.assert_allclose(early.stock, stock, atol=1e-12)
    # the early retirement persists: 4 units remain and leave in year 10
    later = stock_driven([10.0, 10, 4, 4, 4], lt.Fixed(10), negative_inflow="retire_early")
    np.testing.assert_allclose(later.inflow, [10, 0, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(later.stock_by_cohort.sum(axis=-2), later.stock, atol=1e-12)


def test_stock_driven_retire_early_takes_the_same_share_from_every_cohort():
    # two cohorts of 6 and 4 present; the stock falls to 5: each loses half
    r = stock_driven([6.0, 10.0, 5.0], lt.Fixed(10), negative_inflow="retire_early")
    np.testing.assert_allclose(r.stock_by_cohort[:, 2], [3.0, 2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(r.outflow_by_cohort[:, 2], [3.0, 2.0, 0.0], atol=1e-12)


def test_mass_balance_check_detects_a_broken_result():
    r = inflow_driven(np.ones(10), lt.Weibull(2.0, 5.0))
    check_mass_balance(r)
    assert np.max(np.abs(mass_balance_residual(r))) < 1e-12
    r.outflow[4] += 1e-3
    with pytest.raises(MassBalanceError, match="at index \\(4,\\)"):
        check_mass_balance(r)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(InputDataError, match="must be finite"):
        inflow_driven([1.0, np.nan], lt.Fixed(3))
    with pytest.raises(DimensionMismatchError, match="do not broadcast against inflow"):
        inflow_driven(np.ones((3, 10)), lt.Weibull(2.0, np.ones((4, 1))))
    with pytest.raises(DimensionMismatchError, match="year axis"):
        inflow_driven(5.0, lt.Fixed(3))
    with pytest.raises(StockModelError, match="negative_inflow must be one of"):
        stock_driven([1.0, 2.0], lt.Fixed(3), negative_inflow="clip")
    with pytest.raises(InputDataError, match="initial_stock must be >= 0"):
        inflow_driven([1.0, 2.0], lt.Fixed(3), initial_stock=[-1.0])
