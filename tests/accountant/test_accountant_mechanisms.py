"""Privacy maps, the secure sampler's distribution, and accuracy intervals."""

import math
from fractions import Fraction

import numpy as np
import opendp.measurements
import pytest
from scipy import stats

from accountant import (
    InvalidParameter,
    NoiseSpec,
    add_noise,
    ci95_halfwidth,
    epsilon_of,
    gaussian_for,
    laplace_for,
    rho_of,
)
from accountant.mechanisms import sampler


def pmf(spec: NoiseSpec, support: np.ndarray) -> np.ndarray:
    """Exact (up to float) pmf of the spec's noise on ``support``, normalised over a wide range."""
    s = float(spec.scale)
    wide = np.arange(-int(60 * s) - 60, int(60 * s) + 61)

    def weight(k: np.ndarray) -> np.ndarray:
        if spec.mechanism == "discrete_laplace":
            return np.exp(-np.abs(k) / s)
        return np.exp(-(k.astype(float) ** 2) / (2 * s * s))

    return weight(support) / weight(wide).sum()


# -- privacy maps -------------------------------------------------------------


def test_laplace_map_is_exact_and_inverts():
    spec = laplace_for(3, Fraction(1, 10))
    assert spec == NoiseSpec("discrete_laplace", Fraction(30))
    assert epsilon_of(spec, 3) == Fraction(1, 10)


@pytest.mark.parametrize(
    "rho", [Fraction(1, 8), Fraction(1, 3), Fraction(1, 10**6), Fraction(7, 2)]
)
@pytest.mark.parametrize("sens", [1, 2, Fraction(5, 3)])
def test_gaussian_sigma_rounds_up_so_rho_never_exceeds_the_share(rho, sens):
    spec = gaussian_for(sens, rho)
    assert rho_of(spec, sens) <= rho
    assert rho_of(spec, sens) > rho * (1 - Fraction(1, 10**12))


def test_gaussian_exact_case():
    assert gaussian_for(1, Fraction(1, 8)).scale == 2


def test_maps_refuse_bad_inputs():
    with pytest.raises(InvalidParameter, match="epsilon share must be > 0"):
        laplace_for(1, Fraction(0))
    with pytest.raises(InvalidParameter, match="integer >= 0"):
        laplace_for(-1, Fraction(1))
    with pytest.raises(InvalidParameter, match="rho share must be > 0"):
        gaussian_for(1, Fraction(0))
    with pytest.raises(InvalidParameter, match="unknown mechanism"):
        NoiseSpec("laplace", Fraction(1))  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match="needs a discrete_gaussian"):
        rho_of(laplace_for(1, Fraction(1)), 1)


def test_float_scale_handed_to_opendp_is_never_smaller():
    for scale in [
        Fraction(1, 3),
        Fraction(10**20 + 1, 7),
        Fraction(2),
        gaussian_for(1, Fraction(1, 3)).scale,
    ]:
        assert Fraction(sampler.float_scale_up(scale)) >= scale


# -- the sampler --------------------------------------------------------------


def test_add_noise_keeps_big_integers_exact():
    big = 2**80 + 12345
    noisy = add_noise([big, -big], laplace_for(1, Fraction(1)))
    assert all(isinstance(v, int) for v in noisy)
    assert abs(noisy[0] - big) < 1000 and abs(noisy[1] + big) < 1000


def test_add_noise_refuses_non_integers_and_passes_zero_scale():
    with pytest.raises(InvalidParameter, match="integers only"):
        add_noise([1.5], laplace_for(1, Fraction(1)))  # type: ignore[list-item]
    assert add_noise([4, 5], NoiseSpec("discrete_laplace", Fraction(0))) == [4, 5]
    assert add_noise([], laplace_for(1, Fraction(1))) == []


@pytest.mark.parametrize(
    "name,spec",
    [
        ("make_laplace", NoiseSpec("discrete_laplace", Fraction(7919, 13))),
        ("make_gaussian", NoiseSpec("discrete_gaussian", Fraction(7919, 13))),
    ],
)
def test_the_secure_sampler_is_the_one_actually_used(monkeypatch, name, spec):
    sampler._measurement.cache_clear()
    calls = []
    real = getattr(opendp.measurements, name)

    def spy(*args, **kwargs):
        calls.append(kwargs["scale"])
        return real(*args, **kwargs)

    monkeypatch.setattr(opendp.measurements, name, spy)
    add_noise([0, 0, 0], spec)
    assert calls == [sampler.float_scale_up(spec.scale)]

    def broken(*args, **kwargs):
        raise RuntimeError("opendp sampler unavailable")

    sampler._measurement.cache_clear()
    monkeypatch.setattr(opendp.measurements, name, broken)
    with pytest.raises(RuntimeError, match="opendp sampler unavailable"):
        add_noise([0], spec)
    sampler._measurement.cache_clear()


