"""Partition selection thresholds the answer's own count (issue #26).

A query that releases COUNT(*) per group spends no separate share of ε on a
distinct-person count: its own noisy count decides which groups appear. After
the caps, a group one person alone creates holds at most R of their rows, so the
threshold is R + the exact tail. These tests audit that on neighbouring datasets:
the lone person's group is released with probability at most δ (and exactly the
probability the tail gives, so a wrong offset, scale or tail moves it out of the
interval), and never without them.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from accountant import Accounting, laplace_tail_bound, laplace_threshold
from accountant.mechanisms.sampler import float_scale_up
from proxy.calibrate import price
from proxy.release import release
from rewriter import Catalog, plan_query
from tests.neighbours import Person, clopper_pearson, duckdb_database, on_both


def _laplace_tail(b: float, k: int) -> float:
    a = math.exp(-1 / b)
    return a**k / (1 + a) if k >= 1 else 1.0 - (a ** (1 - k)) / (1 + a)


def test_the_answer_count_is_the_selection_measure_and_no_units_count_is_added(
        catalog: Catalog) -> None:
    plan = plan_query("SELECT visit_date, COUNT(*) AS n FROM visits GROUP BY visit_date",
                      catalog)
    assert [m.kind for m in plan.measures] == ["count"]
    assert plan.selection_measure() is plan.measures[0]
    assert plan.selection_offset == 5 and plan.selection_groups == 2  # R = 5, G = 2
    # an AVG's count serves; only a query without any count gets a distinct-person count
    avg = plan_query("SELECT visit_date, AVG(amount) FROM visits GROUP BY visit_date", catalog)
    assert avg.units_measure() is None and avg.selection_measure() is not None
    median = plan_query("SELECT visit_date, MEDIAN(amount) FROM visits GROUP BY visit_date",
                        catalog)
    assert median.selection_measure() is median.units_measure() is not None
    assert median.selection_offset == 1
    units = plan_query("SELECT visit_date, COUNT(DISTINCT person_id) FROM visits "
                       "GROUP BY visit_date", catalog)
    assert units.selection_measure() is units.units_measure()


def test_laplace_threshold_is_the_exact_tail() -> None:
    for b, groups, delta, offset in [(Fraction(1), 1, Fraction(3, 200000), 1),
                                     (Fraction(7, 3), 2, Fraction(1, 10**7), 5),
                                     (Fraction(1, 2), 1, Fraction(1, 10), 1)]:
        tau = laplace_threshold(b, groups, delta, offset)
        assert groups * laplace_tail_bound(b, tau - offset) <= delta
        assert groups * _laplace_tail(float(b), tau - offset - 1) > float(delta)
        # the bound is the tail, to 1e-30
        k = tau - offset
        assert abs(float(laplace_tail_bound(b, k)) / _laplace_tail(float(b), k) - 1) < 1e-12
    # SmartNoise's τ at ε = 1, δ = 1.5e-5 is about 12; the loose e^(−k/b) bound gave 13
    assert laplace_threshold(Fraction(1), 1, Fraction(3, 200000)) == 12


@pytest.mark.parametrize("trials", [pytest.param(4000, id="ci"),
                                    pytest.param(40000, id="large", marks=pytest.mark.slow)])
def test_a_person_alone_with_r_rows_in_a_group_is_released_at_most_delta(
        catalog: Catalog, trials: int) -> None:
    """Neighbours D (400 others on two common dates) and D' = D + one person with
    R = 5 visits on a date nobody else has: their group's true count is R, the
    worst case. δ is large so the release probability is measurable."""
    db = duckdb_database("""CREATE TABLE visits AS SELECT p AS person_id, 'Oslo' AS city,
        10.0 AS amount, DATE '2024-01-01' + (p % 2)::INT AS visit_date FROM range(400) t(p)""")
    person = Person(9999, {"visits": "person_id"}, statements=(
        "INSERT INTO visits SELECT 9999, 'Lima', 5.0, DATE '2030-05-01' FROM range(5)",))
    plan = plan_query("SELECT visit_date, COUNT(*) AS n FROM visits GROUP BY visit_date",
                      catalog)
    epsilon, delta = Fraction(2), Fraction(1, 5)
    priced = price(plan, Accounting.PURE, epsilon, delta)
    selection = priced.selection
    assert selection is not None and selection.delta == delta
    without, with_person = on_both(db, plan, person)
    released = 0
    for _ in range(trials):
        rows = release(plan, with_person, priced.calibrated, selection.threshold).rows
        released += any(str(row[0]) == "2030-05-01" for row in rows)
        if _ % 10 == 0:
            rows = release(plan, without, priced.calibrated, selection.threshold).rows
            assert all(str(row[0]) != "2030-05-01" for row in rows)
            assert len(rows) == 2  # the common dates pass
    measure = plan.selection_measure()
    assert measure is not None
    b = float(float_scale_up(priced.calibrated[measure.name].noise.scale))
    exact = _laplace_tail(b, selection.threshold - 5)  # count R = 5 plus Z reaches τ
    assert exact <= float(delta)
    low, high = clopper_pearson(released, trials, 1e-4)
    assert low <= float(delta), (released, trials)
    assert low <= exact <= high, (released, trials, exact)
