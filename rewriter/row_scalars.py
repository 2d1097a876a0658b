"""The compilers of scalar row expressions, one per allowed node class, each with
the argument why the SQL it emits cannot raise (`expressions.py` states the
invariants they rely on)."""

from __future__ import annotations

import math
from collections.abc import Callable

from sqlglot import exp

from .metadata import NUMERIC_TYPES
from .typed import (
    MAX_LITERAL,
    MIN_LITERAL,
    SNAP,
    ExprError,
    Rows,
    Typed,
    checked,
    clamp,
    constant_kind,
    double,
    hull,
    integer_if_exact,
    num,
    scalar_compiler,
    short,
    snap,
)


@scalar_compiler(exp.Paren)
def _paren(rows: Rows, node: exp.Expr, d: int) -> Typed:
    """Safe: parentheses compute nothing."""
    inner = rows.scalar(node.this, d)
    return Typed(exp.Paren(this=inner.tree), inner.type, inner.lower, inner.upper,
                 inner.raw_column)


@scalar_compiler(exp.Column)
def _column(rows: Rows, node: exp.Expr, d: int) -> Typed:
    """Safe: reading a column cannot fail. The value is raw (it may violate the
    declared bounds); `as_number` clamps it before any arithmetic or cast."""
    assert isinstance(node, exp.Column)
    name, column = rows.resolve(node)
    tree = rows.tree_of(node) if rows.tree_of else exp.column(name, quoted=True)
    if column.type in NUMERIC_TYPES and column.bounded:
        return Typed(tree, column.type, float(column.lower),  # type: ignore[arg-type]
                     float(column.upper), raw_column=name)  # type: ignore[arg-type]
    return Typed(tree, column.type, raw_column=name)


@scalar_compiler(exp.Literal)
def literal(rows: Rows, node: exp.Expr, d: int) -> Typed:
    """Safe: a string constant is re-quoted by the generator and must hold no NUL
    and no lone surrogate (PostgreSQL and its driver refuse them); a number is
    range-checked here and emitted as an integer (|c| ≤ 1e15 fits every integer
    type it meets) or as a DOUBLE, never as a DECIMAL whose precision could fail
    to hold a stored value it meets."""
    if node.is_string:
        if "\x00" in node.this:
            raise ExprError(f"{short(node)}: text constants cannot hold a NUL character", node)
        try:
            node.this.encode("utf-8")
        except UnicodeEncodeError:
            raise ExprError(f"{short(node)}: the text constant is not valid Unicode", node) \
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
    return Typed(double(num(value)), "float", value, value)


@scalar_compiler(exp.Boolean)
def _boolean(rows: Rows, node: exp.Expr, d: int) -> Typed:
    """Safe: a constant."""
    return Typed(exp.Boolean(this=node.this), "boolean")


@scalar_compiler(exp.Null)
def _null(rows: Rows, node: exp.Expr, d: int) -> Typed:
    """Safe: a constant."""
    return Typed(exp.Null(), "null")


@scalar_compiler(exp.Neg)
def _neg(rows: Rows, node: exp.Expr, d: int) -> Typed:
    """Safe: the operand is a bounded DOUBLE or a bounded integer, so −x fits."""
    inner = rows.scalar(node.this, d)
    if inner.type == "null":
        return inner
    n = rows.as_number(inner, node.this, "negating it")
    assert n.lower is not None and n.upper is not None
    return Typed(exp.Neg(this=n.tree), n.type, -n.upper, -n.lower)


@scalar_compiler(exp.Add, exp.Sub, exp.Mul, exp.Div)
def _arith(rows: Rows, node: exp.Expr, d: int) -> Typed:
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
        denominator = exp.Nullif(this=snap(double(b.tree)), expression=num(0.0))
        tree = snap(exp.Div(this=double(a.tree), expression=denominator))
    type_ = integer_if_exact(lo, hi) if integer else "float"
    return checked(exp.Paren(this=tree), type_, lo, hi, node)


@scalar_compiler(exp.Abs, exp.Round, exp.Floor, exp.Ceil)
def _unary_fn(rows: Rows, node: exp.Expr, d: int) -> Typed:
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


@scalar_compiler(exp.Least, exp.Greatest)
def _extreme(rows: Rows, node: exp.Expr, d: int) -> Typed:
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


def _constant_number(rows: Rows, node: exp.Expr, d: int) -> float | None:
    typed = rows.scalar(node, d)
    if constant_kind(typed) == "number" and typed.lower is not None and typed.lower == typed.upper:
        return typed.lower
    return None


def _clamp_pattern(rows: Rows, node: exp.Expr, d: int) -> Typed | None:
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
    return checked(clamp(x.tree, lo, hi), "integer" if whole else "float", lo, hi, node)


def _same_type(rows: Rows, node: exp.Expr, args: list[Typed],
               build: Callable[[list[exp.Expr]], exp.Expr]) -> Typed:
    """Branches of one type: numbers clamped and DOUBLE (one width, no conversion
    of a value at run time), temporal constants typed, others as they are."""
    kinds = {("number" if a.numeric else a.type) for a in args if a.type != "null"}
    temporal = kinds & {"date", "timestamp"}
    if len(kinds) > 1 and not (len(temporal) == 1 and kinds - temporal <= {"text"}):
        raise ExprError(f"{short(node)}: the branches have different types "
                        f"({', '.join(sorted(kinds))}); make them one type", node)
    if temporal and "text" in kinds:
        args = rows.values(node, args)  # text constants become typed temporal constants
    kind = temporal.pop() if temporal else (kinds.pop() if kinds else "null")
    if kind == "number":
        args = [rows.as_number(a, node, "choosing it here") if a.type != "null" else a
                for a in args]
        trees = [double(a.tree) if a.type != "null" else a.tree for a in args]
        lo, hi = hull(*args)
        integer = all(a.type in ("integer", "null") for a in args)
        return Typed(build(trees), "integer" if integer else "float", lo, hi)
    first = next((a.type for a in args if a.type != "null"), "null")
    return Typed(build([a.tree for a in args]), first)


@scalar_compiler(exp.Case, exp.If)
def _case(rows: Rows, node: exp.Expr, d: int) -> Typed:
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


@scalar_compiler(exp.Coalesce)
def _coalesce(rows: Rows, node: exp.Expr, d: int) -> Typed:
    """Safe: choosing the first non-NULL of values of one type cannot fail."""
    args = [rows.scalar(a, d) for a in [node.this, *node.expressions]]
    return _same_type(rows, node, args, lambda ts: exp.Coalesce(this=ts[0], expressions=ts[1:]))


@scalar_compiler(exp.Nullif)
def _nullif(rows: Rows, node: exp.Expr, d: int) -> Typed:
    """Safe: NULLIF compares two values of one type (bounded numbers clamped first:
    the value it passes through must honour its bounds like any other value)."""
    a, b = rows.values(node, [rows.scalar(node.this, d), rows.scalar(node.expression, d)])
    if a.numeric and a.bounded:
        a = rows.as_number(a, node.this, "using it in NULLIF")
    if b.numeric and b.bounded:
        b = rows.as_number(b, node.expression, "using it in NULLIF")
    lo, hi = (a.lower, a.upper) if a.raw_column is None else (None, None)
    return Typed(exp.Nullif(this=a.tree, expression=b.tree), a.type, lo, hi)


