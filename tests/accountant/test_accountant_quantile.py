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
    per_row,
    quantile_for,
    scores,
    select_edge,
)
from accountant.mechanisms.sampler import float_scale_up

BINS = 64


def test_scores_are_the_rank_distance_to_the_target() -> None:
    counts = [0] * BINS
    counts[10], counts[20] = 30, 10  # 30 values in bin 10, 10 in bin 20
    median = quantile_for(0.5, 1, BINS + 1, Fraction(1), "pure")
    s = scores(counts, median)
    # q·lt − p·n with p/q = 1/2, n = 40: edge 11 has 30 below → |60 − 40| = 20
    assert s[0] == 40 and s[11] == 20 and s[21] == 40
    assert min(s) == 20
    top = quantile_for(1.0, 1, BINS + 1, Fraction(1), "pure")
    s = scores(counts, top)
    # MAX aims m rows inside the data: every edge beyond the maximum scores m
    assert s[21] == top.offset and s[BINS] == top.offset
    assert s[20] == abs(10 - top.offset)


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("accounting", ["pure", "zcdp"])
@pytest.mark.parametrize("rows", [1, 3])
def test_the_temperature_matches_opendps_privacy_map(alpha: float, accounting: str,
                                                      rows: int) -> None:
    """OpenDP's own map of the selection, at the sensitivity of R rows, spends
    the share and no more (and not much less: the rounding is upward only)."""
    share = Fraction(1, 2) if accounting == "pure" else Fraction(1, 20)
    spec = quantile_for(alpha, rows, BINS + 1, share, accounting)
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
        spec = quantile_for(alpha, 1, BINS + 1, Fraction(1), "pure")
        before = scores(base, spec)
        for b in range(BINS):
            after = scores([c + (i == b) for i, c in enumerate(base)], spec)
            worst = max(abs(x - y) for x, y in zip(before, after, strict=True))
            assert worst <= per_row(spec.alpha), (alpha, b)


@pytest.mark.parametrize("accounting", ["pure", "zcdp"])
def test_max_lands_near_the_data_not_at_the_upper_bound(accounting: str) -> None:
    """Ages 16–70 over [16, 100]: MAX selects edges near 70, the α = 1 pitfall
    (uniform over every empty bin above the data) would spread it to 100."""
    width = (100 - 16) / BINS
    counts = [0] * BINS
    for age in range(16, 71):
        counts[min(BINS - 1, int((age - 16) / width))] += 20  # 20 people per year
    share = Fraction(1) if accounting == "pure" else Fraction(1, 8)
    spec = quantile_for(1.0, 1, BINS + 1, share, accounting)
    edges = Counter(select_edge(counts, spec) for _ in range(400))
    values = {16 + e * width: n for e, n in edges.items()}
    near = sum(n for v, n in values.items() if 70 - 3 * width <= v <= 70 + 2 * width)
    assert near >= 0.95 * 400, sorted(values.items())


def test_the_rank_interval_covers_95_percent() -> None:
    """The stated rank half-width (plus one bin) holds in ≥ 95 % of selections."""
    counts = [(i * 7) % 11 for i in range(BINS)]
    n = sum(counts)
    spec = quantile_for(0.5, 1, BINS + 1, Fraction(1, 4), "pure")
    below = [sum(counts[:k]) for k in range(BINS + 1)]
    best = min(abs(lt - n / 2) for lt in below)
    draws = [select_edge(counts, spec) for _ in range(600)]
    covered = sum(abs(below[k] - n / 2) <= best + spec.rank_halfwidth for k in draws)
    assert covered >= 0.95 * len(draws) - 3 * math.sqrt(0.05 * 0.95 * len(draws))


def test_bad_inputs_are_refused() -> None:
    spec = quantile_for(0.5, 1, BINS + 1, Fraction(1), "pure")
    with pytest.raises(InvalidParameter):
        select_edge([1, 2], spec)
    with pytest.raises(InvalidParameter):
        select_edge([-1] + [0] * (BINS - 1), spec)
    with pytest.raises(InvalidParameter):
        quantile_for(0.5, 1, BINS + 1, Fraction(0), "pure")
