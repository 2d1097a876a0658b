"""Calibrate: give each measure of a plan its share of the query's budget and
the noise that share buys. Pure: plan + cost in, noise specs out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from accountant import (
    Accounting,
    Cost,
    NoiseSpec,
    ci95_halfwidth,
    cost_of,
    gaussian_for,
    gaussian_threshold,
    laplace_for,
    laplace_threshold,
    split,
)
from accountant.mechanisms.quantile import QuantileSpec, quantile_for
from accountant.mechanisms.sampler import float_scale_up
from rewriter import Measure, Plan
from rewriter.plan import grid_bound


@dataclass(frozen=True)
class Calibrated:
    measure: Measure
    share: Fraction  # ε under pure accounting, ρ under zCDP
    noise: NoiseSpec | QuantileSpec  # added noise, or a selection (histograms)

    @property
    def ci95_grid(self) -> float:
        """95 % half-width of the noise in grid units; for a selection, its rank error."""
        if isinstance(self.noise, QuantileSpec):
            return self.noise.rank_halfwidth
        return ci95_halfwidth(self.noise)


def sqrt_upper(n: int) -> Fraction:
    """A rational upper bound on sqrt(n), exact when n is a perfect square."""
    root = math.isqrt(n)
    if root * root == n:
        return Fraction(root)
    scale = 10**9
    return Fraction(math.isqrt(n * scale * scale) + 1, scale)


def normalized_sensitivity(measure: Measure) -> Fraction:
    """A measure's sensitivity over the magnitude one row can give it.

    A count's rows add 1 each, a sum's at most M = the grid bound per row, a
    histogram's 1 each, a distinct-unit count's 1 per unit: measured this way
    every count, sum and histogram has R (rows per unit) and the unit count
    min(G, R, groups), so the relative error of each answer is what is balanced.
    """
    if measure.kind == "sum":
        assert measure.lower is not None and measure.upper is not None
        per_row = grid_bound(measure.lower, measure.upper, measure.grid_scale)
        return Fraction(measure.l1, per_row)
    return Fraction(measure.l1)


def weights(plan: Plan, accounting: Accounting) -> list[Fraction]:
    """Budget weights minimising the summed squared relative error of the measures.

    Laplace: the error of measure i is s_i / ε_i; minimising Σ (s_i / ε_i)²
    under Σ ε_i = ε gives ε_i ∝ s_i^(2/3). Gaussian: the variance is s_i² / (2 ρ_i);
    minimising Σ s_i² / ρ_i under Σ ρ_i = ρ gives ρ_i ∝ s_i (inverse-variance
    optimal). s_i is the normalized sensitivity. The weights are exact
    rationals, so the shares still sum to exactly the query's cost.
    """
    result: list[Fraction] = []
    for measure in plan.output_measures:
        s = normalized_sensitivity(measure)
        if accounting is Accounting.PURE:
            w = Fraction(float(s) ** (2 / 3)).limit_denominator(10**6)
        else:
            w = s
        result.append(max(w, Fraction(1, 10**6)))
    return result


def calibrate(plan: Plan, cost: Cost, accounting: Accounting) -> dict[str, Calibrated]:
    """Split the query's cost over its measures (`weights`) and size each one's noise.

    The bounding diagnostics get `plan.diagnostics_share` of the cost, in equal
    parts; the outputs' measures the rest, by `weights`. Measures are released
    together, so their shares compose by addition (pure ε) or by addition of ρ
    (zCDP); the split never hands out more than the cost.
    """
    outputs, diagnostics = plan.output_measures, plan.diagnostic_measures
    main = weights(plan, accounting)
    total = sum(main, Fraction(0))
    share = plan.diagnostics_share if diagnostics else Fraction(0)
    scaled = [w / total * (1 - share) for w in main]
    scaled += [share / len(diagnostics) for _ in diagnostics]
    shares = split(cost, scaled)
    calibrated: dict[str, Calibrated] = {}
    for measure, share in zip(outputs + diagnostics, shares, strict=True):
        noise: NoiseSpec | QuantileSpec
        if measure.kind == "hist":
            assert measure.quantile is not None
            # one selection per group; a unit's R rows bound all of them together
            noise = quantile_for(measure.quantile, measure.l1, measure.bins, share,
                                 "pure" if accounting is Accounting.PURE else "zcdp")
        elif accounting is Accounting.PURE:
            noise = laplace_for(measure.l1, share)
        else:
            noise = gaussian_for(sqrt_upper(measure.l2_squared), share)
        calibrated[measure.name] = Calibrated(measure, share, noise)
    return calibrated


def selection_threshold(
    plan: Plan, calibrated: dict[str, Calibrated], accounting: Accounting, delta: Fraction
) -> int:
    """The noisy count a group needs to be released (SPEC §4.4).

    Guarantee: the thresholded count is `plan.selection_measure()`, one of the
    query's own noisy counts (its COUNT(*) when it has one). After the caps one
    person touches at most L0 = min(G, R) groups, and a group only they create
    holds at most `plan.selection_offset` = c (1 distinct person, or R rows) in
    that count. Each such group passes c + Z ≥ τ with probability
    ≤ P(Z ≥ τ − c); τ is the smallest integer with L0 · P(Z ≥ τ − c) ≤ δ_sel, by
    the exact tails of :func:`accountant.laplace_tail_bound` (discrete Laplace:
    a^k / (1 + a)) or :func:`accountant.gaussian_tail_bound`, at the scale the
    sampler really draws with (rounded up to a float). By the union bound a
    group the person alone creates is released with probability at most δ_sel
    (Korolova et al. 2009; Desfontaines et al. 2022). Every other group's count
    is the noisy measure, paid for in the split like any other, and released as
    it is: the selection reads nothing else, so the query is (ε, δ_sel)-DP.
    """
    measure = plan.selection_measure()
    if measure is None or delta <= 0:
        raise ValueError("partition selection needs a count measure and δ > 0")
    scale = Fraction(float_scale_up(calibrated[measure.name].noise.scale))
    if accounting is not Accounting.PURE:
        return gaussian_threshold(scale, plan.selection_groups, delta, plan.selection_offset)
    return laplace_threshold(scale, plan.selection_groups, delta, plan.selection_offset)


@dataclass(frozen=True)
class Selection:
    """Partition selection of one query: the release threshold and the δ it spends.

    ``delta`` is δ_sel, spent additively; ``conversion_delta`` is the rest of
    the query's δ, which converts ρ into ε under zCDP (None under pure, where
    all of δ is δ_sel).
    """

    threshold: int
    delta: Fraction
    conversion_delta: Fraction | None


@dataclass(frozen=True)
class Priced:
    """What one query costs, the noise that buys, and its partition selection."""

    cost: Cost
    calibrated: dict[str, Calibrated]
    selection: Selection | None


# δ_sel is chosen among δ·k/_SPLIT_STEPS, k = 1 … _SPLIT_STEPS − 1.
_SPLIT_STEPS = 64


def selection_share(epsilon: Fraction, delta: Fraction, groups: int) -> Fraction:
    """The part δ_sel of a zCDP query's δ that partition selection spends.

    The rest, δ − δ_sel, converts ρ to ε: ρ = rho_for(ε, δ − δ_sel). The
    threshold is τ ≈ 1 + σ·√(2 ln(L0/δ_sel)) with σ ∝ 1/√ρ, so the split that
    lets the smallest groups through minimises ln(L0/δ_sel) / ρ(ε, δ − δ_sel);
    it lies near δ/2 (the noise on the released values then grows by about
    2 % over giving all of δ to the conversion, while τ drops by far more).
    Which split is chosen does not affect the guarantee, only utility, so the
    search runs in floats over a fixed grid; ties go to the smaller δ_sel.
    """
    eps, dlt = float(epsilon), float(delta)

    def rho(conv: float) -> float:
        log_inv = math.log(1 / conv)
        return eps * eps / (math.sqrt(eps + log_inv) + math.sqrt(log_inv)) ** 2

    def badness(k: int) -> float:
        share = dlt * k / _SPLIT_STEPS
        return math.log(groups / share) / rho(dlt - share)

    best = min(range(1, _SPLIT_STEPS), key=lambda k: (badness(k), k))
    return delta * best / _SPLIT_STEPS


def price(plan: Plan, accounting: Accounting, epsilon: Fraction, delta: Fraction) -> Priced:
    """The cost of asking ``plan`` at (ε, δ), its noise, and its selection threshold.

    Without partition selection, the cost is (ε, δ) as usual. With it:

    * pure: δ_sel = δ, summed with every other δ by the pure ledger;
    * zCDP: the query is (ρ, δ_sel)-approximately zCDP (Bun & Steinke 2016,
      §8): ρ covers the Gaussian noise of every measure, the distinct-unit
      counts included; δ_sel bounds the chance that a group only the added
      person creates is released. δ is split by :func:`selection_share`,
      ρ = rho_for(ε, δ − δ_sel) (rounded down), and the cost carries
      ``delta_add = δ_sel`` for the ledger to sum beside ρ.

    The caller refuses selection with δ = 0 before this point.
    """
    if not plan.selection:
        cost = cost_of(accounting, epsilon, delta)
        return Priced(cost, calibrate(plan, cost, accounting), None)
    if plan.selection_measure() is None or delta <= 0:
        raise ValueError("partition selection needs a count measure and δ > 0")
    if accounting is Accounting.PURE:
        cost = cost_of(accounting, epsilon, delta)
        selection_delta, conversion = delta, None
    else:
        selection_delta = selection_share(epsilon, delta, plan.selection_groups)
        conversion = delta - selection_delta
        cost = cost_of(accounting, epsilon, delta, selection_delta)
    calibrated = calibrate(plan, cost, accounting)
    threshold = selection_threshold(plan, calibrated, accounting, selection_delta)
    return Priced(cost, calibrated, Selection(threshold, selection_delta, conversion))
