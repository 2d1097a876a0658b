"""Adding noise: exact integer samples from OpenDP's secure samplers.

Guarantee
---------
The privacy maps in :mod:`accountant.mechanisms.maps` assume exact discrete
Laplace and discrete Gaussian samples. OpenDP's ``make_laplace`` and
``make_gaussian`` over an integer vector domain sample exactly (Canonne, Kamath
& Steinke 2020 rejection samplers on rational arithmetic) from a
cryptographically secure RNG, so neither floating-point artefacts (Mironov 2012)
nor a predictable PRNG can leak the true values. OpenDP takes the scale as a
float; we pass the smallest float ≥ the exact scale, and more noise never
weakens the guarantee.

Noise is drawn for a zero vector and added to the values as Python ints, so
sums larger than 2**63 never overflow inside OpenDP.

Many values (``PARALLEL_FROM`` or more) are split into a few contiguous chunks
drawn at once on threads: each chunk is one call of the same OpenDP
measurement, whose native sampler runs without holding Python's GIL, so the
chunks run on separate cores. Every entry still receives its own independent
draw from the same exact distribution (each call reads fresh bytes from the
secure RNG), so the noise vector has exactly the distribution of a single call;
only the wall time changes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from functools import lru_cache
from typing import Any

import opendp.prelude as dp

from accountant.errors import InvalidParameter
from accountant.mechanisms.maps import NoiseSpec

dp.enable_features("contrib")

PARALLEL_FROM = 4096  # below this, one call (threads cost more than they save)
_WORKERS = max(1, min(4, os.cpu_count() or 1))
_POOL = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="dpsql-noise")


def add_noise(values: Sequence[int], spec: NoiseSpec) -> list[int]:
    """Return ``values`` with i.i.d. noise from ``spec`` added to each entry."""
    ints = list(values)
    for v in ints:
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidParameter(f"noise is added to integers only, got {v!r}")
    if not ints or spec.scale == 0:
        return ints
    measurement = _measurement(spec.mechanism, float_scale_up(spec.scale))
    noise = _draw(measurement, len(ints))
    return [v + int(z) for v, z in zip(ints, noise, strict=True)]


def _draw(measurement: Any, n: int) -> list[int]:
    """n independent draws of the measurement's noise, in contiguous chunks on
    threads when n is large (see the module docstring)."""
    if n < PARALLEL_FROM or _WORKERS == 1:
        return list(measurement([0] * n))
    size = -(-n // _WORKERS)
    chunks = [[0] * min(size, n - start) for start in range(0, n, size)]
    noise: list[int] = []
    for part in _POOL.map(measurement, chunks):
        noise.extend(part)
    return noise


def float_scale_up(scale: Fraction) -> float:
    """The smallest float that is ≥ ``scale``."""
    f = float(scale)
    if Fraction(f) < scale:
        f = math.nextafter(f, math.inf)
    return f


@lru_cache(maxsize=256)
def _measurement(mechanism: str, scale: float) -> Any:
    """Build (and cache) the OpenDP measurement; the vector length is left open.

    The measurement's own privacy map is not used (ours is in ``maps``), so an
    unsized domain serves every length.
    """
    domain = dp.vector_domain(dp.atom_domain(T="i64"))
    if mechanism == "discrete_laplace":
        return dp.m.make_laplace(domain, dp.l1_distance(T="i64"), scale=scale)
    return dp.m.make_gaussian(domain, dp.l2_distance(T="i64"), scale=scale)
