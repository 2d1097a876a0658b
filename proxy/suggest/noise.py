"""The assistant's mechanisms: its shares of the run's budget, the DP quantile
selection over a grid, noisy counts, and intervals for what they estimate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np

from accountant import Accounting
from accountant.mechanisms.maps import gaussian_for, laplace_for
from accountant.mechanisms.sampler import add_noise
from accountant.selection import select_quantile

_D = 1000  # quantiles are a/1000


# at least this many draws fall in each tail, or the tail quantile itself is noise and
# the interval covers less than it says (4,000 draws left 2 per tail at 99.9 %: 0.3 % missed)
_TAIL_DRAWS = 100
_MONTE_CARLO = 4000


QUANTILE_WEIGHT = 2  # a tail quantile needs more than a count to land well


@dataclass
class RunBudget:
    """Shares of the run's ε (pure) or ρ (zCDP): `share` per measurement, twice that
    per quantile selection; they add up to the whole (sequential composition)."""

    accounting: Accounting
    share: Fraction

    def noise(self, sensitivity: int):  # type: ignore[no-untyped-def]
        if self.accounting is Accounting.PURE:
            return laplace_for(sensitivity, self.share)
        return gaussian_for(sensitivity, self.share)

    @property
    def quantile_share(self) -> Fraction:
        return self.share * QUANTILE_WEIGHT


def noisy_quantile(cumulative: list[int], n: int, alpha: float, budget: RunBudget) -> int:
    """The index of the grid candidate chosen as the α-quantile: for α above ½ an upper
    bound (`cumulative[i]` counts the values up to candidate i), below ½ a lower bound
    (it counts those below)."""
    a = min(_D - 1, max(1, round(alpha * _D)))
    side: Literal["lower", "upper"] = "upper" if 2 * a > _D else "lower"
    return select_quantile(cumulative, n, Fraction(a, _D), side, budget.accounting,
                           budget.quantile_share)


def noisy_counts(values: list[int], sensitivity: int, budget: RunBudget) -> tuple[np.ndarray, Any]:
    spec = budget.noise(sensitivity)
    return np.array(add_noise(values, spec), dtype=float), spec


def noise_draws(spec: Any, shape: tuple[int, int]) -> np.ndarray:
    """Noise with the spec's distribution, for the intervals (not for release)."""
    rng = np.random.default_rng()
    scale = float(spec.scale)
    if spec.mechanism == "discrete_laplace":
        # the difference of two geometrics is discrete Laplace with this scale
        p = 1 - math.exp(-1 / scale)
        return (rng.geometric(p, shape) - rng.geometric(p, shape)).astype(float)
    return np.round(rng.normal(0, scale, shape))


def interval_of(estimate: Any, noisy: np.ndarray, spec: Any,
                confidence: float) -> tuple[float, float, float]:
    """The estimate from noisy counts, and an interval for the truth at `confidence`:
    the estimate recomputed on (noisy − fresh noise) draws (a parametric bootstrap)."""
    point = float(np.clip(estimate(noisy[None, :])[0], 0, 1))
    tail = (1 - confidence) / 2 * 100
    draws = max(_MONTE_CARLO, math.ceil(_TAIL_DRAWS * 100 / tail))
    sims = estimate(noisy[None, :] - noise_draws(spec, (draws, noisy.size)))
    lo, hi = np.nanpercentile(np.clip(sims, 0, 1), [tail, 100 - tail])
    return point, min(float(lo), point), max(float(hi), point)


def dropped_share(h: np.ndarray) -> np.ndarray:
    h = np.maximum(h, 0)  # post-processing: no total is below 0
    whole = h[:, 0] + h[:, 1]
    return np.where(whole > 0, h[:, 1] / np.maximum(whole, 1), 0.0)
