"""95 % intervals for the noise an answer carries.

The interval is stated for the noise alone (the answer minus the true,
contribution-bounded value), so it depends only on the spec, never on data.
"""

from __future__ import annotations

import math
import statistics
from functools import lru_cache

import numpy as np

from accountant.mechanisms.maps import NoiseSpec

_COVERAGE = 0.95
_TAIL = 1 - _COVERAGE
# Above this σ the discrete Gaussian's mass is summed on a coarse normal
# approximation instead of term by term (see _gaussian_halfwidth).
_GAUSS_SUM_LIMIT = 20_000.0


def ci95_halfwidth(spec: NoiseSpec) -> float:
    """The smallest integer t with P(|Z| ≤ t) ≥ 0.95 for the spec's noise Z."""
    return float(_halfwidth(spec.mechanism, float(spec.scale), _COVERAGE))


def halfwidth(spec: NoiseSpec, coverage: float) -> float:
    """The smallest integer t with P(|Z| ≤ t) ≥ ``coverage`` (0 < coverage < 1).

    Intervals that combine k noisy numbers take each at 1 − 0.05/k, so that all
    of them hold together at least 95 % of the time (the union bound).
    """
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be in (0, 1), got {coverage}")
    return float(_halfwidth(spec.mechanism, float(spec.scale), coverage))


@lru_cache(maxsize=1024)
def _halfwidth(mechanism: str, scale: float, coverage: float) -> int:
    if scale == 0:
        return 0
    if mechanism == "discrete_laplace":
        return _laplace_halfwidth(scale, 1 - coverage)
    return _gaussian_halfwidth(scale, coverage)


def _laplace_halfwidth(b: float, tail_mass: float = _TAIL) -> int:
    """Closed form: with a = exp(−1/b), P(|Z| > t) = 2·a^(t+1) / (1 + a)."""
    a = math.exp(-1 / b)

    def tail(t: int) -> float:
        return 2 * math.exp((t + 1) * (-1 / b)) / (1 + a)

    t = max(0, math.ceil(-b * math.log(tail_mass * (1 + a) / 2)) - 1)
    # Settle float rounding at the boundary by checking the neighbours.
    while tail(t) > tail_mass:
        t += 1
    while t > 0 and tail(t - 1) <= tail_mass:
        t -= 1
    return t


def _gaussian_halfwidth(sigma: float, coverage: float = _COVERAGE) -> int:
    """Sum the pmf exp(−k²/2σ²) term by term; for huge σ use the continuous limit.

    For σ ≤ 20,000 the normaliser and the cumulative mass are summed over
    |k| ≤ 14σ (the mass beyond is below 1e-40). Beyond that, the discrete and
    continuous Gaussians agree to far better than one unit in t, so
    t = ⌈1.959964·σ − 1/2⌉ (the midpoint rule) is used.
    """
    if sigma > _GAUSS_SUM_LIMIT:
        z = statistics.NormalDist().inv_cdf(0.5 + coverage / 2)
        return max(0, math.ceil(z * sigma - 0.5))
    kmax = math.ceil(14 * sigma) + 1
    k = np.arange(0, kmax + 1, dtype=np.float64)
    w = np.exp(-(k * k) / (2 * sigma * sigma))
    w[1:] *= 2  # ±k
    cdf = np.cumsum(w) / w.sum()
    return int(np.searchsorted(cdf, coverage - 1e-15, side="left"))
