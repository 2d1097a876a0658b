"""Compiled row values (`Typed`), the limits every compiler keeps, and the
helpers they share: clamping, snapping to the grid, interval hulls, and
constants typed by dpsql. See `expressions.py` for the invariants."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlglot import exp

from .metadata import NUMERIC_TYPES, Column

SNAP = 2.0**40


MAX_MAGNITUDE = 1e100


MAX_LITERAL = 1e15


MIN_LITERAL = 1e-12


MAX_DEPTH = 96  # tree levels; the nesting limit (rewriter.limits) refuses deeper text first


# A duplicating node (a clamp, a date part) copies its argument; this bounds what
# nesting them can make of one expression, so planning stays linear in the query.
MAX_COMPILED_NODES = 4_000


# integers typed "integer" stay exact in DOUBLE below this magnitude
MAX_EXACT_INTEGER = 2.0**53


# what a date part of a finite date may be (years outside 1–9999 are clamped)
DATE_PARTS = {
    "YEAR": (1.0, 9999.0), "QUARTER": (1.0, 4.0), "MONTH": (1.0, 12.0), "DAY": (1.0, 31.0),
    "DOW": (0.0, 6.0), "DOY": (1.0, 366.0), "HOUR": (0.0, 23.0), "MINUTE": (0.0, 59.0),
    "WEEK": (1.0, 53.0),
}


DATE_FUNCS: dict[type[exp.Expr], str] = {
    exp.Year: "YEAR", exp.Month: "MONTH", exp.Day: "DAY", exp.Quarter: "QUARTER",
    exp.DayOfWeek: "DOW", exp.DayOfYear: "DOY", exp.Week: "WEEK",
}


COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


LIKE_ESCAPE = "\\"


ALLOWED_ROW_FUNCTIONS = (
    "+ - * / (division by zero gives NULL), CASE, COALESCE, NULLIF, ABS, ROUND, FLOOR, CEIL, "
    "LEAST, GREATEST, CAST (to DOUBLE, INTEGER when bounded, VARCHAR, DATE), DATE_TRUNC, "
    "EXTRACT/YEAR/"
    "MONTH/DAY of dates, comparisons, IN, BETWEEN, LIKE, IS NULL, AND/OR/NOT"
)


class ExprError(Exception):
    """A row expression dpsql will not run; `node` is where the problem starts."""

    def __init__(self, message: str, node: exp.Expr) -> None:
        super().__init__(message)
        self.message = message
        self.node = node


@dataclass(frozen=True)
class Typed:
    """A compiled expression, its type class and, for numbers, its bounds.

    Bounds of a `Typed` without `raw_column` hold on every row (see the module
    docstring); a raw column's bounds are its declared ones, which stored values
    may violate until `RowExpressions.as_number` clamps it.
    """

    tree: exp.Expr
    type: str  # integer | float | text | boolean | date | timestamp | null
    lower: float | None = None
    upper: float | None = None
    raw_column: str | None = None  # set when the tree is a bare column reference

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    @property
    def bounded(self) -> bool:
        return self.lower is not None and self.upper is not None


Resolve = Callable[[exp.Column], tuple[str, Column]]


def num(value: float) -> exp.Expr:
    literal = exp.Literal.number(repr(float(abs(value))))
    return exp.Neg(this=literal) if value < 0 else literal


def double(tree: exp.Expr) -> exp.Expr:
    return exp.cast(tree, exp.DataType.build("DOUBLE"))


def snap(tree: exp.Expr) -> exp.Expr:
    """ROUND(x * 2^40) / 2^40: no non-zero value smaller than 2^-40 survives."""
    return exp.Div(
        this=exp.Round(this=exp.Mul(this=exp.Paren(this=tree), expression=num(SNAP))),
        expression=num(SNAP),
    )


def clamp(tree: exp.Expr, lower: float, upper: float) -> exp.Expr:
    """CASE WHEN x IS NULL THEN NULL ELSE snap(LEAST(GREATEST(x, lower), upper)) END.

    The explicit NULL branch matters: GREATEST/LEAST skip NULLs in PostgreSQL.
    Clamping comes before snapping (so ±1e308 cannot overflow), snapping before
    any product (so a denormal cannot underflow: PostgreSQL raises on both).
    NaN sorts above every number in both engines, so it clamps to `upper`;
    ±Infinity clamp to the bounds.
    """
    bounded = exp.Least(
        this=exp.Greatest(this=double(tree), expressions=[num(lower)], ignore_nulls=True),
        expressions=[num(upper)], ignore_nulls=True,
    )
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=tree.copy(), expression=exp.Null()), true=exp.Null())],
        default=snap(bounded),
    )


def hull(*parts: Typed) -> tuple[float | None, float | None]:
    if any(not p.bounded for p in parts if p.type != "null"):
        return None, None
    bounded = [p for p in parts if p.type != "null"]
    if not bounded:
        return None, None
    return min(p.lower for p in bounded), max(p.upper for p in bounded)  # type: ignore[type-var]


def integer_if_exact(lo: float, hi: float) -> str:
    return "integer" if max(abs(lo), abs(hi)) < MAX_EXACT_INTEGER else "float"


def short(node: exp.Expr) -> str:
    text = node.sql()
    return text if len(text) < 80 else type(node).__name__.upper()


def kind_of(part: Typed) -> str:
    return "number" if part.numeric else part.type


def constant_kind(part: Typed) -> str | None:
    """The kind of a constant operand (a literal as `_literal`/`_boolean` compile it)."""
    tree = part.tree
    if isinstance(tree, exp.Cast) and part.type == "float":
        tree = tree.this
    if isinstance(tree, exp.Neg):
        tree = tree.this
    if isinstance(tree, exp.Boolean):
        return "boolean"
    if isinstance(tree, exp.Literal) and part.raw_column is None:
        return "text" if tree.is_string else "number"
    return None


def checked(tree: exp.Expr, type_: str, lo: float, hi: float,
             node: exp.Expr) -> Typed:
    if not (math.isfinite(lo) and math.isfinite(hi)) or max(abs(lo), abs(hi)) > MAX_MAGNITUDE:
        raise ExprError(
            f"{node.sql()} could reach ±{max(abs(lo), abs(hi)):.3g}, beyond what dpsql "
            "computes safely (1e100); use smaller constants or tighter bounds",
            node,
        )
    return Typed(tree, type_, lo, hi)


def small_enough(tree: exp.Expr, node: exp.Expr) -> None:
    limit = MAX_COMPILED_NODES // 2
    if sum(1 for _ in itertools.islice(tree.walk(), limit + 1)) > limit:
        raise ExprError(
            f"{short(node)}: the expression grows too large once made safe (nested date "
            "parts or clamps copy their argument); simplify it",
            node,
        )


class Rows(Protocol):
    """What a compiler may ask of the expressions it is part of (`RowExpressions`)."""

    resolve: Resolve
    tree_of: Callable[[exp.Column], exp.Column] | None
    implicit_bound: float | None

    def scalar(self, node: exp.Expr, depth: int = 0) -> Typed: ...

    def predicate(self, node: exp.Expr, depth: int = 0) -> exp.Expr: ...

    def as_number(self, typed: Typed, node: exp.Expr, what: str) -> Typed: ...

    def values(self, node: exp.Expr, parts: list[Typed]) -> list[Typed]: ...


# The compilers, by node class (row_scalars.py, row_casts.py, row_predicates.py).
# The compilers, by node class. Each takes (rows, node, depth) and states why the
# SQL it emits cannot raise.
Compiler = Callable[["Rows", exp.Expr, int], Typed]


SCALAR: dict[type[exp.Expr], Compiler] = {}


def scalar_compiler(*classes: type[exp.Expr]) -> Callable[[Compiler], Compiler]:
    def register(fn: Compiler) -> Compiler:
        for cls in classes:
            SCALAR[cls] = fn
        return fn
    return register


PredicateCompiler = Callable[["Rows", exp.Expr, int], exp.Expr]


PREDICATE: dict[type[exp.Expr], PredicateCompiler] = {}


def predicate_compiler(*classes: type[exp.Expr]) -> Callable[[PredicateCompiler],
                                                            PredicateCompiler]:
    def register(fn: PredicateCompiler) -> PredicateCompiler:
        for cls in classes:
            PREDICATE[cls] = fn
        return fn
    return register

