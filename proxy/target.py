"""Accuracy-target mode: the analyst names the 95 % interval they need and dpsql
picks the smallest ε that delivers it, instead of the analyst guessing ε.

Only the plan and the metadata decide the choice (noise scales do not depend on
the data), so choosing reveals nothing; the chosen ε is then charged like any
other. It is rounded up to two significant digits, as people write budgets.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction

from accountant import Accounting, InvalidParameter
from accountant.budget import format_fraction
from rewriter import Plan

from .calibrate import price
from .release import accuracy

SEARCH_STEPS = 60


def widest_interval(plan: Plan, epsilon: Fraction, delta: Fraction,
                    accounting: Accounting) -> float:
    """The largest exact 95 % half-width among the outputs at this ε."""
    calibrated = price(plan, accounting, epsilon, delta).calibrated
    widths = [a.ci95_halfwidth for a in accuracy(plan, calibrated)
              if not a.approximate and a.ci95_halfwidth is not None]
    return max(widths)


def _round_up(value: float) -> Fraction:
    """Two significant digits, upwards: 0.01234 -> 0.013."""
    exponent = math.floor(math.log10(value)) - 1
    step = Decimal(1).scaleb(exponent)
    return Fraction((Decimal(repr(value)) / step).to_integral_value(ROUND_CEILING) * step)


def epsilon_for(plan: Plan, halfwidth: float, delta: Fraction, accounting: Accounting,
                max_epsilon: Fraction) -> Fraction:
    """The smallest (rounded) ε whose intervals are all at most `halfwidth`."""
    if not any(not a.approximate for a in accuracy(
            plan, price(plan, accounting, max_epsilon, delta).calibrated)):
        raise InvalidParameter(
            "an accuracy target applies to counts and sums, whose intervals are exact; this "
            "query has none (AVG, VARIANCE and quantiles are approximate): give epsilon instead"
        )
    best = widest_interval(plan, max_epsilon, delta, accounting)
    if best > halfwidth:
        raise InvalidParameter(
            f"accuracy.ci95_halfwidth {halfwidth:g} needs more than the per-query cap "
            f"max_query_epsilon = {format_fraction(max_epsilon)}, which gives ± {best:.4g}; "
            "ask for a wider interval, or coarser groups"
        )
    low, high = 1e-12, float(max_epsilon)
    for _ in range(SEARCH_STEPS):  # bisect in log space: ε spans many magnitudes
        middle = math.sqrt(low * high)
        try:
            fits = widest_interval(plan, Fraction(middle), delta, accounting) <= halfwidth
        except InvalidParameter:  # noise too large to draw: ε too small
            fits = False
        low, high = (low, middle) if fits else (middle, high)
    chosen = min(_round_up(high), max_epsilon)
    assert widest_interval(plan, chosen, delta, accounting) <= halfwidth
    return chosen
