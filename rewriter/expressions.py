"""Row expressions: the allow-listed scalar SQL that may run on private rows
(inside WHERE, GROUP BY and aggregates), compiled node by node into SQL that is
*total*: it cannot raise on either engine for any value the input columns' SQL
types can hold (NULL, NaN, ±Infinity, −0.0, denormals, integer extremes,
infinite dates, years outside 1–9999, any string). A query whose status depends
on one person's values leaks that value at any ε (SPEC §4.7), so totality is
part of the privacy guarantee, not a nicety.

Each allowed node class has exactly one compiler, registered in `_SCALAR` or
`_PREDICATE` below with the argument why its SQL cannot fail; `ROW_NODES` is
read from those tables, so the allow-list and the compilers cannot drift. The
invariants the arguments rely on:

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

import datetime as dt
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

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
_DATE_PARTS = {
    "YEAR": (1.0, 9999.0), "QUARTER": (1.0, 4.0), "MONTH": (1.0, 12.0), "DAY": (1.0, 31.0),
    "DOW": (0.0, 6.0), "DOY": (1.0, 366.0), "HOUR": (0.0, 23.0), "MINUTE": (0.0, 59.0),
    "WEEK": (1.0, 53.0),
}
_DATE_FUNCS: dict[type[exp.Expr], str] = {
    exp.Year: "YEAR", exp.Month: "MONTH", exp.Day: "DAY", exp.Quarter: "QUARTER",
    exp.DayOfWeek: "DOW", exp.DayOfYear: "DOY", exp.Week: "WEEK",
}
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
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


def _num(value: float) -> exp.Expr:
    literal = exp.Literal.number(repr(float(abs(value))))
    return exp.Neg(this=literal) if value < 0 else literal


def double(tree: exp.Expr) -> exp.Expr:
    return exp.cast(tree, exp.DataType.build("DOUBLE"))


def snap(tree: exp.Expr) -> exp.Expr:
    """ROUND(x * 2^40) / 2^40: no non-zero value smaller than 2^-40 survives."""
    return exp.Div(
        this=exp.Round(this=exp.Mul(this=exp.Paren(this=tree), expression=_num(SNAP))),
        expression=_num(SNAP),
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
        this=exp.Greatest(this=double(tree), expressions=[_num(lower)], ignore_nulls=True),
        expressions=[_num(upper)], ignore_nulls=True,
    )
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=tree.copy(), expression=exp.Null()), true=exp.Null())],
        default=snap(bounded),
    )


def _hull(*parts: Typed) -> tuple[float | None, float | None]:
    if any(not p.bounded for p in parts if p.type != "null"):
        return None, None
    bounded = [p for p in parts if p.type != "null"]
    if not bounded:
        return None, None
    return min(p.lower for p in bounded), max(p.upper for p in bounded)  # type: ignore[type-var]


def _integer_if_exact(lo: float, hi: float) -> str:
    return "integer" if max(abs(lo), abs(hi)) < MAX_EXACT_INTEGER else "float"


def _short(node: exp.Expr) -> str:
    text = node.sql()
    return text if len(text) < 80 else type(node).__name__.upper()


# The compilers, by node class. Each takes (rows, node, depth) and states why the
# SQL it emits cannot raise.
Compiler = Callable[["RowExpressions", exp.Expr, int], Typed]
PredicateCompiler = Callable[["RowExpressions", exp.Expr, int], exp.Expr]
_SCALAR: dict[type[exp.Expr], Compiler] = {}
_PREDICATE: dict[type[exp.Expr], PredicateCompiler] = {}


def _scalar(*classes: type[exp.Expr]) -> Callable[[Compiler], Compiler]:
    def register(fn: Compiler) -> Compiler:
        for cls in classes:
            _SCALAR[cls] = fn
        return fn
    return register


def _predicate(*classes: type[exp.Expr]) -> Callable[[PredicateCompiler],
                                                            PredicateCompiler]:
    def register(fn: PredicateCompiler) -> PredicateCompiler:
        for cls in classes:
            _PREDICATE[cls] = fn
        return fn
    return register


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
        compile_ = _SCALAR.get(type(node))
        if compile_ is not None:
            return compile_(self, node, depth + 1)
        if type(node) in _PREDICATE and type(node) not in (exp.Column, exp.Paren):
            return Typed(self.predicate(node, depth), "boolean")
        raise ExprError(
            f"{_short(node)} is not allowed in an expression over private rows; allowed: "
            f"{ALLOWED_ROW_FUNCTIONS}",
            node,
        )

    def predicate(self, node: exp.Expr, depth: int = 0) -> exp.Expr:
        """A boolean condition, compiled."""
        if depth > MAX_DEPTH:
            raise ExprError("the condition nests too deeply; simplify it", node)
        compile_ = _PREDICATE.get(type(node))
        if compile_ is not None:
            return compile_(self, node, depth + 1)
        if isinstance(node, (exp.Select, exp.Subquery, exp.Exists)):
            raise ExprError(
                f"{_short(node)}: subqueries over private data are not allowed here; filter "
                "with constants",
                node,
            )
        raise ExprError(
            f"{_short(node)} is not allowed here; filter with comparisons, IN, BETWEEN, LIKE, "
            f"IS NULL, AND/OR/NOT over expressions built from {ALLOWED_ROW_FUNCTIONS}",
            node,
        )

    def values(self, node: exp.Expr, parts: list[Typed]) -> list[Typed]:
        """Operands compared or chosen between, made one type: numbers of mixed width
        become DOUBLE, text constants beside a date or timestamp become that type's
        constant (re-emitted from the parsed value), anything else mismatched is
        refused (its cast could fail on some rows)."""
        parts = _coerce_constants(parts, node)
        kinds = {("number" if p.numeric else p.type) for p in parts if p.type != "null"}
        temporal = kinds & {"date", "timestamp"}
        if len(kinds) > 1 and not (len(temporal) == 1 and kinds - temporal <= {"text"}):
            raise ExprError(
                f"{_short(node)}: one operand does not match the type of the other "
                f"({' and '.join(sorted(kinds))}); comparing them needs a cast that could fail "
                "on some rows. Compare values of one type (dates as 'YYYY-MM-DD')",
                node,
            )
        if temporal and "text" in kinds:
            target = temporal.pop()
            return [_temporal_constant(p, target, node) if p.type == "text" else p
                    for p in parts]
        return parts


def _kind(part: Typed) -> str:
    return "number" if part.numeric else part.type


def _constant(part: Typed) -> str | None:
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


def _coerce_constants(parts: list[Typed], node: exp.Expr) -> list[Typed]:
    """Constants written in another type than what they meet, read as that type.

    `int_col = '8'`, `int_col = TRUE`, `text_col IN (2, 3)`, `bool_col = 1`: the
    constant is converted here, at plan time, from its text; the column is never
    cast, so no row can make the comparison fail (SPEC §4.7), and the result is
    what either engine gives when the conversion succeeds. A constant that does
    not read as the other type is refused with the value named.
    """
    others = {_kind(p) for p in parts if p.type != "null" and _constant(p) is None}
    if len(others) != 1:
        return parts
    target = others.pop()
    if target not in ("number", "text", "boolean"):
        return parts
    out: list[Typed] = []
    for part in parts:
        kind = _constant(part)
        if kind is None or kind == target or part.type == "null":
            out.append(part)
            continue
        tree = part.tree
        if target == "number" and kind == "text":
            text = tree.this.strip() if isinstance(tree, exp.Literal) else ""
            try:
                value = float(text)
            except ValueError:
                raise ExprError(f"{_short(node)}: {tree.sql()} is not a number, and it is "
                                "compared with one; write a number", node) from None
            if not math.isfinite(value) or "n" in text.lower():  # nan, inf, infinity
                raise ExprError(f"{_short(node)}: {tree.sql()} is not a finite number; write "
                                "a number", node)
            magnitude = _literal(None, exp.Literal(this=text.lstrip("+-"), is_string=False),  # type: ignore[arg-type]
                                 0)
            out.append(magnitude if not text.startswith("-") else Typed(
                exp.Neg(this=magnitude.tree), magnitude.type, -value, -value))
        elif target == "number" and kind == "boolean":
            value = 1 if tree.this else 0
            out.append(Typed(exp.Literal.number(str(value)), "integer", value, value))
        elif target == "boolean" and kind in ("number", "text"):
            word = str(part.lower) if kind == "number" else tree.this.strip().lower()
            truth = {"1.0": True, "0.0": False, "true": True, "false": False, "t": True,
                     "f": False, "1": True, "0": False}.get(word)
            if truth is None:
                raise ExprError(f"{_short(node)}: a boolean is compared with {tree.sql()}; "
                                "write TRUE or FALSE", node)
            out.append(Typed(exp.Boolean(this=truth), "boolean"))
        elif target == "text" and kind == "number":
            assert part.lower is not None
            value = part.lower
            text = str(int(value)) if part.type == "integer" else repr(value)
            out.append(Typed(exp.Literal.string(text), "text"))
        else:
            out.append(part)
    return out


def _temporal_constant(part: Typed, target: str, node: exp.Expr) -> Typed:
    """A text constant compared with a date or timestamp, as a typed constant.

    Safe: the value is parsed here and re-emitted in the one ISO form both engines
    read (years 1–9999), so the engine never converts the analyst's text.
    """
    if not isinstance(part.tree, exp.Literal):
        raise ExprError(f"{_short(node)}: compare a {target} with a {target} constant", node)
    text = part.tree.this.strip()
    try:
        if target == "date":
            if len(text) != 10:
                raise ValueError(text)
            canonical = dt.date.fromisoformat(text).isoformat()
        else:
            moment = dt.datetime.fromisoformat(text)
            if moment.tzinfo is not None:
                raise ValueError(text)
            canonical = moment.isoformat(sep=" ")
    except ValueError:
        example = "'YYYY-MM-DD'" if target == "date" else "'YYYY-MM-DD HH:MM:SS'"
        raise ExprError(
            f"{_short(node)}: {part.tree.sql()} does not match the type of the {target}; "
            f"write {target}s as "
            f"{example}" + (" without a time zone" if target == "timestamp" else ""),
            node,
        ) from None
    return Typed(exp.cast(exp.Literal.string(canonical), exp.DataType.build(target.upper())),
                 target)


def _checked(tree: exp.Expr, type_: str, lo: float, hi: float,
             node: exp.Expr) -> Typed:
    if not (math.isfinite(lo) and math.isfinite(hi)) or max(abs(lo), abs(hi)) > MAX_MAGNITUDE:
        raise ExprError(
            f"{node.sql()} could reach ±{max(abs(lo), abs(hi)):.3g}, beyond what dpsql "
            "computes safely (1e100); use smaller constants or tighter bounds",
            node,
        )
    return Typed(tree, type_, lo, hi)


def _small_enough(tree: exp.Expr, node: exp.Expr) -> None:
    limit = MAX_COMPILED_NODES // 2
    if sum(1 for _ in itertools.islice(tree.walk(), limit + 1)) > limit:
        raise ExprError(
            f"{_short(node)}: the expression grows too large once made safe (nested date "
            "parts or clamps copy their argument); simplify it",
            node,
        )


# -- leaves ------------------------------------------------------------------


@_scalar(exp.Paren)
def _paren(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: parentheses compute nothing."""
    inner = rows.scalar(node.this, d)
    return Typed(exp.Paren(this=inner.tree), inner.type, inner.lower, inner.upper,
                 inner.raw_column)


