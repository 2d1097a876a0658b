"""Exact reading of budgets and per-query parameters."""

from decimal import Decimal
from fractions import Fraction

import pytest

from accountant import (
    Budget,
    InvalidParameter,
    format_fraction,
    to_fraction,
    validate_query_parameters,
)


@pytest.mark.parametrize(
    ("written", "exact"),
    [
        (0.1, Fraction(1, 10)),
        (1e-7, Fraction(1, 10**7)),
        ("0.1", Fraction(1, 10)),
        ("1/3", Fraction(1, 3)),
        (Decimal("2.5"), Fraction(5, 2)),
        (3, Fraction(3)),
        (Fraction(2, 7), Fraction(2, 7)),
    ],
)
def test_to_fraction_reads_numbers_as_written(written, exact):
    assert to_fraction(written) == exact


@pytest.mark.parametrize(
    "bad",
    [True, float("nan"), float("inf"), -float("inf"), "abc", None, [1], "nan", Decimal("Infinity")],
)
def test_to_fraction_refuses_non_numbers_naming_the_value(bad):
    with pytest.raises(InvalidParameter) as info:
        to_fraction(bad)
    assert info.value.code == "invalid_parameter"
    assert repr(bad) in info.value.message or str(bad) in info.value.message


@pytest.mark.parametrize(
    "x",
    [
        Fraction(1, 10),
        Fraction(1, 3),
        Fraction(0),
        Fraction(123456, 1),
        Fraction(1, 10**7),
        Fraction(-5, 4),
        Fraction(10**40 + 1, 10**40),
    ],
)
def test_format_fraction_round_trips(x):
    assert to_fraction(format_fraction(x)) == x


def test_format_fraction_prefers_decimals():
    assert format_fraction(Fraction(1, 10)) == "0.1"
    assert format_fraction(Fraction(1, 3)) == "1/3"


def test_budget_checks_its_values():
    assert Budget.of(0.1, 1e-6) == Budget(Fraction(1, 10), Fraction(1, 10**6))
    with pytest.raises(InvalidParameter, match="epsilon must be >= 0, got -1"):
        Budget.of(-1, 0)
    with pytest.raises(InvalidParameter, match=r"delta must be in \[0, 1\), got 1"):
        Budget.of(1, 1)
    with pytest.raises(InvalidParameter, match="Budget.of"):
        Budget(0.5, 0)  # type: ignore[arg-type]


def test_ten_tenths_make_one():
    total = sum((Budget.of(0.1, 0).epsilon for _ in range(10)), Fraction(0))
    assert total == Budget.of(1.0, 0).epsilon


CAPS = {"max_epsilon": 1.0, "max_delta": 1e-6}


def test_valid_query_parameters_are_exact():
    assert validate_query_parameters(0.5, 1e-7, **CAPS) == (Fraction(1, 2), Fraction(1, 10**7))
    assert validate_query_parameters(1.0, 1e-6, **CAPS) == (Fraction(1), Fraction(1, 10**6))


@pytest.mark.parametrize(
    ("epsilon", "delta", "fragment"),
    [
        (0, 0, "epsilon must be > 0"),
        (-0.5, 0, "epsilon must be > 0"),
        (float("nan"), 0, "finite"),
        (float("inf"), 0, "finite"),
        ("0.5", 0, "not the text"),
        (1.5, 0, "max_query_epsilon = 1"),
        (0.5, -1e-9, "delta must be in [0, 1)"),
        (0.5, 1, "delta must be in [0, 1)"),
        (0.5, 1e-5, "max_query_delta = 0.000001"),
        (True, 0, "boolean"),
    ],
)
def test_invalid_query_parameters(epsilon, delta, fragment):
    with pytest.raises(InvalidParameter) as info:
        validate_query_parameters(epsilon, delta, **CAPS)
    assert fragment in info.value.message
