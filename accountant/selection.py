"""DP quantile selection over a fixed grid of candidates, for the owner's bounds
and caps assistant (`proxy/suggest.py`, issue #19).

Written for the assistant while `accountant/mechanisms/quantile.py` (the query
path's DP quantiles) was not yet on main; both select through OpenDP's vetted
`make_noisy_max`, and can be merged into one.

Guarantee
---------
Let each person contribute exactly one value x (a row count, a group count, or
one value of a column), and let the candidates c_1 < … < c_k be fixed before the
data is read. For a quantile α = a/d (integers, 0 < a < d), the score of c_i is

    s_i = |(d − a)·#{x < c_i} − a·#{x > c_i}|  (+ a fixed tie-break, see below)

(Smith 2011), smallest at the α-quantile. Adding or removing one person changes
#{x < c_i} or #{x > c_i} (never both) by at most 1, so every score moves by at
most Δ∞ = max(a, d − a): the score vector has L∞ sensitivity Δ∞. OpenDP's
`make_noisy_max` (permute-and-flip / exponential mechanism, McKenna & Sheldon
2020) over integer scores with `linf_distance` is then ε-DP with
ε = 2·Δ∞ / scale (pure), or ε²/8-zCDP with the same ε (bounded range; Cesar &
Rogers 2021) — we call OpenDP's own privacy map to check the scale we chose.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import opendp.prelude as dp

from accountant.composition import Accounting
from accountant.errors import InvalidParameter

dp.enable_features("contrib")

__all__ = ["quantile_scores", "select_quantile"]


def quantile_scores(below: Sequence[int], above: Sequence[int], a: int, d: int,
                    step: int | None = None) -> list[int]:
    """s_i for each candidate, from the counts of values below and above it, plus a
    tie-break that depends on the candidates' order and the budget only (so not on the
    data, and the sensitivity is unchanged): every candidate above the largest value
    scores the same for an upper quantile, and the selection should then prefer the
    tightest. Each grid step outwards costs `step` (default Δ∞, about one person;
    `select_quantile` uses one noise scale, so a step outwards is as unlikely as one
    noise unit, while the bias inwards stays below one noise unit of people per step)."""
    if not 0 < a < d:
        raise InvalidParameter(f"a quantile needs 0 < {a}/{d} < 1")
    step = max(a, d - a) if step is None else step
    k = len(below)
    return [abs((d - a) * lt - a * gt) + step * (i if 2 * a > d else k - 1 - i)
            for i, (lt, gt) in enumerate(zip(below, above, strict=True))]


def _scale(accounting: Accounting, budget: Fraction, sensitivity: int) -> float:
    """The noisy-max scale spending `budget` (ε pure, ρ zCDP), rounded up."""
    if budget <= 0:
        raise InvalidParameter("a quantile needs a positive share of the budget")
    if accounting is Accounting.PURE:
        scale = 2 * sensitivity / float(budget)
    else:
        scale = 2 * sensitivity / math.sqrt(8 * float(budget))
    return math.nextafter(scale * (1 + 1e-12), math.inf)


def select_quantile(below: Sequence[int], above: Sequence[int], a: int, d: int,
                    accounting: Accounting, budget: Fraction) -> int:
    """The index of the candidate chosen as the a/d-quantile, spending `budget`
    (ε under pure accounting, ρ under zCDP)."""
    sensitivity = max(a, d - a)
    scale = _scale(accounting, budget, sensitivity)
    scores = quantile_scores(below, above, a, d, step=max(sensitivity, math.ceil(scale)))
    measure = (dp.max_divergence() if accounting is Accounting.PURE
               else dp.zero_concentrated_divergence())
    space = dp.vector_domain(dp.atom_domain(T="i64")), dp.linf_distance(T="i64")
    measurement = dp.m.make_noisy_max(*space, measure, scale=scale, negate=True)
    spent = measurement.map(sensitivity)
    if spent > float(budget) * (1 + 1e-9):  # OpenDP's own map must agree with ours
        raise InvalidParameter(f"noisy max would spend {spent}, more than its share {budget}")
    return int(measurement(scores))
