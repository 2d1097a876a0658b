"""The DP quantile selection (accountant/mechanisms/quantile.py): its scores, its
calibration against OpenDP's own privacy map, and its accuracy claim."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import pytest

from accountant.errors import InvalidParameter
from accountant.mechanisms.quantile import (
    _measurement,
    as_ratio,
    bin_point,
    per_row,
    quantile_for,
    scores,
    select_bin,
)
from accountant.mechanisms.sampler import float_scale_up

BINS = 64


def test_scores_are_the_rank_distance_to_the_target() -> None:
    counts = [0] * BINS
    counts[10], counts[20] = 30, 10  # 30 values in bin 10, 10 in bin 20
    median = quantile_for(0.5, 1, BINS, Fraction(1), "pure")
    s = scores(counts, median)
    # target α·n = 20 lies in bin 10 (ranks 0–30): score 0; q·distance elsewhere
    assert s[10] == 0 and s[0] == 40 and s[15] == 2 * (30 - 20) and s[20] == 20
    top = quantile_for(1.0, 1, BINS, Fraction(1), "pure")
    s = scores(counts, top)
    # MAX aims m rows inside the data: the bins beyond the maximum score m; the
    # bin holding rank m from the top scores 0
    assert all(x == top.offset for x in s[21:])
    assert top.offset > 10 and s[10] == 0 and s[20] == top.offset - 10
    bottom = quantile_for(0.0, 1, BINS, Fraction(1), "pure")
    assert scores(counts, bottom)[10] == 0 and scores(counts, bottom)[0] == bottom.offset


def test_the_answer_is_read_from_the_selected_bin() -> None:
    low, mid, high = (quantile_for(a, 1, BINS, Fraction(1), "pure") for a in (0.0, 0.5, 1.0))
    assert (bin_point(low, 3), bin_point(mid, 3), bin_point(high, 3)) == (3, Fraction(7, 2), 4)


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("accounting", ["pure", "zcdp"])
@pytest.mark.parametrize("rows", [1, 3])
def test_the_temperature_matches_opendps_privacy_map(alpha: float, accounting: str,
                                                      rows: int) -> None:
    """OpenDP's own map of the selection, at the sensitivity of R rows, spends
    the share and no more (and not much less: the rounding is upward only)."""
    share = Fraction(1, 2) if accounting == "pure" else Fraction(1, 20)
    spec = quantile_for(alpha, rows, BINS, share, accounting)
    spent = _measurement(float_scale_up(spec.scale), accounting).map(per_row(spec.alpha) * rows)
    assert spent <= float(share) * (1 + 1e-9)
    assert spent >= float(share) * (1 - 1e-6)


def test_the_sensitivity_per_row_follows_the_fraction() -> None:
    assert per_row(as_ratio(0.5)) == 1
    assert per_row(as_ratio(0.9)) == 9  # 9/10: one row moves q·lt − p·n by 9 at most
    assert per_row(as_ratio(0.0)) == per_row(as_ratio(1.0)) == 1
    with pytest.raises(InvalidParameter):
        as_ratio(1.5)


def test_one_row_moves_each_score_by_at_most_the_stated_amount() -> None:
    """The sensitivity argument, checked: add one value in any bin."""
    base = [3, 0, 7, 1, 0, 0, 5, 2] + [0] * (BINS - 8)
    for alpha in (0.0, 0.25, 0.5, 0.9, 1.0):
        spec = quantile_for(alpha, 1, BINS, Fraction(1), "pure")
        before = scores(base, spec)
        for b in range(BINS):
            after = scores([c + (i == b) for i, c in enumerate(base)], spec)
            worst = max(abs(x - y) for x, y in zip(before, after, strict=True))
            assert worst <= per_row(spec.alpha), (alpha, b)


@pytest.mark.parametrize("accounting", ["pure", "zcdp"])
def test_max_lands_near_the_data_not_at_the_upper_bound(accounting: str) -> None:
    """Ages 16–70 over [16, 100]: MAX lands near 70, where the α = 1 pitfall
    (uniform over every empty bin above the data) would spread it to 100; with
    many people of the top age. With few, it lands m rows inside the data, below
    70, and still never above it."""
    width = (100 - 16) / BINS
    share = Fraction(1) if accounting == "pure" else Fraction(1, 8)
    spec = quantile_for(1.0, 1, BINS, share, accounting)
    for per_year in (2, 20, 2_000):
        counts = [0] * BINS
        for age in range(16, 71):
            counts[min(BINS - 1, int((age - 16) / width))] += per_year
        chosen = Counter(select_bin(counts, spec) for _ in range(400))
        values = {16 + float(bin_point(spec, b)) * width: n for b, n in chosen.items()}
        low = 70 - 4 * width if per_year >= 20 else 16
        near = sum(n for v, n in values.items() if low <= v <= 70 + width)
        assert near >= 0.95 * 400, (per_year, sorted(values.items()))


def test_the_rank_interval_covers_95_percent() -> None:
    """The selected bin holds ranks within the stated half-width of the target
    in ≥ 95 % of selections."""
    counts = [(i * 7) % 11 for i in range(BINS)]
    n = sum(counts)
    spec = quantile_for(0.5, 1, BINS, Fraction(1, 4), "pure")
    below = [sum(counts[:k]) for k in range(BINS)]

    def distance(k: int) -> float:
        return max(0.0, below[k] - n / 2, n / 2 - below[k] - counts[k])

    draws = [select_bin(counts, spec) for _ in range(600)]
    covered = sum(distance(k) <= spec.rank_halfwidth for k in draws)
    assert covered >= 0.95 * len(draws) - 3 * math.sqrt(0.05 * 0.95 * len(draws))


def test_bad_inputs_are_refused() -> None:
    spec = quantile_for(0.5, 1, BINS, Fraction(1), "pure")
    with pytest.raises(InvalidParameter):
        select_bin([1, 2], spec)
    with pytest.raises(InvalidParameter):
        select_bin([-1] + [0] * (BINS - 1), spec)
    with pytest.raises(InvalidParameter):
        quantile_for(0.5, 1, BINS, Fraction(0), "pure")
