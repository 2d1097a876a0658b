"""The discrete Gaussian tail bound and the selection threshold, against the
tail summed exactly from the probability mass function."""

from __future__ import annotations

from decimal import Context, Decimal
from fractions import Fraction

import pytest

from accountant import InvalidParameter, gaussian_tail_bound, gaussian_threshold

_EXACT = Context(prec=50)


def exact_tails(sigma: Fraction) -> dict[int, Decimal]:
    """P(Z ≥ k) for k ≥ 0, Z discrete Gaussian of scale σ: Σ_{z≥k} f(z) / Σ_z f(z) with
    f(z) = exp(−z²/2σ²), summed term by term at 50 digits over |z| ≤ 40σ + 60 (the
    rest weighs less than exp(−800) relative to the sum)."""
    s = Decimal(sigma.numerator) / Decimal(sigma.denominator)
    two_var = _EXACT.multiply(2, s * s)
    span = int(40 * sigma) + 60
    mass = [_EXACT.exp(-Decimal(z * z) / two_var) for z in range(0, span + 1)]
    total = mass[0] + 2 * sum(mass[1:], Decimal(0))
    tails, running = {}, Decimal(0)
    for k in range(span, -1, -1):
        running += mass[k]
        tails[k] = _EXACT.divide(running, total)
    return tails


def exact_tail(sigma: Fraction, k: int) -> Decimal:
    return exact_tails(sigma)[k]


SIGMAS = [Fraction(1, 3), Fraction(1), Fraction(5, 2), Fraction(10), Fraction(137, 3),
          Fraction(300)]


@pytest.mark.parametrize("sigma", SIGMAS, ids=str)
def test_the_bound_is_never_below_the_exact_tail_and_tight_where_thresholds_live(
    sigma: Fraction,
) -> None:
    for k in sorted({1, 2, 3, int(2 * sigma) + 1, int(4 * sigma) + 1, int(6 * sigma) + 1}):
        exact = Fraction(exact_tail(sigma, k))
        bound = gaussian_tail_bound(sigma, k)
        assert bound >= exact, (sigma, k)
        if k >= 4 * sigma and exact > 0:
            # where thresholds are set (tails of 1e-4 and below) the bound wastes < 6 %
            assert bound <= exact * Fraction(106, 100), (sigma, k, float(bound / exact))


def test_the_bound_at_or_below_zero_is_one_and_without_noise_zero() -> None:
    assert gaussian_tail_bound(Fraction(3), 0) == 1
    assert gaussian_tail_bound(Fraction(3), -4) == 1
    assert gaussian_tail_bound(Fraction(0), 1) == 0
    with pytest.raises(InvalidParameter):
        gaussian_tail_bound(Fraction(-1), 1)  # type: ignore[arg-type]


CASES = [  # (σ, groups per person, δ_sel)
    (Fraction(1, 2), 1, Fraction(1, 10**6)),
    (Fraction(1), 1, Fraction(1, 10**7)),
    (Fraction(7, 2), 3, Fraction(1, 10**6)),
    (Fraction(12), 2, Fraction(5, 10**8)),
    (Fraction(40), 5, Fraction(1, 10**9)),
    (Fraction(250), 1, Fraction(1, 10**5)),
]


@pytest.mark.parametrize(("sigma", "groups", "delta"), CASES, ids=str)
def test_threshold_spends_at_most_delta_and_is_the_smallest_the_bound_allows(
    sigma: Fraction, groups: int, delta: Fraction
) -> None:
    tau = gaussian_threshold(sigma, groups, delta)
    tails = exact_tails(sigma)
    # a group only one person creates has count 1: released when 1 + Z ≥ τ
    assert groups * Fraction(tails[tau - 1]) <= delta
    assert groups * gaussian_tail_bound(sigma, tau - 1) <= delta
    # one lower would overspend by the bound: τ is the smallest the bound allows
    assert groups * gaussian_tail_bound(sigma, tau - 2) > delta
    # and the bound's slack (< 6 %) costs at most about σ/50 over the exact threshold
    tau_exact = min(t for t in range(1, tau + 1) if groups * Fraction(tails[t - 1]) <= delta)
    assert tau_exact <= tau <= tau_exact + 1 + sigma / 50, (tau_exact, tau)


def test_threshold_needs_sane_parameters() -> None:
    with pytest.raises(InvalidParameter):
        gaussian_threshold(Fraction(1), 0, Fraction(1, 10**6))
    with pytest.raises(InvalidParameter):
        gaussian_threshold(Fraction(1), 1, Fraction(0))