def goodness_of_fit(spec: NoiseSpec, n: int) -> float:
    draws = np.array(add_noise([0] * n, spec))
    s = float(spec.scale)
    cut = max(2, int(2.5 * s))
    support = np.arange(-cut, cut + 1)
    probs = pmf(spec, support)
    tail = 1 - probs.sum()
    observed = np.array([np.sum(draws == k) for k in support] + [np.sum(np.abs(draws) > cut)])
    expected = np.append(probs, tail) * n
    return float(stats.chisquare(observed, expected).pvalue)


@pytest.mark.parametrize(
    "spec",
    [NoiseSpec("discrete_laplace", Fraction(2)), NoiseSpec("discrete_gaussian", Fraction(3, 2))],
)
def test_sampler_matches_the_exact_pmf(spec):
    # A correct sampler fails this with probability 1e-4.
    assert goodness_of_fit(spec, 20_000) > 1e-4


@pytest.mark.slow
@pytest.mark.parametrize(
    "spec",
    [
        NoiseSpec("discrete_laplace", Fraction(1, 2)),
        NoiseSpec("discrete_laplace", Fraction(25, 3)),
        NoiseSpec("discrete_gaussian", Fraction(1, 2)),
        NoiseSpec("discrete_gaussian", Fraction(20)),
    ],
)
def test_sampler_matches_the_exact_pmf_thoroughly(spec):
    assert goodness_of_fit(spec, 200_000) > 1e-4


# -- accuracy -----------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        NoiseSpec("discrete_laplace", Fraction(1, 5)),
        NoiseSpec("discrete_laplace", Fraction(2)),
        NoiseSpec("discrete_laplace", Fraction(1000, 3)),
        NoiseSpec("discrete_gaussian", Fraction(1, 5)),
        NoiseSpec("discrete_gaussian", Fraction(2)),
        NoiseSpec("discrete_gaussian", Fraction(1000, 3)),
    ],
)
def test_ci95_is_the_smallest_integer_with_95_percent_mass(spec):
    t = int(ci95_halfwidth(spec))
    mass = lambda u: pmf(spec, np.arange(-u, u + 1)).sum()  # noqa: E731
    assert mass(t) >= 0.95
    assert t == 0 or mass(t - 1) < 0.95


def test_ci95_known_values():
    # b = 2: P(|Z| > t) = 2 a^(t+1) / (1 + a), a = e^-1/2 -> t = 6
    assert ci95_halfwidth(NoiseSpec("discrete_laplace", Fraction(2))) == 6.0
    assert ci95_halfwidth(NoiseSpec("discrete_gaussian", Fraction(0))) == 0.0
    # huge σ: continuous limit 1.96 σ
    sigma = 10**6
    assert math.isclose(
        ci95_halfwidth(NoiseSpec("discrete_gaussian", Fraction(sigma))),
        1.959964 * sigma,
        rel_tol=1e-5,
    )


@pytest.mark.parametrize(
    "spec",
    [NoiseSpec("discrete_laplace", Fraction(3)), NoiseSpec("discrete_gaussian", Fraction(3))],
)
def test_ci95_covers_about_95_percent_of_draws(spec):
    n = 20_000
    t = ci95_halfwidth(spec)
    inside = np.mean(np.abs(np.array(add_noise([0] * n, spec))) <= t)
    # exact coverage is in [0.95, 0.95 + P(|Z| = t)]; allow 5 standard errors
    assert 0.95 - 5 * math.sqrt(0.05 * 0.95 / n) <= inside <= 0.99


def test_a_scale_the_64_bit_sampler_cannot_draw_safely_is_refused() -> None:
    from accountant.mechanisms.maps import MAX_NOISE_SCALE

    assert NoiseSpec("discrete_laplace", MAX_NOISE_SCALE).scale == MAX_NOISE_SCALE
    for mechanism in ("discrete_laplace", "discrete_gaussian"):
        with pytest.raises(InvalidParameter, match="too small"):
            NoiseSpec(mechanism, MAX_NOISE_SCALE + 1)
    with pytest.raises(InvalidParameter, match="too small"):
        laplace_for(250_000 * 4, Fraction(1, 10**300))


@pytest.mark.parametrize("spec", [laplace_for(1, Fraction(1, 2)), gaussian_for(1, Fraction(1, 8))])
def test_many_values_drawn_in_parallel_keep_their_order_and_independence(spec):
    """Above `sampler.PARALLEL_FROM` the draws are made in chunks on threads: each
    value still gets its own noise (order kept, small noise at this scale), and the
    chunks are independent draws, not one chunk repeated."""
    n = 3 * sampler.PARALLEL_FROM + 7
    values = [10**6 * i for i in range(n)]
    noisy = add_noise(values, spec)
    noise = [a - b for a, b in zip(noisy, values, strict=True)]
    assert len(noise) == n and max(abs(z) for z in noise) < 10**5
    chunk = sampler.PARALLEL_FROM
    assert noise[:chunk] != noise[chunk:2 * chunk]
    # and the pooled draws follow the exact pmf (goodness_of_fit above draws 20,000
    # values, which takes the parallel path too)
    assert sampler.PARALLEL_FROM < 20_000
