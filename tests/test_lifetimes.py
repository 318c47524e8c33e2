"""Lifetime distributions: known values worked out by hand or from closed forms."""

import math

import numpy as np
import pytest
from scipy import integrate

from urbanmine import lifetimes as lt
from urbanmine.errors import DimensionMismatchError, InputDataError, LifetimeError


def test_weibull_survival_at_scale_is_exp_minus_one():
    assert lt.Weibull(shape=2.5, scale=15.0).survival(15.0) == pytest.approx(math.exp(-1), rel=1e-15)


def test_weibull_scalar_array_and_broadcast_inputs():
    w = lt.Weibull(shape=np.array([[1.0], [3.0]]), scale=10.0)
    s = w.survival(np.array([0.0, 10.0, 20.0]))
    assert s.shape == (2, 3)
    # shape 1 is the exponential distribution: S(20) = e^-2
    np.testing.assert_allclose(s[0], [1.0, math.exp(-1), math.exp(-2)], rtol=1e-15)
    # shape 3: S(20) = exp(-(2)^3) = e^-8
    np.testing.assert_allclose(s[1], [1.0, math.exp(-1), math.exp(-8)], rtol=1e-15)


def test_weibull_mean_is_scale_times_gamma():
    # Γ(1 + 1/2) = sqrt(pi)/2
    assert lt.Weibull(2.0, 10.0).mean() == pytest.approx(10 * math.sqrt(math.pi) / 2, rel=1e-14)


def test_lognormal_median_and_moments_are_those_of_the_lifetime():
    m, s = 10.0, 3.0
    d = lt.LogNormal(mean=m, std=s)
    median = m / math.sqrt(1 + (s / m) ** 2)  # exp(mu) with mu = ln m - sigma^2/2
    assert d.survival(median) == pytest.approx(0.5, rel=1e-12)
    mean = integrate.quad(lambda a: float(d.survival(a)), 0, np.inf)[0]
    second = integrate.quad(lambda a: 2 * a * float(d.survival(a)), 0, np.inf)[0]
    assert mean == pytest.approx(m, rel=1e-7)
    assert math.sqrt(second - mean**2) == pytest.approx(s, rel=1e-6)


def test_normal_and_folded_normal_known_values():
    assert lt.Normal(mean=12.0, std=4.0).survival(12.0) == pytest.approx(0.5)
    f = lt.FoldedNormal(mean=1.0, std=2.0)
    assert f.survival(0.0) == 1.0
    # P(|X| > 1) for X ~ N(1, 2): P(X > 1) + P(X < -1) = 0.5 + Phi(-1)
    assert f.survival(1.0) == pytest.approx(0.5 + 0.15865525393145707, rel=1e-12)
    mean = integrate.quad(lambda a: float(f.survival(a)), 0, np.inf)[0]
    assert f.mean() == pytest.approx(mean, rel=1e-8)


def test_fixed_lifetime_steps_at_lifetime():
    f = lt.Fixed(3.0)
    np.testing.assert_array_equal(f.survival([0, 2.999, 3.0, 10]), [1, 1, 0, 0])


def test_empirical_interpolates_linearly_and_holds_the_last_value():
    e = lt.Empirical([1.0, 0.8, 0.2, 0.0])
    np.testing.assert_allclose(e.survival([0.5, 1.5, 2.5, 7.0, -1.0]), [0.9, 0.5, 0.1, 0.0, 1.0])
    e2 = lt.Empirical([1.0, 0.6, 0.4], ages=[0, 5, 10])
    assert e2.survival(12.0) == pytest.approx(0.4)
    assert e2.survival(2.5) == pytest.approx(0.8)
    assert e2.mean() == pytest.approx(2.5 * 1.6 + 2.5 * 1.0)


def test_empirical_per_series_tables():
    e = lt.Empirical(np.array([[[1.0, 0.5, 0.0]], [[1.0, 1.0, 0.0]]]))  # [series, 1, age]
    assert e.shape == (2, 1)
    np.testing.assert_allclose(e.survival(np.array([1.5])), [[0.25], [0.5]])


def test_chained_fixed_then_fixed_is_fixed_sum():
    c = lt.Fixed(2.0).then(lt.Fixed(3.0))
    # exactly 1 well before 5 yr and 0 well after, whatever the step
    np.testing.assert_array_equal(c.survival([0.5, 4.9]), [1.0, 1.0])
    np.testing.assert_array_equal(c.survival([5.1, 9.0]), [0.0, 0.0])


def test_chained_exponentials_match_hypoexponential_closed_form():
    l1, l2 = 1 / 2.0, 1 / 3.0  # rates of two exponential stages (Weibull shape 1)
    c = lt.Weibull(1.0, 2.0).then(lt.Weibull(1.0, 3.0))
    a = np.linspace(0, 20, 41)
    exact = (l2 * np.exp(-l1 * a) - l1 * np.exp(-l2 * a)) / (l2 - l1)
    np.testing.assert_allclose(c.survival(a), exact, atol=2e-4)


def test_chained_fixed_use_shifts_the_storage_survival():
    storage = lt.Weibull(1.5, 3.3)
    c = lt.Fixed(2.0).then(storage, steps_per_year=48)
    a = np.array([3.0, 4.5, 8.0])
    np.testing.assert_allclose(c.survival(a), storage.survival(a - 2.0), atol=2e-2)


