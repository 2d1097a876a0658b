"""DP quantile selection for the bounds assistant (`accountant.selection`): the bins it
hands the query path's mechanism, the tie-break's independence of the data, and that
the selection lands near the quantile, also in a tail with ties beyond the data."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accountant import Accounting
from accountant.mechanisms.quantile import quantile_for, scores
from accountant.selection import bin_counts, select_quantile, tie_broken_scores

CANDIDATES = list(range(0, 101, 5))


def _below(values: list[int]) -> list[int]:
    ordered = sorted(values)
    return [bisect_left(ordered, c) for c in CANDIDATES]


def _up_to(values: list[int]) -> list[int]:
    ordered = sorted(values)
    return [bisect_right(ordered, c) for c in CANDIDATES]


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(-10, 110), max_size=60), extra=st.integers(-10, 110),
       a=st.integers(1, 999))
def test_one_person_moves_every_score_by_at_most_the_sensitivity(
        values: list[int], extra: int, a: int) -> None:
    side = "upper" if 2 * a > 1000 else "lower"
    spec = quantile_for(Fraction(a, 1000), 1, len(CANDIDATES) + 1, Fraction(1), "pure")
    before = tie_broken_scores(bin_counts(_below(values), len(values)), spec, side)
    after = tie_broken_scores(bin_counts(_below([*values, extra]), len(values) + 1), spec,
                              side)
    assert max(abs(x - y) for x, y in zip(before, after, strict=True)) <= max(a, 1000 - a)
    # the tie-break is the same vector whatever the data
    empty = [0] * (len(CANDIDATES) + 1)
    plain = scores(bin_counts(_below(values), len(values)), spec)
    assert [t - p for t, p in zip(before, plain, strict=True)] == [
        t - p for t, p in zip(tie_broken_scores(empty, spec, side), scores(empty, spec),
                              strict=True)]


def test_the_candidates_cut_the_bins() -> None:
    assert bin_counts([2, 5, 9], 12) == [2, 3, 4, 3]  # 2 below c0, 3 from c2 on


def test_all_equal_values_give_that_value() -> None:
    # every person has 1 row: the 95 % quantile of "at most c" counts is the candidate 1
    grid = [1, 2, 3, 5, 10]
    picks = [grid[select_quantile([1000] * 5, 1000, Fraction(95, 100), "upper",
                                  Accounting.PURE, Fraction(1))] for _ in range(40)]
    assert picks.count(1) >= 32, picks  # e^-3 per bin outwards: about 95 % pick 1


@pytest.mark.parametrize("accounting", [Accounting.PURE, Accounting.ZCDP])
def test_the_selection_lands_near_the_quantile(accounting: Accounting) -> None:
    values = [i % 100 for i in range(5000)]  # uniform on 0..99: the 0.9-quantile is 90
    budget = Fraction(1) if accounting is Accounting.PURE else Fraction(1, 8)
    uppers = [CANDIDATES[select_quantile(_up_to(values), len(values), Fraction(9, 10),
                                         "upper", accounting, budget)] for _ in range(40)]
    assert sum(90 <= p <= 95 for p in uppers) >= 36, uppers
    lowers = [CANDIDATES[select_quantile(_below(values), len(values), Fraction(1, 10),
                                         "lower", accounting, budget)] for _ in range(40)]
    assert sum(5 <= p <= 10 for p in lowers) >= 36, lowers


def test_ties_beyond_the_data_prefer_the_tightest_candidate() -> None:
    values = [1, 2, 3, 4] * 500  # everything below 5: the candidates 5..100 tie
    picks = [CANDIDATES[select_quantile(_up_to(values), len(values), Fraction(99, 100),
                                        "upper", Accounting.PURE, Fraction(1, 2))]
             for _ in range(40)]
    assert sum(p <= 10 for p in picks) >= 36, picks


def test_a_budget_of_zero_is_refused() -> None:
    from accountant.errors import InvalidParameter

    with pytest.raises(InvalidParameter):
        select_quantile([0, 0], 0, Fraction(1, 2), "upper", Accounting.PURE, Fraction(0))
