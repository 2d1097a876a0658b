"""Privacy maps: sensitivity and budget share → noise scale, with no sampling.

Kept apart from the sampler (:mod:`accountant.mechanisms.sampler`) so the
arithmetic that carries the privacy promise can be read and tested alone.
Scales are exact Fractions; where an irrational number appears (a square root)
it is rounded UP, because more noise never weakens the guarantee.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from accountant.budget import format_fraction, to_fraction
from accountant.errors import InvalidParameter

Mechanism = Literal["discrete_laplace", "discrete_gaussian"]
MECHANISMS: tuple[Mechanism, ...] = ("discrete_laplace", "discrete_gaussian")

# Gaussian σ is rounded up to a multiple of 1/_SIGMA_GRID: over-noising by at
# most 1e-18, which no accuracy figure can show.
_SIGMA_GRID = 10**18


# Far below 2**63: P(|Z| > 2**62) at this scale is about exp(-2**22).
MAX_NOISE_SCALE = Fraction(2**40)


@dataclass(frozen=True)
class NoiseSpec:
    """Which noise to add to integer outputs, and how much.

    ``scale`` is the discrete Laplace parameter b (P(Z = k) ∝ exp(−|k|/b)) or
    the discrete Gaussian σ (P(Z = k) ∝ exp(−k²/(2σ²))). A scale of 0 means no
    noise, which only a sensitivity of 0 can justify.
    """

    mechanism: Mechanism
    scale: Fraction

    def __post_init__(self) -> None:
        if self.mechanism not in MECHANISMS:
            raise InvalidParameter(
                f"unknown mechanism {self.mechanism!r}; expected one of {MECHANISMS}"
            )
        if not isinstance(self.scale, Fraction) or self.scale < 0:
            raise InvalidParameter(f"noise scale must be a Fraction >= 0, got {self.scale!r}")
        if self.scale > MAX_NOISE_SCALE:
            # The sampler draws 64-bit integers: at a scale near 2**63 its draws
            # saturate at the limit, and truth + (2**63 - 1) gives the truth away.
            magnitude = self.scale.numerator.bit_length() - self.scale.denominator.bit_length()
            raise InvalidParameter(
                f"epsilon is too small for this query: its noise would have a scale of about "
                f"2**{magnitude} (in the aggregate's integer units), beyond the 2**40 a 64-bit "
                f"sampler draws safely; ask for a larger epsilon"
            )


def laplace_for(l1_sensitivity: int, epsilon: Fraction) -> NoiseSpec:
    """Discrete Laplace noise for an ε share: b = Δ1 / ε, exact.

    Guarantee
    ---------
    If the integer vector f(D) changes by at most Δ1 in L1 norm between
    neighbouring databases, releasing f(D) + Z with Z_i i.i.d. discrete Laplace
    of scale b is (Δ1 / b)-DP = ε-DP (Ghosh, Roughgarden & Sundararajan 2009;
    Canonne, Kamath & Steinke 2020, Prop. 2). Assumes the sampler is exact,
    which OpenDP's is (see :func:`accountant.mechanisms.add_noise`).
    """
    sens = _sensitivity(l1_sensitivity)
    eps = to_fraction(epsilon)
    if eps <= 0:
        raise InvalidParameter(f"epsilon share must be > 0, got {format_fraction(eps)}")
    return NoiseSpec("discrete_laplace", sens / eps)


def gaussian_for(l2_sensitivity: int | Fraction, rho: Fraction) -> NoiseSpec:
    """Discrete Gaussian noise for a ρ share: σ = Δ2 / √(2ρ), rounded up.

    Guarantee
    ---------
    If the integer vector f(D) changes by at most Δ2 in L2 norm between
    neighbouring databases, releasing f(D) + Z with Z_i i.i.d. discrete
    Gaussian of scale σ is Δ2² / (2σ²)-zCDP (Canonne, Kamath & Steinke 2020,
    Thm. 4), which is ≤ ρ because σ is rounded up. Assumes an exact sampler.
    """
    sens = to_fraction(l2_sensitivity)
    if sens < 0:
        raise InvalidParameter(f"sensitivity must be >= 0, got {format_fraction(sens)}")
    r = to_fraction(rho)
    if r <= 0:
        raise InvalidParameter(f"rho share must be > 0, got {format_fraction(r)}")
    return NoiseSpec("discrete_gaussian", _sqrt_up(sens * sens / (2 * r)))


def epsilon_of(spec: NoiseSpec, l1_sensitivity: int) -> Fraction:
    """The ε a discrete Laplace spec gives for a given L1 sensitivity (inverse map)."""
    if spec.mechanism != "discrete_laplace":
        raise InvalidParameter(f"epsilon_of needs a discrete_laplace spec, got {spec.mechanism}")
    if spec.scale == 0:
        raise InvalidParameter("a zero noise scale gives no finite epsilon")
    return _sensitivity(l1_sensitivity) / spec.scale


def rho_of(spec: NoiseSpec, l2_sensitivity: int | Fraction) -> Fraction:
    """The ρ a discrete Gaussian spec gives for a given L2 sensitivity (inverse map)."""
    if spec.mechanism != "discrete_gaussian":
        raise InvalidParameter(f"rho_of needs a discrete_gaussian spec, got {spec.mechanism}")
    if spec.scale == 0:
        raise InvalidParameter("a zero noise scale gives no finite rho")
    sens = to_fraction(l2_sensitivity)
    return sens * sens / (2 * spec.scale * spec.scale)


def _sensitivity(value: int) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameter(f"L1 sensitivity must be an integer >= 0, got {value!r}")
    return Fraction(value)


def _sqrt_up(x: Fraction) -> Fraction:
    """The smallest multiple of 1/_SIGMA_GRID that is ≥ √x, computed with integers."""
    target = x * _SIGMA_GRID * _SIGMA_GRID
    n = -(-target.numerator // target.denominator)  # ceil
    root = math.isqrt(n)
    if root * root < n:
        root += 1
    return Fraction(root, _SIGMA_GRID)
