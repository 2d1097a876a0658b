"""Tail bounds of the discrete Gaussian, for partition selection under zCDP.

Partition selection releases a group only if its noisy distinct-unit count
1 + Z reaches a threshold τ; a group that exists only because of one person is
then released with probability P(Z ≥ τ − 1), and that probability, times the
number of groups one person can create, is the δ the selection spends. So the
bound must never be below the true tail: every step below rounds upward.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_CEILING, Context, Decimal
from fractions import Fraction

from accountant.budget import format_fraction
from accountant.errors import InvalidParameter

_WORK = Context(prec=60)
_KEEP = Context(prec=40, rounding=ROUND_CEILING)
# Each Decimal operation is correctly rounded (relative error ≤ 5e-60); fewer
# than twenty of them make one bound, so this relative margin covers them all.
_SLACK = Decimal("1e-50")
# π truncated (so below π): a smaller √(2π) only enlarges the bound.
_PI_LOW = Decimal("3.14159265358979323846264338327950288419716939937510582097494")
# Below this exponent step the geometric factor 1/(1 − e^(−x)) would lose
# digits to cancellation; the Mills factor is the tighter one there anyway.
_GEOMETRIC_FROM = Decimal("0.01")


def _settled_tail(name: str, scale: Fraction, k: int) -> Fraction | None:
    """P(Z ≥ k) where no computation is needed: 1 for k ≤ 0, 0 without noise."""
    if not isinstance(scale, Fraction) or scale < 0:
        raise InvalidParameter(f"{name} must be a Fraction >= 0, got {scale!r}")
    if k <= 0:
        return Fraction(1)
    if scale == 0:
        return Fraction(0)
    return None


def gaussian_tail_bound(sigma: Fraction, k: int) -> Fraction:
    """An upper bound on P(Z ≥ k), Z discrete Gaussian of scale σ, as an exact Fraction.

    Guarantee
    ---------
    With f(z) = exp(−z²/2σ²) and S = Σ_{z∈ℤ} f(z), P(Z ≥ k) = Σ_{z≥k} f(z) / S.
    For an integer k ≥ 1:

    * numerator, two bounds, the smaller is used: f decreases on [k, ∞), so
      Σ_{z≥k+1} f(z) ≤ ∫_k^∞ f ≤ (σ²/k)·f(k) (Mills' ratio), giving
      f(k)·(1 + σ²/k); and f(z+1)/f(z) = exp(−(2z+1)/2σ²) ≤ r = exp(−(2k+1)/2σ²)
      for z ≥ k, giving the geometric f(k)/(1 − r);
    * denominator: S ≥ 1 (the z = 0 term) and S ≥ σ√(2π), because by Poisson
      summation S = σ√(2π)·Σ_{n∈ℤ} exp(−2π²σ²n²) and every term is positive.

    The Mills form is within a factor 1 + 1/t² (t = k/σ) of the truth for
    large σ, the geometric one nearly exact for small σ. (The continuous tail
    shifted by one, P(N(0, σ²) ≥ k − 1), is also a bound but a looser one.)
    The bound is evaluated with 60-digit decimals, pushed up past their
    rounding error and cut upward to 40 digits; for k ≤ 0 it is 1.
    """
    if (settled := _settled_tail("sigma", sigma, k)) is not None:
        return settled
    ctx = _WORK
    s = ctx.divide(Decimal(sigma.numerator), Decimal(sigma.denominator))
    two_var = ctx.multiply(2, ctx.multiply(s, s))
    kd = Decimal(k)
    head = ctx.exp(ctx.minus(ctx.divide(ctx.multiply(kd, kd), two_var)))
    factor = ctx.add(1, ctx.divide(ctx.multiply(s, s), kd))
    step = ctx.divide(Decimal(2 * k + 1), two_var)
    if step >= _GEOMETRIC_FROM:
        geometric = ctx.divide(1, ctx.subtract(1, ctx.exp(ctx.minus(step))))
        factor = min(factor, geometric)
    denominator = max(Decimal(1), ctx.multiply(s, ctx.sqrt(ctx.multiply(2, _PI_LOW))))
    bound = ctx.divide(ctx.multiply(head, factor), denominator)
    nudged = ctx.multiply(bound, ctx.add(1, _SLACK))
    return min(Fraction(1), Fraction(_KEEP.plus(nudged)))


def gaussian_threshold(sigma: Fraction, groups: int, delta: Fraction, offset: int = 1) -> int:
    """The smallest τ with groups · P(Z ≥ τ − offset) ≤ δ by :func:`gaussian_tail_bound`.

    A group that one person alone creates has a distinct-unit count of 1 (a row
    count of at most R: ``offset``), so it passes offset + Z ≥ τ with probability
    at most P(Z ≥ τ − offset); one person creates at most ``groups`` groups, so
    by the union bound any of them is released with probability at most δ. The
    bound decreases in k, so a bisection finds τ.
    """
    # start near the sub-Gaussian estimate σ√(2 ln(groups/δ)), then bracket exactly
    guess = float(sigma) * math.sqrt(2 * math.log(groups / float(delta))) \
        if groups >= 1 and 0 < delta < 1 else 1.0
    return _threshold(lambda k: gaussian_tail_bound(sigma, k), groups, delta, offset, guess)


def laplace_tail_bound(scale: Fraction, k: int) -> Fraction:
    """An upper bound on P(Z ≥ k), Z discrete Laplace of scale b, as an exact Fraction.

    Guarantee
    ---------
    P(Z = z) = (1 − a)/(1 + a) · a^|z| with a = e^(−1/b), so for k ≥ 1
    P(Z ≥ k) = Σ_{z≥k} (1 − a)/(1 + a) · a^z = a^k / (1 + a), exactly. The value
    is computed with 60-digit decimals: a^k = e^(−k/b) pushed up past its rounding
    error, 1 + a taken at a pushed down, then cut upward to 40 digits; so the
    bound is never below the true tail and within 1e−38 of it (relatively). For
    k ≤ 0 it is 1.
    """
    if (settled := _settled_tail("scale", scale, k)) is not None:
        return settled
    ctx = _WORK
    b = ctx.divide(Decimal(scale.numerator), Decimal(scale.denominator))
    head = ctx.multiply(ctx.exp(ctx.minus(ctx.divide(Decimal(k), b))), ctx.add(1, _SLACK))
    a_low = ctx.multiply(ctx.exp(ctx.minus(ctx.divide(Decimal(1), b))), ctx.subtract(1, _SLACK))
    bound = ctx.multiply(ctx.divide(head, ctx.add(1, a_low)), ctx.add(1, _SLACK))
    return min(Fraction(1), Fraction(_KEEP.plus(bound)))


def laplace_threshold(scale: Fraction, groups: int, delta: Fraction, offset: int = 1) -> int:
    """The smallest τ with groups · P(Z ≥ τ − offset) ≤ δ by :func:`laplace_tail_bound`.

    A group one person alone creates holds at most ``offset`` in the thresholded
    count (1 for a distinct-person count, R for a row count under a cap of R rows
    per person), so it passes offset + Z ≥ τ with probability at most
    P(Z ≥ τ − offset); one person creates at most ``groups`` groups, so by the
    union bound any of them is released with probability at most δ.
    """
    return _threshold(lambda k: laplace_tail_bound(scale, k), groups, delta, offset,
                      float(scale) * math.log(groups / float(delta)))


def _threshold(tail: Callable[[int], Fraction], groups: int, delta: Fraction, offset: int,
               estimate: float) -> int:
    if groups < 1 or not 0 < delta < 1 or offset < 1:
        raise InvalidParameter(
            f"need groups >= 1, offset >= 1 and 0 < delta < 1, got {groups}, {offset} and "
            f"{format_fraction(delta)}"
        )

    def fits(k: int) -> bool:
        return groups * tail(k) <= delta

    low, high = 0, max(1, math.ceil(estimate))  # fits(0) is False: the tail at 0 is 1 > δ
    while not fits(high):
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if fits(middle) else (middle, high)
    return offset + high
