"""DP quantile selection over a fixed grid of candidates, for the owner's bounds and
caps assistant (`proxy/suggest.py`, issue #19), on top of the query path's
mechanism (`accountant.mechanisms.quantile`).

The candidates c_0 < … < c_{K−1} cut the line into K + 1 bins, as the query
path's histogram bins: the engine counts, per candidate, the values below it
(`x < c`, for a lower bound) or up to it (`x ≤ c`, for an upper bound or a cap);
`quantile_for` calibrates the selection for one value per person (R = 1) and
checks it against OpenDP's own privacy map; `scores` gives each bin the distance
of its ranks from the target rank; OpenDP's `make_noisy_max` selects a bin. The
bound is the bin's edge on the outer side: the upper edge for an upper bound (all
of the bin's values lie at or below it), the lower edge for a lower bound.

The one addition is a tie-break for tail quantiles. The grid spans round numbers
from 10⁻² to 10¹⁰ because nothing about the data may choose it, so every empty bin
beyond the largest value (for an upper bound) has the same score, and with few
people the selection would land anywhere among them. Each bin gets
`step · (its distance, in bins, outwards)` added to its score, with `step` three
times the selection's own temperature: among tied bins, one a step further out is
then about e³ ≈ 20 times less likely, and the bias inwards stays below three noise
units of rows per bin (for the demo's 100,000 people, well under 0.1 % of them).

Guarantee
---------
The added term depends on the bins' order and the budget only, never on the data,
so the scores' sensitivity, and with it `quantile_for`'s guarantee (ε-DP, or
ε²/8-zCDP, for one selection when each person contributes one value), is unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal

import opendp.prelude as dp

from accountant.composition import Accounting
from accountant.errors import InvalidParameter
from accountant.mechanisms.quantile import QuantileSpec, quantile_for, scores
from accountant.mechanisms.sampler import float_scale_up

dp.enable_features("contrib")

__all__ = ["bin_counts", "select_quantile", "tie_broken_scores"]

_TIE_BREAK = 3  # noise units per bin outwards
Side = Literal["lower", "upper"]


def bin_counts(cumulative: Sequence[int], n: int) -> list[int]:
    """The K + 1 bins the K candidates cut, from the count of values below (or up to)
    each candidate: the first bin before c_0, one between each pair, the last after."""
    if not cumulative:
        raise InvalidParameter("a quantile needs at least one candidate")
    inner = [cumulative[i] - cumulative[i - 1] for i in range(1, len(cumulative))]
    return [cumulative[0], *inner, n - cumulative[-1]]


def tie_broken_scores(counts: Sequence[int], spec: QuantileSpec, side: Side) -> list[int]:
    """`scores` plus a data-independent penalty growing outwards."""
    base = scores(counts, spec)
    step = max(1, math.ceil(_TIE_BREAK * spec.scale))
    last = len(base) - 1
    return [s + step * (i if side == "upper" else last - i) for i, s in enumerate(base)]


@lru_cache(maxsize=64)
def _measurement(scale: float, accounting: str) -> Any:
    # the same measurement `quantile_for` checked its calibration against
    space = dp.vector_domain(dp.atom_domain(T="u64")), dp.linf_distance(T="u64")
    measure = dp.max_divergence() if accounting == "pure" else dp.zero_concentrated_divergence()
    return dp.m.make_noisy_max(*space, measure, scale=scale, negate=True)


def select_quantile(cumulative: Sequence[int], n: int, alpha: Fraction, side: Side,
                    accounting: Accounting, budget: Fraction) -> int:
    """The index of the candidate chosen as the α-quantile of n values (one per person),
    spending `budget` (ε under pure accounting, ρ under zCDP). `cumulative[i]` counts
    the values below c_i for a lower bound, up to c_i for an upper bound."""
    if not 0 < alpha < 1:
        raise InvalidParameter(f"the assistant's quantiles lie in (0, 1), got {alpha}")
    counts = bin_counts(cumulative, n)
    spec = quantile_for(alpha, 1, len(counts), budget, accounting.value)
    measurement = _measurement(float_scale_up(spec.scale), spec.accounting)
    chosen = int(measurement(tie_broken_scores(counts, spec, side)))
    # bin j lies between c_{j-1} and c_j: its upper edge is c_j, its lower edge c_{j-1}
    last = len(cumulative) - 1
    return min(chosen, last) if side == "upper" else max(chosen - 1, 0)
