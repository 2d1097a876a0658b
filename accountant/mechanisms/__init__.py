"""Noise mechanisms: privacy maps, accuracy, and the secure sampler."""

from accountant.mechanisms.accuracy import ci95_halfwidth
from accountant.mechanisms.maps import (
    MECHANISMS,
    Mechanism,
    NoiseSpec,
    epsilon_of,
    gaussian_for,
    laplace_for,
    rho_of,
)
from accountant.mechanisms.sampler import add_noise
from accountant.mechanisms.tails import (
    gaussian_tail_bound,
    gaussian_threshold,
    laplace_tail_bound,
    laplace_threshold,
)

__all__ = [
    "MECHANISMS",
    "Mechanism",
    "NoiseSpec",
    "add_noise",
    "ci95_halfwidth",
    "epsilon_of",
    "gaussian_for",
    "gaussian_tail_bound",
    "gaussian_threshold",
    "laplace_for",
    "laplace_tail_bound",
    "laplace_threshold",
    "rho_of",
]
