"""Row expressions: the allow-listed scalar SQL that may run on private rows
(inside WHERE, GROUP BY and aggregates), compiled node by node into SQL that is
*total*: it cannot raise on either engine for any value the input columns' SQL
types can hold (NULL, NaN, ±Infinity, −0.0, denormals, integer extremes,
infinite dates, years outside 1–9999, any string). A query whose status depends
on one person's values leaks that value at any ε (SPEC §4.7), so totality is
part of the privacy guarantee, not a nicety.

Each allowed node class has exactly one compiler (row_scalars.py, row_casts.py,
row_predicates.py), registered in `typed.SCALAR` or `typed.PREDICATE` with the
argument why its SQL cannot fail; `ROW_NODES` is read from those tables, so the
allow-list and the compilers cannot drift. The invariants the arguments rely on:

* **Bounded values are guaranteed.** A numeric `Typed` with bounds and no
  `raw_column` holds, on every row, NULL or a finite value within
  [lower, upper]: raw columns are clamped (`clamp`) before they are used as
  values, and every compiler derives sound bounds by interval arithmetic,
  refusing any result that could exceed 1e100 in magnitude.
* **Arithmetic is DOUBLE.** Operands are cast to DOUBLE, so no integer width
  can overflow, and within ±1e100 no DOUBLE can overflow either.
* **Nothing is tiny but zero.** Products and quotients are snapped to a 2⁻⁴⁰
  grid and denominators are snapped then NULLIF'd, so PostgreSQL's float
  underflow error cannot trigger and division by zero (or by a value that
  rounds to it) gives NULL.
* **Constants are typed by dpsql.** Non-integer numbers become DOUBLE, dates and
  timestamps are re-emitted from their parsed value as typed constants, LIKE
  patterns get an explicit escape character, so no engine parses or converts an
  analyst's constant differently from dpsql.

The derived interval is later used as the clamp of the aggregate's argument, so
sensitivity follows from the clamp even if an interval were loose.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

# importing the compiler modules registers them in typed.SCALAR and typed.PREDICATE
from . import row_casts, row_predicates, row_scalars  # noqa: F401
from .row_casts import coerce_constants, temporal_constant
from .typed import (
    ALLOWED_ROW_FUNCTIONS,
    MAX_DEPTH,
    MAX_MAGNITUDE,
    PREDICATE,
    SCALAR,
    ExprError,
    Resolve,
    Typed,
    clamp,
    double,
    short,
    snap,
)

__all__ = ["ALLOWED_ROW_FUNCTIONS", "ROW_NODES", "ExprError", "RowExpressions", "Typed", "clamp",
           "double", "snap"]


class RowExpressions:
    """Check and compile expressions over one query's columns."""

    def __init__(self, resolve: Resolve,
                 tree_of: Callable[[exp.Column], exp.Column] | None = None,
                 implicit_bound: float | None = None) -> None:
        self.resolve = resolve
        self.tree_of = tree_of
        # WHERE and GROUP BY (#26): a number without declared bounds takes part in
        # arithmetic clamped to ±implicit_bound. No sensitivity reads these bounds
        # (a filter or a key adds nothing to a sum), they only keep the arithmetic
        # total; aggregate arguments never get them, so SUM(n * 2) of an unbounded
        # n stays refused.
        self.implicit_bound = implicit_bound

    def as_number(self, typed: Typed, node: exp.Expr, what: str) -> Typed:
        """`typed` (compiled from `node`) as a value usable in arithmetic: clamped,
        bounded, total; refused when it is not a bounded number."""
        if typed.type == "null":
            return Typed(exp.Null(), "float", 0.0, 0.0)
        if not typed.numeric:
            raise ExprError(f"{node.sql()} is {typed.type}, not a number; {what}", node)
        if not typed.bounded and self.implicit_bound is not None:
            b = self.implicit_bound
            return Typed(clamp(typed.tree, -b, b), typed.type, -b, b)
        if not typed.bounded:
            name = typed.raw_column or node.sql()
            raise ExprError(
                f"{name} has no declared bounds, so {what} could grow without limit; ask the "
                f"data owner to declare lower/upper for it, or clamp it on both sides with "
                f"constants: LEAST(GREATEST({name}, low), high)",
                node,
            )
        assert typed.lower is not None and typed.upper is not None
        if typed.raw_column is not None:
            if max(abs(typed.lower), abs(typed.upper)) > MAX_MAGNITUDE:
                # snapping multiplies by 2^40: a clamped 1e300 would overflow
                raise ExprError(
                    f"{typed.raw_column} is declared with bounds beyond ±1e100, more than "
                    f"dpsql computes safely; ask the data owner for tighter bounds",
                    node,
                )
            return Typed(clamp(typed.tree, typed.lower, typed.upper), typed.type,
                         typed.lower, typed.upper)
        return typed

    def scalar(self, node: exp.Expr, depth: int = 0) -> Typed:
        if depth > MAX_DEPTH:
            raise ExprError("the expression nests too deeply; simplify it", node)
        compile_ = SCALAR.get(type(node))
        if compile_ is not None:
            return compile_(self, node, depth + 1)
        if type(node) in PREDICATE and type(node) not in (exp.Column, exp.Paren):
            return Typed(self.predicate(node, depth), "boolean")
        raise ExprError(
            f"{short(node)} is not allowed in an expression over private rows; allowed: "
            f"{ALLOWED_ROW_FUNCTIONS}",
            node,
        )

    def predicate(self, node: exp.Expr, depth: int = 0) -> exp.Expr:
        """A boolean condition, compiled."""
        if depth > MAX_DEPTH:
            raise ExprError("the condition nests too deeply; simplify it", node)
        compile_ = PREDICATE.get(type(node))
        if compile_ is not None:
            return compile_(self, node, depth + 1)
        if isinstance(node, (exp.Select, exp.Subquery, exp.Exists)):
            raise ExprError(
                f"{short(node)}: subqueries over private data are not allowed here; filter "
                "with constants",
                node,
            )
        raise ExprError(
            f"{short(node)} is not allowed here; filter with comparisons, IN, BETWEEN, LIKE, "
            f"IS NULL, AND/OR/NOT over expressions built from {ALLOWED_ROW_FUNCTIONS}",
            node,
        )

    def values(self, node: exp.Expr, parts: list[Typed]) -> list[Typed]:
        """Operands compared or chosen between, made one type: numbers of mixed width
        become DOUBLE, text constants beside a date or timestamp become that type's
        constant (re-emitted from the parsed value), anything else mismatched is
        refused (its cast could fail on some rows)."""
        parts = coerce_constants(parts, node)
        kinds = {("number" if p.numeric else p.type) for p in parts if p.type != "null"}
        temporal = kinds & {"date", "timestamp"}
        if len(kinds) > 1 and not (len(temporal) == 1 and kinds - temporal <= {"text"}):
            raise ExprError(
                f"{short(node)}: one operand does not match the type of the other "
                f"({' and '.join(sorted(kinds))}); comparing them needs a cast that could fail "
                "on some rows. Compare values of one type (dates as 'YYYY-MM-DD')",
                node,
            )
        if temporal and "text" in kinds:
            target = temporal.pop()
            return [temporal_constant(p, target, node) if p.type == "text" else p
                    for p in parts]
        return parts


# -- leaves ------------------------------------------------------------------


# -- arithmetic ----------------------------------------------------------------


# -- choices ---------------------------------------------------------------------


# -- conversions -----------------------------------------------------------------


# -- predicates ------------------------------------------------------------------


# Every node class RowExpressions accepts, read from the compilers themselves;
# tests/rewriter/test_allowed_nodes.py demands a fixture for each.
ROW_NODES: tuple[type[exp.Expr], ...] = tuple(dict.fromkeys([*SCALAR, *PREDICATE]))
