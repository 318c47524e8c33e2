"""Invariants of lifetimes and stock models for any valid input (Hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from urbanmine import lifetimes as lt
from urbanmine.stocks import check_mass_balance, inflow_driven, stock_driven

pos = st.floats(0.3, 40.0, allow_nan=False)
shape_param = st.floats(0.5, 8.0, allow_nan=False)


@st.composite
def lifetimes(draw):
    family = draw(st.sampled_from(["weibull", "lognormal", "normal", "foldednormal", "fixed", "chained", "empirical"]))
    if family == "weibull":
        return lt.Weibull(draw(shape_param), draw(pos))
    if family == "lognormal":
        return lt.LogNormal(draw(pos), draw(pos))
    if family == "normal":
        return lt.Normal(draw(pos), draw(pos))
    if family == "foldednormal":
        return lt.FoldedNormal(draw(pos), draw(pos))
    if family == "fixed":
        return lt.Fixed(draw(st.floats(0.0, 30.0)))
    if family == "empirical":
        steps = draw(arrays(float, draw(st.integers(1, 12)), elements=st.floats(0, 1)))
        table = np.clip(1.0 - np.cumsum(steps) / max(1.0, steps.sum()), 0, 1)
        return lt.Empirical(np.concatenate([[1.0], table]))
    return lt.Weibull(draw(shape_param), draw(st.floats(0.3, 5.0))).then(
        lt.Weibull(draw(shape_param), draw(st.floats(0.3, 5.0)))
    )


inflows = arrays(float, st.integers(1, 40), elements=st.floats(0, 1e6))
timing = st.sampled_from(["start", "middle", "end"])


@settings(deadline=None)
@given(lifetimes(), arrays(float, 30, elements=st.floats(0, 80)))
def test_survival_within_unit_interval_and_non_increasing(lifetime, ages):
    ages = np.sort(ages)
    s = lifetime.survival(ages)
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(np.diff(s) <= 1e-12)


@settings(deadline=None)
@given(lifetimes(), st.integers(1, 30), timing, st.integers(1, 6))
def test_survival_factors_within_unit_interval_and_non_increasing_in_time(lifetime, n, at, q):
    sf = lt.survival_factors(lifetime, n, at, q)
    assert np.all((sf >= 0) & (sf <= 1))
    upper = np.triu(np.ones((n, n), bool))
    assert np.all(sf[~upper] == 0)
    assert np.all(np.diff(sf, axis=-1)[upper[:, :-1]] <= 1e-12)  # [c, t+1] - [c, t], t >= c


@settings(deadline=None)
@given(lifetimes(), inflows, timing)
def test_mass_balance(lifetime, inflow, at):
    r = inflow_driven(inflow, lifetime, at, check=False)
    check_mass_balance(r, rtol=1e-9)
    assert np.all(r.stock >= -1e-9 * max(1.0, inflow.max()))
    assert np.all(r.outflow >= -1e-9 * max(1.0, inflow.max()))


@settings(deadline=None)
@given(lifetimes(), inflows, st.floats(-10, 10), st.floats(-10, 10), timing)
def test_linearity_in_the_inflow(lifetime, x, a, b, at):
    y = np.roll(x, 1)[::-1]
    r = inflow_driven(a * x + b * y, lifetime, at)
    rx, ry = inflow_driven(x, lifetime, at), inflow_driven(y, lifetime, at)
    scale = 1.0 + np.abs(x).max() * (abs(a) + abs(b))
    np.testing.assert_allclose(r.stock, a * rx.stock + b * ry.stock, atol=1e-9 * scale)
    np.testing.assert_allclose(r.outflow, a * rx.outflow + b * ry.outflow, atol=1e-9 * scale)


@settings(deadline=None)
@given(
    arrays(float, (3, 15), elements=st.floats(0, 1e3)),
    arrays(float, (3, 1), elements=st.floats(0.5, 5.0)),
    arrays(float, (3, 1), elements=st.floats(1.0, 25.0)),
    st.booleans(),
    timing,
)
def test_leading_axes_together_equal_each_alone(inflow, shape, scale, by_cohort, at):
    if by_cohort:
        scale = scale * np.linspace(0.5, 1.5, 15)
    together = inflow_driven(inflow, lt.Weibull(shape, scale), at)
    for i in range(3):
        alone = inflow_driven(inflow[i], lt.Weibull(shape[i], scale[i]), at)
        np.testing.assert_allclose(together.stock[i], alone.stock, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(together.outflow[i], alone.outflow, rtol=1e-12, atol=1e-12)


@settings(deadline=None)
@given(
    arrays(float, 25, elements=st.floats(0, 1e3)),
    st.floats(1.0, 5.0),
    st.floats(2.0, 30.0),
    timing,
)
def test_stock_driven_inverts_inflow_driven(inflow, shape, scale, at):
    w = lt.Weibull(shape, scale)
    r = inflow_driven(inflow, w, at)
    back = stock_driven(r.stock, w, at, negative_inflow="allow")
    np.testing.assert_allclose(back.inflow, inflow, atol=1e-7 * (1 + inflow.max()))
