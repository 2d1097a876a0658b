"""Partition selection: the threshold hides, with probability at least 1 − δ,
every group that only the added person creates; planning picks selection
exactly when a group key has no public keys."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from accountant import Accounting, cost_of
from proxy.calibrate import calibrate, selection_threshold
from rewriter import Catalog, plan_query

SELECTION_QUERIES = [
    "SELECT visit_date, COUNT(*) FROM visits GROUP BY visit_date",
    "SELECT city, EXTRACT(YEAR FROM visit_date) AS y, SUM(amount) FROM visits GROUP BY city, y",
    "SELECT remote, COUNT(*) FROM employees GROUP BY remote",
]


def _laplace_tail(b: float, k: int) -> float:
    """P(Z ≥ k) for the discrete Laplace of scale b, exactly: a^k / (1 + a)."""
    a = math.exp(-1 / b)
    return a**k / (1 + a)


def _gaussian_tail(sigma: float, k: int) -> float:
    """P(Z ≥ k) for the discrete Gaussian of scale σ, by summation."""
    span = int(40 * sigma) + 50
    weights = [math.exp(-(z * z) / (2 * sigma * sigma)) for z in range(-span, span + 1)]
    total = sum(weights)
    return sum(w for z, w in zip(range(-span, span + 1), weights, strict=True) if z >= k) / total


@settings(max_examples=60, deadline=None)
@given(
    sql=st.sampled_from(SELECTION_QUERIES),
    epsilon=st.sampled_from([Fraction(1, 10), Fraction(1, 2), Fraction(1), Fraction(3)]),
    delta=st.sampled_from([Fraction(1, 10**5), Fraction(1, 10**7), Fraction(1, 10**9)]),
    accounting=st.sampled_from([Accounting.PURE, Accounting.ZCDP]),
)
def test_a_group_of_one_passes_with_probability_at_most_delta_over_l0(
    catalog: Catalog, sql: str, epsilon: Fraction, delta: Fraction, accounting: Accounting
) -> None:
    plan = plan_query(sql, catalog)
    assert plan.selection
    cost = cost_of(accounting, epsilon, delta)
    calibrated = calibrate(plan, cost, accounting)
    tau = selection_threshold(plan, calibrated, accounting, delta)
    units = plan.units_measure()
    assert units is not None
    scale = float(calibrated[units.name].noise.scale)
    # a group only the added person creates has a true count of 1
    tail = (_laplace_tail(scale, tau - 1) if accounting is Accounting.PURE
            else _gaussian_tail(scale, tau - 1))
    assert tail * units.l1 <= float(delta) * (1 + 1e-6)


def test_selection_only_when_a_key_has_no_public_keys(catalog: Catalog) -> None:
    assert not plan_query("SELECT city, COUNT(*) FROM visits GROUP BY city", catalog).selection
    bucket = plan_query("SELECT CASE WHEN age < 40 THEN 'young' ELSE 'old' END AS b, COUNT(*) "
                        "FROM employees GROUP BY b", catalog)
    assert not bucket.selection
    assert bucket.group_keys == (("young",), ("old",))
    year = plan_query("SELECT YEAR(hired), COUNT(*) FROM employees GROUP BY YEAR(hired)", catalog)
    assert year.selection and year.group_keys == ()
    assert year.units_measure() is not None