@_scalar(exp.Column)
def _column(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: reading a column cannot fail. The value is raw (it may violate the
    declared bounds); `as_number` clamps it before any arithmetic or cast."""
    assert isinstance(node, exp.Column)
    name, column = rows.resolve(node)
    tree = rows.tree_of(node) if rows.tree_of else exp.column(name, quoted=True)
    if column.type in NUMERIC_TYPES and column.bounded:
        return Typed(tree, column.type, float(column.lower),  # type: ignore[arg-type]
                     float(column.upper), raw_column=name)  # type: ignore[arg-type]
    return Typed(tree, column.type, raw_column=name)


@_scalar(exp.Literal)
def _literal(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: a string constant is re-quoted by the generator and must hold no NUL
    and no lone surrogate (PostgreSQL and its driver refuse them); a number is
    range-checked here and emitted as an integer (|c| ≤ 1e15 fits every integer
    type it meets) or as a DOUBLE, never as a DECIMAL whose precision could fail
    to hold a stored value it meets."""
    if node.is_string:
        if "\x00" in node.this:
            raise ExprError(f"{_short(node)}: text constants cannot hold a NUL character", node)
        try:
            node.this.encode("utf-8")
        except UnicodeEncodeError:
            raise ExprError(f"{_short(node)}: the text constant is not valid Unicode", node) \
                from None
        return Typed(exp.Literal.string(node.this), "text")
    try:
        value = float(node.this)
    except ValueError:
        raise ExprError(f"{node.sql()} is not a number", node) from None
    if not math.isfinite(value) or abs(value) > MAX_LITERAL or (
        value != 0 and abs(value) < MIN_LITERAL
    ):
        raise ExprError(
            f"the constant {node.sql()} is outside what dpsql computes safely "
            f"(|c| ≤ {MAX_LITERAL:g} and 0 or ≥ {MIN_LITERAL:g})",
            node,
        )
    integer = value.is_integer() and "." not in node.this and "e" not in node.this.lower()
    if integer:
        return Typed(exp.Literal.number(str(int(value))), "integer", value, value)
    return Typed(double(_num(value)), "float", value, value)


@_scalar(exp.Boolean)
def _boolean(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: a constant."""
    return Typed(exp.Boolean(this=node.this), "boolean")


@_scalar(exp.Null)
def _null(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: a constant."""
    return Typed(exp.Null(), "null")


# -- arithmetic ----------------------------------------------------------------


@_scalar(exp.Neg)
def _neg(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: the operand is a bounded DOUBLE or a bounded integer, so −x fits."""
    inner = rows.scalar(node.this, d)
    if inner.type == "null":
        return inner
    n = rows.as_number(inner, node.this, "negating it")
    assert n.lower is not None and n.upper is not None
    return Typed(exp.Neg(this=n.tree), n.type, -n.upper, -n.lower)


@_scalar(exp.Add, exp.Sub, exp.Mul, exp.Div)
def _arith(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: both operands are bounded and cast to DOUBLE, the result's interval is
    refused beyond ±1e100 (no overflow); products and quotients are snapped and a
    denominator is snapped then NULLIF'd to 0 (no underflow, no division by zero).
    Sums of grid values and constants are never tiny but zero (≥ 2^-92), so a
    product of them cannot underflow before it is snapped."""
    ops: dict[type[exp.Expr], str] = {exp.Add: "adding", exp.Sub: "subtracting",
                                      exp.Mul: "multiplying", exp.Div: "dividing"}
    op = ops[type(node)]
    a = rows.as_number(rows.scalar(node.this, d), node.this, f"{op} it")
    b = rows.as_number(rows.scalar(node.expression, d), node.expression, f"{op} it")
    al, au, bl, bu = a.lower, a.upper, b.lower, b.upper
    assert al is not None and au is not None and bl is not None and bu is not None
    integer = a.type == b.type == "integer"
    tree: exp.Expr
    if isinstance(node, exp.Add):
        tree = exp.Add(this=double(a.tree), expression=double(b.tree))
        lo, hi = al + bl, au + bu
    elif isinstance(node, exp.Sub):
        tree = exp.Sub(this=double(a.tree), expression=double(b.tree))
        lo, hi = al - bu, au - bl
    elif isinstance(node, exp.Mul):
        products = [al * bl, al * bu, au * bl, au * bu]
        lo, hi = min(products), max(products)
        tree = snap(exp.Mul(this=double(a.tree), expression=double(b.tree)))
    else:
        integer = False
        if bl <= 0 <= bu:
            # |denominator| is at least one snap step when not NULL: huge but finite
            big = max(abs(al), abs(au)) * SNAP
            lo, hi = -big, big
            if bl == bu == 0:
                lo = hi = 0.0
        else:
            quotients = [al / bl, al / bu, au / bl, au / bu]
            lo, hi = min(quotients), max(quotients)
        denominator = exp.Nullif(this=snap(double(b.tree)), expression=_num(0.0))
        tree = snap(exp.Div(this=double(a.tree), expression=denominator))
    type_ = _integer_if_exact(lo, hi) if integer else "float"
    return _checked(exp.Paren(this=tree), type_, lo, hi, node)


@_scalar(exp.Abs, exp.Round, exp.Floor, exp.Ceil)
def _unary_fn(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: the operand is a bounded DOUBLE (or bounded integer for ABS); rounding
    and ABS of a finite bounded value are finite and bounded."""
    if isinstance(node, exp.Round) and node.args.get("decimals") is not None:
        raise ExprError(f"{node.sql()}: ROUND takes one argument here", node)
    name = type(node).__name__.upper()
    a = rows.as_number(rows.scalar(node.this, d), node.this, f"{name} of it")
    assert a.lower is not None and a.upper is not None
    if isinstance(node, exp.Abs):
        lo = 0.0 if a.lower <= 0 <= a.upper else min(abs(a.lower), abs(a.upper))
        return Typed(exp.Abs(this=a.tree), a.type, lo, max(abs(a.lower), abs(a.upper)))
    cls = type(node)
    rounding: dict[type[exp.Expr], Callable[[float], float]] = {
        exp.Round: round, exp.Floor: math.floor, exp.Ceil: math.ceil}
    fn = rounding[cls]
    return Typed(cls(this=double(a.tree)), a.type, float(fn(a.lower)), float(fn(a.upper)))


@_scalar(exp.Least, exp.Greatest)
def _extreme(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: every argument is a bounded number; both engines skip NULL arguments
    of LEAST/GREATEST, so the results agree, and choosing one cannot fail."""
    name = type(node).__name__.upper()
    clamped = _clamp_pattern(rows, node, d)
    if clamped is not None:
        return clamped
    args = [rows.as_number(rows.scalar(a, d), a, f"{name} of it")
            for a in [node.this, *node.expressions]]
    fn = min if isinstance(node, exp.Least) else max
    tree = type(node)(this=args[0].tree, expressions=[a.tree for a in args[1:]])
    integer = all(a.type == "integer" for a in args)
    return Typed(tree, "integer" if integer else "float",
                 fn(a.lower for a in args), fn(a.upper for a in args))  # type: ignore


def _constant_number(rows: RowExpressions, node: exp.Expr, d: int) -> float | None:
    typed = rows.scalar(node, d)
    if _constant(typed) == "number" and typed.lower is not None and typed.lower == typed.upper:
        return typed.lower
    return None


def _clamp_pattern(rows: RowExpressions, node: exp.Expr, d: int) -> Typed | None:
    """LEAST(GREATEST(x, lo), hi) or GREATEST(LEAST(x, hi), lo) with constant lo ≤ hi:
    the analyst's clamp, bounded to [lo, hi] whatever x is (x may be an unbounded
    number: the advice dpsql gives for one). Safe: compiled as `clamp`, in DOUBLE
    (NULL stays NULL, ±Infinity clamp to the ends, NaN to hi), so no row can fail
    and every row lies in [lo, hi]."""
    outer_other = node.expressions
    inner = node.this
    while isinstance(inner, exp.Paren):
        inner = inner.this
    pair = (exp.Least, exp.Greatest) if isinstance(node, exp.Least) else \
        (exp.Greatest, exp.Least)
    if len(outer_other) != 1 or not isinstance(inner, pair[1]) or len(inner.expressions) != 1:
        return None
    outer_c = _constant_number(rows, outer_other[0], d)
    inner_c = _constant_number(rows, inner.expressions[0], d)
    if outer_c is None or inner_c is None:
        return None
    lo, hi = (inner_c, outer_c) if isinstance(node, exp.Least) else (outer_c, inner_c)
    if lo > hi:
        return None  # a constant, by the usual rules
    x = rows.scalar(inner.this, d)
    if not x.numeric or x.bounded:
        return None  # a bounded x: interval arithmetic intersects [lo, hi] with its bounds
    whole = x.type == "integer" and float(lo).is_integer() and float(hi).is_integer()
    return _checked(clamp(x.tree, lo, hi), "integer" if whole else "float", lo, hi, node)


# -- choices ---------------------------------------------------------------------


def _same_type(rows: RowExpressions, node: exp.Expr, args: list[Typed],
               build: Callable[[list[exp.Expr]], exp.Expr]) -> Typed:
    """Branches of one type: numbers clamped and DOUBLE (one width, no conversion
    of a value at run time), temporal constants typed, others as they are."""
    kinds = {("number" if a.numeric else a.type) for a in args if a.type != "null"}
    temporal = kinds & {"date", "timestamp"}
    if len(kinds) > 1 and not (len(temporal) == 1 and kinds - temporal <= {"text"}):
        raise ExprError(f"{_short(node)}: the branches have different types "
                        f"({', '.join(sorted(kinds))}); make them one type", node)
    if temporal and "text" in kinds:
        args = rows.values(node, args)  # text constants become typed temporal constants
    kind = temporal.pop() if temporal else (kinds.pop() if kinds else "null")
    if kind == "number":
        args = [rows.as_number(a, node, "choosing it here") if a.type != "null" else a
                for a in args]
        trees = [double(a.tree) if a.type != "null" else a.tree for a in args]
        lo, hi = _hull(*args)
        integer = all(a.type in ("integer", "null") for a in args)
        return Typed(build(trees), "integer" if integer else "float", lo, hi)
    first = next((a.type for a in args if a.type != "null"), "null")
    return Typed(build([a.tree for a in args]), first)


@_scalar(exp.Case, exp.If)
def _case(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: conditions are total predicates and branches total values of one type;
    without ELSE the result is NULL, which the branches' bounds still cover."""
    if isinstance(node, exp.If):
        conditions = [(node.this, node.args.get("true"))]
        default = node.args.get("false")
    else:
        if node.this is not None:
            raise ExprError("CASE x WHEN … : write CASE WHEN x = … THEN … instead", node)
        conditions = [(i.this, i.args.get("true")) for i in node.args.get("ifs", [])]
        default = node.args.get("default")
    preds = [rows.predicate(c, d) for c, _ in conditions]
    branches = [rows.scalar(t, d) if t is not None else Typed(exp.Null(), "null")
                for _, t in conditions]
    branches.append(rows.scalar(default, d) if default is not None
                    else Typed(exp.Null(), "null"))

    def build(trees: list[exp.Expr]) -> exp.Expr:
        pairs = zip(preds, trees[:-1], strict=True)
        return exp.Case(ifs=[exp.If(this=p, true=t) for p, t in pairs], default=trees[-1])
    return _same_type(rows, node, branches, build)


@_scalar(exp.Coalesce)
def _coalesce(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: choosing the first non-NULL of values of one type cannot fail."""
    args = [rows.scalar(a, d) for a in [node.this, *node.expressions]]
    return _same_type(rows, node, args, lambda ts: exp.Coalesce(this=ts[0], expressions=ts[1:]))


@_scalar(exp.Nullif)
def _nullif(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: NULLIF compares two values of one type (bounded numbers clamped first:
    the value it passes through must honour its bounds like any other value)."""
    a, b = rows.values(node, [rows.scalar(node.this, d), rows.scalar(node.expression, d)])
    if a.numeric and a.bounded:
        a = rows.as_number(a, node.this, "using it in NULLIF")
    if b.numeric and b.bounded:
        b = rows.as_number(b, node.expression, "using it in NULLIF")
    lo, hi = (a.lower, a.upper) if a.raw_column is None else (None, None)
    return Typed(exp.Nullif(this=a.tree, expression=b.tree), a.type, lo, hi)


# -- conversions -----------------------------------------------------------------


@_scalar(exp.Cast, exp.TryCast)
def _cast(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: only conversions that hold for every value are emitted: numbers to
    DOUBLE; bounded numbers (clamped) to INTEGER when the bounds fit 32 bits;
    integers, text, booleans and dates to VARCHAR; dates and timestamps to DATE.
    TRY_CAST compiles like CAST: these casts never fail."""
    to = node.args["to"]
    inner = rows.scalar(node.this, d)
    target = to.this
    T = exp.DataType.Type
    if target in (T.DOUBLE, T.FLOAT, T.DECIMAL) and not to.expressions and inner.numeric:
        if not inner.bounded:
            return Typed(double(inner.tree), "float")
        n = rows.as_number(inner, node.this, "casting it")
        return Typed(double(n.tree), "float", n.lower, n.upper)
    if target in (T.INT, T.BIGINT, T.SMALLINT) and inner.numeric and inner.bounded:
        n = rows.as_number(inner, node.this, "casting it to an integer")
        assert n.lower is not None and n.upper is not None
        if max(abs(n.lower), abs(n.upper)) < 2**31 - 1:
            return Typed(exp.cast(exp.Round(this=double(n.tree)), exp.DataType.build("INT")),
                         "integer", float(round(n.lower)), float(round(n.upper)))
    if target in (T.VARCHAR, T.TEXT) and not to.expressions:
        if inner.type == "integer" and inner.raw_column is None and inner.bounded and max(
                abs(inner.lower), abs(inner.upper)) < MAX_EXACT_INTEGER:  # type: ignore[arg-type]
            # a computed integer is a DOUBLE holding a whole number: print it as one
            whole = exp.cast(exp.Round(this=double(inner.tree)), exp.DataType.build("BIGINT"))
            return Typed(exp.cast(whole, exp.DataType.build("VARCHAR")), "text")
        if inner.type in ("integer", "text", "boolean", "date"):
            return Typed(exp.cast(inner.tree, exp.DataType.build("VARCHAR")), "text")
    if target in (T.DATE, T.TIMESTAMP) and not to.expressions and inner.type == "text" \
            and isinstance(inner.tree, exp.Literal):
        # DATE '2020-01-01', CAST('2020-01-01' AS DATE): a constant, parsed here and
        # re-emitted in ISO form (or refused), so the engine never converts text
        return _temporal_constant(inner, "date" if target == T.DATE else "timestamp", node)
    if target == T.DATE and inner.type in ("date", "timestamp"):
        return Typed(exp.cast(inner.tree, exp.DataType.build("DATE")), "date")
    raise ExprError(
        f"{node.sql()}: this cast could fail on some rows (an error that depends on the "
        "data); cast numbers to DOUBLE or INTEGER (when bounded), integers, booleans and "
        "dates to VARCHAR, timestamps to DATE",
        node,
    )


@_scalar(exp.Extract, *_DATE_FUNCS)
def _date_part(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: EXTRACT of an infinite date is NULL (DuckDB) or ±Infinity (PostgreSQL),
    and years beyond 9999 or before 1 exist in both engines; the part is read as
    DOUBLE (which holds all of these), clamped to its range (years to 1–9999,
    infinity to the nearest end) and only then cast to INT."""
    if isinstance(node, exp.Extract):
        part = node.this.name.upper() if isinstance(node.this, (exp.Var, exp.Identifier)) \
            else ""
        source = node.expression
    else:
        part, source = _DATE_FUNCS[type(node)], node.this
    if part not in _DATE_PARTS:
        raise ExprError(f"{node.sql()}: EXTRACT takes one of {', '.join(_DATE_PARTS)}", node)
    inner = rows.scalar(source, d)
    if inner.type not in ("date", "timestamp"):
        raise ExprError(f"{node.sql()}: {source.sql()} is {inner.type}, not a date", node)
    if part in ("HOUR", "MINUTE") and inner.type == "date":
        raise ExprError(f"{node.sql()}: a date has no {part.lower()}", node)
    _small_enough(inner.tree, node)
    lo, hi = _DATE_PARTS[part]
    extracted = double(exp.Extract(this=exp.var(part), expression=inner.tree))
    tree = exp.cast(clamp(extracted, lo, hi), exp.DataType.build("INT"))
    return Typed(tree, "integer", lo, hi)


# the units DATE_TRUNC takes, and the range both engines truncate without error
_TRUNC_UNITS = {"date": ("YEAR", "QUARTER", "MONTH", "WEEK", "DAY"),
                "timestamp": ("YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE")}
_TRUNC_RANGE = {"date": ("0001-01-01", "9999-12-31"),
                "timestamp": ("0001-01-01 00:00:00", "9999-12-31 23:59:59")}


@_scalar(exp.TimestampTrunc, exp.DateTrunc)
def _date_trunc(rows: RowExpressions, node: exp.Expr, d: int) -> Typed:
    """Safe: the argument is first clamped into years 1–9999 (infinities and dates
    beyond go to the nearest end, NULL stays NULL), where both engines truncate
    without error; PostgreSQL truncates a date as a timestamp, which fails past
    year 294276, so a stored far-future date must never reach it. The result is
    cast back to the argument's type, so DATE_TRUNC of a date is a date on every
    engine. The unit is a constant, checked here."""
    unit = node.args.get("unit")
    name = unit.name.upper() if isinstance(unit, (exp.Var, exp.Identifier, exp.Literal)) else ""
    inner = rows.scalar(node.this, d)
    if inner.type not in ("date", "timestamp"):
        raise ExprError(f"{node.sql()}: {node.this.sql()} is {inner.type}, not a date", node)
    if name not in _TRUNC_UNITS[inner.type]:
        raise ExprError(f"{node.sql()}: DATE_TRUNC of a {inner.type} takes one of "
                        f"{', '.join(repr(u.lower()) for u in _TRUNC_UNITS[inner.type])}",
                        node)
    _small_enough(inner.tree, node)
    kind = exp.DataType.build("DATE" if inner.type == "date" else "TIMESTAMP")
    low, high = (exp.cast(exp.Literal.string(v), kind.copy()) for v in _TRUNC_RANGE[inner.type])
    clamped = exp.Case(ifs=[exp.If(this=exp.Is(this=inner.tree.copy(), expression=exp.Null()),
                                   true=exp.Null())],
                       default=exp.Least(this=exp.Greatest(this=inner.tree, expressions=[low]),
                                         expressions=[high]))
    truncated = exp.TimestampTrunc(this=clamped, unit=exp.var(name))
    return Typed(exp.cast(truncated, kind), inner.type)


# -- predicates ------------------------------------------------------------------


@_predicate(exp.Paren)
def _paren_predicate(rows: RowExpressions, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: parentheses compute nothing."""
    return exp.Paren(this=rows.predicate(node.this, d))


@_predicate(exp.And, exp.Or)
def _connective(rows: RowExpressions, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: AND/OR of total predicates."""
    return type(node)(this=rows.predicate(node.this, d),
                      expression=rows.predicate(node.expression, d))


@_predicate(exp.Not)
def _not(rows: RowExpressions, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: NOT of a total predicate."""
    return exp.Not(this=rows.predicate(node.this, d))


@_predicate(exp.Boolean)
def _boolean_predicate(rows: RowExpressions, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: a constant."""
    return exp.Boolean(this=node.this)


@_predicate(*_COMPARISONS)
def _comparison(rows: RowExpressions, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: operands of one type (numbers of any width compare without conversion
    errors in both engines, NaN included; temporal constants are typed)."""
    a, b = rows.values(node, [rows.scalar(node.this, d), rows.scalar(node.expression, d)])
    return type(node)(this=a.tree, expression=b.tree)


@_predicate(exp.Is)
def _is(rows: RowExpressions, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: IS NULL holds or not for every value."""
    if not isinstance(node.expression, exp.Null):
        raise ExprError("IS takes NULL or NOT NULL here", node)
    return exp.Is(this=rows.scalar(node.this, d).tree, expression=exp.Null())


@_predicate(exp.In)
def _in(rows: RowExpressions, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: as for comparisons, against a list of values of the same type."""
    if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
        raise ExprError("IN (SELECT …) is not supported; list constants", node)
    parts = rows.values(node, [rows.scalar(node.this, d),
                               *(rows.scalar(e, d) for e in node.expressions)])
    return exp.In(this=parts[0].tree, expressions=[p.tree for p in parts[1:]])


@_predicate(exp.Between)
def _between(rows: RowExpressions, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: two comparisons of values of one type."""
    parts = rows.values(node, [rows.scalar(node.this, d), rows.scalar(node.args["low"], d),
                               rows.scalar(node.args["high"], d)])
    return exp.Between(this=parts[0].tree, low=parts[1].tree, high=parts[2].tree)


@_predicate(exp.Like, exp.ILike)
def _like(rows: RowExpressions, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: the pattern is a constant, read by dpsql's rule (`%` and `_` are
    wildcards, every other character stands for itself) and emitted with an
    explicit ESCAPE and its backslashes doubled, so neither engine meets an escape
    it could reject (PostgreSQL's default backslash escape raises on a trailing
    backslash only when a stored string matches up to it)."""
    a = rows.scalar(node.this, d)
    pattern = node.expression
    if a.type != "text":
        raise ExprError(f"{node.sql()}: LIKE applies to text columns", node)
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise ExprError(
            f"{_short(node)}: the pattern must be a text constant such as 'abc%'", node)
    rows.scalar(pattern, d)  # the constant's own checks
    if LIKE_ESCAPE not in pattern.this:
        # no escape to meet: both engines read the pattern alike, and DuckDB keeps
        # its fast prefix/contains filters (ESCAPE makes it a generic scan filter)
        return type(node)(this=a.tree, expression=exp.Literal.string(pattern.this))
    doubled = pattern.this.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
    return exp.Escape(this=type(node)(this=a.tree, expression=exp.Literal.string(doubled)),
                      expression=exp.Literal.string(LIKE_ESCAPE))


@_predicate(exp.Column)
def _column_predicate(rows: RowExpressions, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: a boolean column is a condition as it is."""
    typed = rows.scalar(node, d)
    if typed.type != "boolean":
        raise ExprError(
            f"WHERE {typed.raw_column}: a {typed.type} column is not a condition; "
            "compare it with a constant",
            node,
        )
    return typed.tree


@_predicate(exp.Case, exp.If, exp.Coalesce)
def _value_predicate(rows: RowExpressions, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: a total boolean value used as a condition."""
    typed = rows.scalar(node, d)
    if typed.type != "boolean":
        raise ExprError(f"{_short(node)} is not a condition", node)
    return typed.tree


# Every node class RowExpressions accepts, read from the compilers themselves;
# tests/rewriter/test_allowed_nodes.py demands a fixture for each.
ROW_NODES: tuple[type[exp.Expr], ...] = tuple(dict.fromkeys([*_SCALAR, *_PREDICATE]))
