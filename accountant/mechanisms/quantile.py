"""DP quantiles: the exponential mechanism over the bins of a histogram.

The engine computes, per group, the exact count of (bounded, clamped) values in
each of B equal-width bins over [lower, upper]. Nothing of that histogram is
released. Instead one bin is *selected* by the exponential mechanism, with
OpenDP's vetted ``make_noisy_max`` doing the sampling (exact arithmetic, a
secure RNG), so no home-made sampling code carries the guarantee. The answer
is a point of the selected bin: its lower edge for MIN, its upper edge for
MAX, its middle otherwise.

Bin j holds the values of ranks lt_j … lt_j + c_j (lt_j values below it, c_j
in it, n in all). A bin's score (lower is better) is how far its ranks are
from the target rank:

* α-quantile, α = p/q in (0, 1): ``max(0, q·lt_j − p·n, p·n − q·(lt_j + c_j))``,
  i.e. q times the distance from α·n to the bin's ranks (OpenDP's
  ``make_quantile_score_candidates`` scores points the same way);
* MIN: the distance from rank m to the bin's ranks; MAX: the same counted
  from the top, where m is the mechanism's own 95 % rank error (see
  :func:`extreme_offset`).

Why bins and not edges, and why MIN and MAX are not α = 0 and α = 1: every
point above the largest value has the same rank, so a rank score cannot tell
them apart, and with α = 1 the mechanism picks uniformly among all of them:
"MAX" would land anywhere between the data's maximum and the upper bound. The
bin that holds the target rank scores 0, and aiming m rows inside the data
makes every empty bin beyond the extreme score m: together they are selected
less than 5 % of the time. The answer to MAX is therefore "a value with about
m of the rows above it": no DP answer can be the exact maximum, which is one
person's value.

Guarantee
---------
Adding or removing one privacy unit adds or removes at most R rows (the
per-person row cap), spread over the groups, r_g rows in group g (Σ r_g ≤ R).
One row changes n by 1 and lt_j, c_j by 0 or 1, so it moves every score of
its group by at most c = max(p, q − p) (c = 1 for MIN and MAX: max(0, a, b)
moves no more than a and b do). The scores are not monotone in the data, so
with temperature s (P(j) ∝ exp(−score_j / s)) the selection in group g is
(2·c·r_g / s)-DP, and, being (2·c·r_g / s)-bounded-range,
(2·c·r_g / s)² / 8-zCDP (Cesar & Rogers 2021). Summed over the groups:
ε = 2·c·R / s, ρ = (2·c·R / s)² / 8 at most (Σ r_g² ≤ R²).
:func:`quantile_for` picks s from the share and checks the result against
OpenDP's own privacy map.

Accuracy: some bin scores 0 (whenever n ≥ 1, and for MIN and MAX n ≥ m), and
P(score_chosen ≥ t) ≤ K·exp(−t / s); with t = s·ln(K/0.05), 95 % of the time
the selected bin holds ranks within t/q of the target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import opendp.prelude as dp

from accountant.errors import InvalidParameter
from accountant.mechanisms.sampler import float_scale_up

dp.enable_features("contrib")

MECHANISM = "exponential"
_TAIL = 0.05
# α is read as p/q with q at most this: 0.9 is 9/10, 0.999 is 999/1000
_MAX_DENOMINATOR = 10_000


def as_ratio(alpha: float | Fraction) -> Fraction:
    """The quantile fraction as an exact ratio p/q (0 and 1 stand for MIN and MAX)."""
    ratio = Fraction(str(alpha)) if isinstance(alpha, float) else Fraction(alpha)
    ratio = ratio.limit_denominator(_MAX_DENOMINATOR)
    if not 0 <= ratio <= 1:
        raise InvalidParameter(f"a quantile fraction must be in [0, 1], got {alpha}")
    return ratio


def per_row(alpha: Fraction) -> int:
    """How far one row moves a score: c = max(p, q − p); 1 for MIN and MAX."""
    if alpha in (0, 1):
        return 1
    return max(alpha.numerator, alpha.denominator - alpha.numerator)


@dataclass(frozen=True)
class QuantileSpec:
    """One exponential-mechanism selection per group.

    ``scale`` is the temperature s in score units; ``candidates`` is K (bins);
    ``offset`` is m, the target rank from the end for MIN and MAX (0 otherwise).
    """

    alpha: Fraction
    scale: Fraction
    candidates: int
    offset: int
    accounting: str  # "pure" samples with exponential noise, zCDP with Gumbel noise

    mechanism: str = MECHANISM

    @property
    def rank_halfwidth(self) -> float:
        """95 % bound on the rank error, in rows: t / q with t = s·ln(K / 0.05)."""
        t = float(self.scale) * math.log(self.candidates / _TAIL)
        q = 1 if self.alpha in (0, 1) else self.alpha.denominator
        return t / q


def extreme_offset(scale: Fraction, candidates: int) -> int:
    """m for MIN and MAX: the 95 % rank error t = s·ln(K / 0.05), rounded up."""
    return math.ceil(float(scale) * math.log(candidates / _TAIL))


def quantile_for(alpha: float | Fraction, rows: int, candidates: int, share: Fraction,
                 accounting: str) -> QuantileSpec:
    """The temperature that makes one selection per group cost ``share``.

    ``share`` is ε (``accounting == "pure"``) or ρ (zCDP); ``rows`` is R, the
    most rows one unit contributes across all groups. s = 2cR/ε, or
    s = 2cR/√(8ρ), rounded up (a hotter selection is never less private).
    """
    ratio = as_ratio(alpha)
    if rows < 1 or candidates < 2:
        raise InvalidParameter("a quantile needs at least one row per unit and two candidates")
    if share <= 0:
        raise InvalidParameter("a quantile's budget share must be > 0")
    sensitivity = 2 * per_row(ratio) * rows
    if accounting == "pure":
        scale = Fraction(sensitivity) / share
    else:
        scale = _ceil_ratio(sensitivity, math.sqrt(8 * float(share)))
    _check_with_opendp(scale, per_row(ratio) * rows, share, accounting)
    offset = extreme_offset(scale, candidates) if ratio in (0, 1) else 0
    return QuantileSpec(ratio, scale, candidates, offset, accounting)


def _ceil_ratio(numerator: int, denominator: float) -> Fraction:
    """numerator / denominator rounded up to 12 significant digits (and then some)."""
    value = Fraction(numerator) / Fraction(denominator)
    return Fraction(math.ceil(value * 10**12) + 1, 10**12)


def _check_with_opendp(scale: Fraction, d_in: int, share: Fraction, accounting: str) -> None:
    """OpenDP's privacy map of the same selection must not exceed the share."""
    measurement = _measurement(float_scale_up(scale), accounting)
    spent = measurement.map(d_in)
    if Fraction(spent) > share * (1 + Fraction(1, 10**9)):
        raise AssertionError(
            f"quantile selection would spend {spent}, more than its share {float(share)}")


