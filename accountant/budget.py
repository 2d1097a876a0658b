"""Exact privacy budgets.

Budgets are compared exactly as people write them: ten charges of ε = 0.1 must
fit a budget of 1.0. Binary floats cannot promise that (0.1 * 10 != 1.0 in
floating point), so every ε and δ becomes a ``Fraction`` read from the decimal
text the person wrote.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from numbers import Rational

from accountant.errors import InvalidParameter

Number = int | float | str | Decimal | Fraction


def to_fraction(x: object) -> Fraction:
    """Read a number exactly as written.

    Floats go through ``repr`` (the shortest decimal that round-trips), so the
    float 0.1 becomes 1/10, not 3602879701896397/36028797018963968. Booleans
    are refused although Python treats them as ints: ``epsilon: true`` in a
    config file is a mistake, not 1.
    """
    if isinstance(x, bool):
        raise InvalidParameter(f"expected a number, got the boolean {x!r}")
    if isinstance(x, Fraction):
        return x
    if isinstance(x, int):
        return Fraction(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            raise InvalidParameter(f"expected a finite number, got {x!r}")
        return Fraction(Decimal(repr(x)))
    if isinstance(x, Decimal):
        if not x.is_finite():
            raise InvalidParameter(f"expected a finite number, got {x!r}")
        return Fraction(x)
    if isinstance(x, Rational):
        return Fraction(int(x.numerator), int(x.denominator))
    if isinstance(x, str):
        text = x.strip()
        try:
            if "/" in text:
                return Fraction(text)
            d = Decimal(text)
        except (InvalidOperation, ValueError, ZeroDivisionError):
            raise InvalidParameter(f"expected a number, got the text {x!r}") from None
        if not d.is_finite():
            raise InvalidParameter(f"expected a finite number, got {x!r}")
        return Fraction(d)
    raise InvalidParameter(f"expected a number, got {type(x).__name__} {x!r}")


def format_fraction(x: Fraction) -> str:
    """Exact text for a Fraction: a terminating decimal when there is one, else ``n/d``.

    Used wherever amounts are stored or hashed, so the text parses back with
    :func:`to_fraction` to the same value.
    """
    d = x.denominator
    twos = fives = 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    if d != 1:
        return f"{x.numerator}/{x.denominator}"
    digits = max(twos, fives)
    # x * 10**digits is an integer because the denominator is 2**twos * 5**fives.
    # Built from integer digits: Decimal arithmetic would round to 28 digits.
    scaled = int(x * 10**digits)
    sign, digits_text = ("-" if scaled < 0 else ""), str(abs(scaled)).rjust(digits + 1, "0")
    if digits == 0:
        return sign + digits_text
    return f"{sign}{digits_text[:-digits]}.{digits_text[-digits:]}"


@dataclass(frozen=True)
class Budget:
    """An (ε, δ) pair held exactly: a grant, an amount spent or what remains."""

    epsilon: Fraction
    delta: Fraction

    def __post_init__(self) -> None:
        if not isinstance(self.epsilon, Fraction) or not isinstance(self.delta, Fraction):
            raise InvalidParameter(
                f"Budget needs Fractions; use Budget.of({self.epsilon!r}, {self.delta!r})"
            )
        if self.epsilon < 0:
            raise InvalidParameter(f"epsilon must be >= 0, got {format_fraction(self.epsilon)}")
        if not 0 <= self.delta < 1:
            raise InvalidParameter(f"delta must be in [0, 1), got {format_fraction(self.delta)}")

    @classmethod
    def of(cls, epsilon: object, delta: object = 0) -> Budget:
        """Build a budget from numbers as written (see :func:`to_fraction`)."""
        return cls(to_fraction(epsilon), to_fraction(delta))

    @classmethod
    def zero(cls) -> Budget:
        return cls(Fraction(0), Fraction(0))


def validate_query_parameters(
    epsilon: object, delta: object, *, max_epsilon: object, max_delta: object
) -> tuple[Fraction, Fraction]:
    """Check the (ε, δ) one query asks for, before anything else happens.

    ε must be positive (ε = 0 would mean infinite noise, not a free query) and
    at most the deployment's per-query cap; δ must be in [0, 1) and at most its
    cap. Messages name the value and the cap so the analyst can fix the request.
    """
    eps = _read("epsilon", epsilon)
    dlt = _read("delta", delta)
    eps_cap = to_fraction(max_epsilon)
    dlt_cap = to_fraction(max_delta)
    if eps <= 0:
        raise InvalidParameter(f"epsilon must be > 0, got {format_fraction(eps)}")
    if eps > eps_cap:
        raise InvalidParameter(
            f"epsilon {format_fraction(eps)} is above the per-query cap "
            f"max_query_epsilon = {format_fraction(eps_cap)}; ask for at most that"
        )
    if not 0 <= dlt < 1:
        raise InvalidParameter(f"delta must be in [0, 1), got {format_fraction(dlt)}")
    if dlt > dlt_cap:
        raise InvalidParameter(
            f"delta {format_fraction(dlt)} is above the per-query cap "
            f"max_query_delta = {format_fraction(dlt_cap)}; ask for at most that"
        )
    return eps, dlt


def _read(name: str, value: object) -> Fraction:
    if isinstance(value, str):
        raise InvalidParameter(f"{name} must be a number, not the text {value!r}")
    try:
        return to_fraction(value)
    except InvalidParameter as exc:
        raise InvalidParameter(f"{name}: {exc.message}") from None
