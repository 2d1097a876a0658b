"""ρ conversions, rounding directions and budget splits."""

import math
from decimal import Context, Decimal
from fractions import Fraction

import opendp.prelude as dp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accountant import (
    Accounting,
    Cost,
    InvalidParameter,
    cost_of,
    epsilon_from_rho,
    rho_for,
    split,
)

dp.enable_features("contrib")

epsilons = st.fractions(min_value=Fraction(1, 10**4), max_value=20).filter(lambda f: f > 0)
deltas = st.sampled_from([Fraction(1, 10**k) for k in range(2, 13)] + [Fraction(1, 3)])


_HIGH = Context(prec=100)


def _dec(x: Fraction) -> Decimal:
    return _HIGH.divide(Decimal(x.numerator), Decimal(x.denominator))


def _epsilon_at_100_digits(rho: Fraction, delta: Fraction) -> Decimal:
    """ρ + 2√(ρ ln(1/δ)) at 100 digits, independent of the 60-digit code under test."""
    log_inv = _HIGH.ln(_HIGH.divide(1, _dec(delta)))
    return _HIGH.add(_dec(rho), _HIGH.multiply(2, _HIGH.sqrt(_HIGH.multiply(_dec(rho), log_inv))))


def float_rho(eps: float, delta: float) -> float:
    log_inv = math.log(1 / delta)
    return (math.sqrt(eps + log_inv) - math.sqrt(log_inv)) ** 2


@given(epsilons, deltas)
def test_rho_matches_independent_float_computation(eps, delta):
    rho = rho_for(eps, delta)
    assert math.isclose(float(rho), float_rho(float(eps), float(delta)), rel_tol=1e-6)


@given(epsilons, deltas)
def test_rho_rounds_down_and_converts_back_within_epsilon(eps, delta):
    rho = rho_for(eps, delta)
    implied = _epsilon_at_100_digits(rho, delta)
    assert implied <= _dec(eps)
    # and it is not wastefully small: 40 digits are kept
    assert implied >= _HIGH.multiply(_dec(eps), _HIGH.subtract(1, Decimal("1e-35")))


@given(st.fractions(min_value=Fraction(1, 10**6), max_value=10).filter(lambda f: f > 0), deltas)
def test_epsilon_rounding_directions(rho, delta):
    up = epsilon_from_rho(rho, delta, "up")
    down = epsilon_from_rho(rho, delta, "down")
    assert down < up
    exact = float(rho) + 2 * math.sqrt(float(rho) * math.log(1 / float(delta)))
    assert math.isclose(float(up), exact, rel_tol=1e-9)


@settings(max_examples=25)
@given(st.integers(min_value=1, max_value=400), deltas.filter(lambda d: d < Fraction(1, 10)))
def test_conversion_is_never_tighter_than_opendp(scale_tenths, delta):
    """OpenDP's optimal zCDP→(ε, δ) conversion gives an ε no larger than ours."""
    scale = scale_tenths / 10
    gaussian = dp.m.make_gaussian(
        dp.vector_domain(dp.atom_domain(T="i64")), dp.l2_distance(T="i64"), scale=scale
    )
    rho_dp = gaussian.map(1)
    approx = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(gaussian), float(delta))
    eps_opendp, _ = approx.map(1)
    ours = epsilon_from_rho(Fraction(rho_dp), delta, "up")
    assert float(ours) >= eps_opendp * (1 - 1e-9)


def test_pure_cost_is_exact_and_has_no_rho():
    cost = cost_of(Accounting.PURE, 0.1, 0)
    assert cost == Cost(Fraction(1, 10), Fraction(0), Fraction(0), Accounting.PURE)


def test_zcdp_needs_positive_delta():
    with pytest.raises(InvalidParameter, match="zCDP accounting needs delta > 0"):
        cost_of(Accounting.ZCDP, 1, 0)


def test_zcdp_many_small_queries_fit_a_big_budget():
    delta = Fraction(1, 10**7)
    per_query = cost_of("zcdp", 0.1, delta).rho
    assert 10 * per_query <= rho_for(Fraction(1), delta)


def test_cost_rejects_mismatched_fields():
    with pytest.raises(InvalidParameter, match="rho must be 0"):
        Cost(Fraction(1), Fraction(0), Fraction(1), Accounting.PURE)
    with pytest.raises(InvalidParameter, match="needs rho > 0"):
        Cost(Fraction(1), Fraction(1, 10**6), Fraction(0), Accounting.ZCDP)
    with pytest.raises(InvalidParameter, match="Cost.epsilon"):
        Cost(-Fraction(1), Fraction(0), Fraction(0), Accounting.PURE)


@given(
    st.lists(
        st.fractions(min_value=Fraction(1, 1000), max_value=1000).filter(lambda f: f > 0),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from(["pure", "zcdp"]),
)
def test_split_shares_sum_exactly_to_the_total(weights, accounting):
    cost = cost_of(accounting, Fraction(7, 10), Fraction(1, 10**6))
    shares = split(cost, weights)
    total = cost.epsilon if accounting == "pure" else cost.rho
    assert sum(shares, Fraction(0)) == total
    assert all(s > 0 for s in shares)


def test_split_refuses_bad_weights():
    cost = cost_of("pure", 1, 0)
    with pytest.raises(InvalidParameter, match="at least one weight"):
        split(cost, [])
    with pytest.raises(InvalidParameter, match="weights must be > 0"):
        split(cost, [1, 0])