@lru_cache(maxsize=256)
def _measurement(scale: float, accounting: str) -> Any:
    space = dp.vector_domain(dp.atom_domain(T="u64")), dp.linf_distance(T="u64")
    measure = dp.max_divergence() if accounting == "pure" else dp.zero_concentrated_divergence()
    return dp.m.make_noisy_max(*space, measure, scale=scale, negate=True)


def scores(counts: Sequence[int], spec: QuantileSpec) -> list[int]:
    """The score of each bin from the exact bin counts."""
    n = sum(counts)
    out: list[int] = []
    lt = 0
    for c in counts:
        if spec.alpha == 0:
            low, high, target = lt, lt + c, spec.offset
        elif spec.alpha == 1:
            low, high, target = n - lt - c, n - lt, spec.offset
        else:
            q = spec.alpha.denominator
            low, high, target = q * lt, q * (lt + c), spec.alpha.numerator * n
        out.append(max(0, low - target, target - high))
        lt += c
    return out


def select_bin(counts: Sequence[int], spec: QuantileSpec) -> int:
    """The index (0 … B − 1) of the bin the exponential mechanism selects."""
    if len(counts) != spec.candidates:
        raise InvalidParameter(f"expected {spec.candidates} bins, got {len(counts)}")
    if any(c < 0 for c in counts):
        raise InvalidParameter("bin counts are never negative")
    # OpenDP samples differently per measure (exponential noise, i.e. permute-and-
    # flip, under pure DP; Gumbel noise, the exponential mechanism, under zCDP):
    # the map checked in quantile_for holds for the measurement used here
    measurement = _measurement(float_scale_up(spec.scale), spec.accounting)
    return int(measurement(scores(counts, spec)))


def bin_point(spec: QuantileSpec, index: int) -> Fraction:
    """Where in the selected bin the answer lies, as a fraction of a bin from its
    lower edge: MIN its lower edge, MAX its upper edge, otherwise its middle."""
    if spec.alpha == 0:
        return Fraction(index)
    if spec.alpha == 1:
        return Fraction(index + 1)
    return index + Fraction(1, 2)