def test_chained_mean_and_per_series_parameters():
    use = lt.Weibull(2.0, np.array([[2.0], [3.0]]))
    c = use.then(lt.Weibull(1.5, 3.3))
    assert c.shape == (2, 1)
    for i in range(2):
        single = lt.Weibull(2.0, [2.0, 3.0][i]).then(lt.Weibull(1.5, 3.3))
        np.testing.assert_allclose(c.survival(np.array([1.0, 4.0]))[i], single.survival(np.array([1.0, 4.0])))
    # the mean is the area under the survival curve
    ages = np.linspace(0, 60, 6001)
    area = integrate.trapezoid(c.survival(ages[None, :])[0], ages)
    assert area == pytest.approx(float(c.mean()[0, 0]), rel=2e-3)


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: lt.Weibull(shape=2, scale=-1), "'scale' must be > 0, got -1"),
        (lambda: lt.Weibull(shape=0, scale=1), "'shape' must be > 0, got 0"),
        (lambda: lt.LogNormal(mean=10, std=0), "'std' must be > 0"),
        (lambda: lt.Normal(mean=-1, std=1), "'mean' must be >= 0"),
        (lambda: lt.Fixed(-2), "'lifetime' must be >= 0"),
        (lambda: lt.Weibull(shape="a", scale=1), "'shape' must be numeric"),
        (lambda: lt.Weibull(shape=np.nan, scale=1), "must be finite"),
        (lambda: lt.Empirical([1.0, 1.2, 0.0]), "within \\[0, 1\\]"),
        (lambda: lt.Empirical([1.0, 0.5, 0.7]), "non-increasing"),
        (lambda: lt.Empirical([1.0, 0.5], ages=[1, 2]), "start at 0"),
    ],
)
def test_invalid_parameters_raise_a_clear_error(factory, match):
    with pytest.raises(LifetimeError, match=match):
        factory()


def test_parameters_that_do_not_broadcast_are_rejected():
    with pytest.raises(DimensionMismatchError, match="do not broadcast"):
        lt.Weibull(shape=np.ones(3), scale=np.ones(4))


def test_quadrature_three_points_is_simpson():
    p, w = lt.quadrature(3)
    np.testing.assert_allclose(p, [0, 0.5, 1], atol=1e-15)
    np.testing.assert_allclose(w, [1 / 6, 2 / 3, 1 / 6], rtol=1e-14)


@pytest.mark.parametrize("n", range(2, 11))
def test_quadrature_is_exact_for_degree_2n_minus_3(n):
    p, w = lt.quadrature(n)
    deg = 2 * n - 3
    # integral of x^deg over [0, 1] is 1 / (deg + 1)
    assert np.sum(w * p**deg) == pytest.approx(1 / (deg + 1), rel=1e-12)
    assert np.sum(w) == pytest.approx(1.0, rel=1e-14)


def test_quadrature_rejects_bad_arguments():
    with pytest.raises(LifetimeError, match="from 1 to 10"):
        lt.quadrature(11)
    with pytest.raises(LifetimeError, match="inflow_at must be one of"):
        lt.quadrature(1, "late")


def test_survival_factors_conventions_by_hand():
    # S(a) = 1 for a < 2.5: which ages survive depends on the convention
    f = lt.Fixed(2.5)
    mid = lt.survival_factors(f, 4, "middle")  # ages t-c+0.5: 0.5, 1.5 survive; 2.5 not
    end = lt.survival_factors(f, 4, "end")  # ages t-c: 0, 1, 2 survive
    start = lt.survival_factors(f, 4, "start")  # ages t-c+1: 1, 2 survive
    np.testing.assert_array_equal(mid[0], [1, 1, 0, 0])
    np.testing.assert_array_equal(end[0], [1, 1, 1, 0])
    np.testing.assert_array_equal(start[0], [1, 1, 0, 0])
    np.testing.assert_array_equal(mid[2], [0, 0, 1, 1])  # nothing before the inflow year


def test_survival_factors_end_convention_is_odym():
    w = lt.Weibull(2.0, 5.0)
    sf = lt.survival_factors(w, 6, "end")
    for c in range(6):
        for t in range(c, 6):
            assert sf[c, t] == pytest.approx(math.exp(-(((t - c) / 5.0) ** 2)), rel=1e-15)


def test_survival_factors_cohort_axis_must_match_years():
    with pytest.raises(DimensionMismatchError, match="vary over 5 cohorts, expected 4"):
        lt.survival_factors(lt.Weibull(2.0, np.arange(1.0, 6.0)), 4)


def test_parse_lifetime_forms_and_errors(tmp_path):
    assert isinstance(lt.parse_lifetime("lognormal:mean=10,std=3"), lt.LogNormal)
    assert lt.parse_lifetime("fixed:lifetime=3").mean() == 3.0
    with pytest.raises(LifetimeError, match="unknown lifetime family 'gamma'"):
        lt.parse_lifetime("gamma:k=2")
    with pytest.raises(LifetimeError, match="unknown parameter 'mean'"):
        lt.parse_lifetime("weibull:mean=2,scale=3")
    with pytest.raises(LifetimeError, match="missing parameter 'scale'"):
        lt.parse_lifetime("weibull:shape=2")
    with pytest.raises(LifetimeError, match="'x' is not a number"):
        lt.parse_lifetime("weibull:shape=2,scale=x")
    table = tmp_path / "surv.csv"
    table.write_text("age,survival\n0,1\n5,0.5\n10,0\n")
    e = lt.parse_lifetime(f"empirical:file={table}")
    assert e.survival(7.5) == pytest.approx(0.25)
    table.write_text("age,survival\n0,1\n5,1.5\n")
    with pytest.raises(LifetimeError, match="surv.csv"):
        lt.parse_lifetime(f"empirical:file={table}")
    with pytest.raises(InputDataError, match="file not found"):
        lt.parse_lifetime(f"empirical:file={tmp_path / 'none.csv'}")
