"""DP quantile selection for the bounds assistant (`accountant.selection`): the score
sensitivity the privacy map assumes, and that the selection lands near the quantile."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accountant import Accounting
from accountant.selection import quantile_scores, select_quantile

CANDIDATES = list(range(0, 101, 5))


def _counts(values: list[int]) -> tuple[list[int], list[int]]:
    ordered = sorted(values)
    below = [bisect_left(ordered, c) for c in CANDIDATES]
    above = [len(ordered) - bisect_right(ordered, c) for c in CANDIDATES]
    return below, above


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(-10, 110), max_size=60), extra=st.integers(-10, 110),
       a=st.integers(1, 999))
def test_one_person_moves_every_score_by_at_most_the_sensitivity(
        values: list[int], extra: int, a: int) -> None:
    without = quantile_scores(*_counts(values), a, 1000)
    with_one = quantile_scores(*_counts([*values, extra]), a, 1000)
    assert max(abs(x - y) for x, y in zip(without, with_one, strict=True)) <= max(a, 1000 - a)


@pytest.mark.parametrize("accounting", [Accounting.PURE, Accounting.ZCDP])
def test_the_selection_lands_near_the_quantile(accounting: Accounting) -> None:
    values = [i % 100 for i in range(5000)]  # uniform on 0..99: the 0.9-quantile is 90
    below, above = _counts(values)
    budget = Fraction(1) if accounting is Accounting.PURE else Fraction(1, 8)
    picks = [CANDIDATES[select_quantile(below, above, 900, 1000, accounting, budget)]
             for _ in range(40)]
    assert sum(85 <= p <= 95 for p in picks) >= 36, picks


def test_ties_beyond_the_data_prefer_the_tightest_candidate() -> None:
    below, above = _counts([1, 2, 3, 4] * 500)  # everything below 5: candidates 5..100 tie
    picks = [CANDIDATES[select_quantile(below, above, 990, 1000, Accounting.PURE,
                                        Fraction(2))] for _ in range(40)]
    assert sum(p <= 10 for p in picks) >= 36, picks


def test_a_budget_of_zero_is_refused() -> None:
    from accountant.errors import InvalidParameter

    with pytest.raises(InvalidParameter):
        select_quantile([0], [0], 500, 1000, Accounting.PURE, Fraction(0))
