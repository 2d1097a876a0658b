"""The compilers of casts and of date and time parts, and the typing of constants
compared with dates: each states why the SQL it emits cannot raise on any
stored value (infinite dates, years outside 1–9999, any string)."""

from __future__ import annotations

import datetime as dt
import math

from sqlglot import exp

from .row_scalars import literal
from .typed import (
    DATE_FUNCS,
    DATE_PARTS,
    MAX_EXACT_INTEGER,
    ExprError,
    Rows,
    Typed,
    clamp,
    constant_kind,
    double,
    kind_of,
    scalar_compiler,
    short,
    small_enough,
)


@scalar_compiler(exp.Cast, exp.TryCast)
def _cast(rows: Rows, node: exp.Expr, d: int) -> Typed:
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
        return temporal_constant(inner, "date" if target == T.DATE else "timestamp", node)
    if target == T.DATE and inner.type in ("date", "timestamp"):
        return Typed(exp.cast(inner.tree, exp.DataType.build("DATE")), "date")
    raise ExprError(
        f"{node.sql()}: this cast could fail on some rows (an error that depends on the "
        "data); cast numbers to DOUBLE or INTEGER (when bounded), integers, booleans and "
        "dates to VARCHAR, timestamps to DATE",
        node,
    )


@scalar_compiler(exp.Extract, *DATE_FUNCS)
def _date_part(rows: Rows, node: exp.Expr, d: int) -> Typed:
    """Safe: EXTRACT of an infinite date is NULL (DuckDB) or ±Infinity (PostgreSQL),
    and years beyond 9999 or before 1 exist in both engines; the part is read as
    DOUBLE (which holds all of these), clamped to its range (years to 1–9999,
    infinity to the nearest end) and only then cast to INT."""
    if isinstance(node, exp.Extract):
        part = node.this.name.upper() if isinstance(node.this, (exp.Var, exp.Identifier)) \
            else ""
        source = node.expression
    else:
        part, source = DATE_FUNCS[type(node)], node.this
    if part not in DATE_PARTS:
        raise ExprError(f"{node.sql()}: EXTRACT takes one of {', '.join(DATE_PARTS)}", node)
    inner = rows.scalar(source, d)
    if inner.type not in ("date", "timestamp"):
        raise ExprError(f"{node.sql()}: {source.sql()} is {inner.type}, not a date", node)
    if part in ("HOUR", "MINUTE") and inner.type == "date":
        raise ExprError(f"{node.sql()}: a date has no {part.lower()}", node)
    small_enough(inner.tree, node)
    lo, hi = DATE_PARTS[part]
    extracted = double(exp.Extract(this=exp.var(part), expression=inner.tree))
    tree = exp.cast(clamp(extracted, lo, hi), exp.DataType.build("INT"))
    return Typed(tree, "integer", lo, hi)


# the units DATE_TRUNC takes, and the range both engines truncate without error
_TRUNC_UNITS = {"date": ("YEAR", "QUARTER", "MONTH", "WEEK", "DAY"),
                "timestamp": ("YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE")}


_TRUNC_RANGE = {"date": ("0001-01-01", "9999-12-31"),
                "timestamp": ("0001-01-01 00:00:00", "9999-12-31 23:59:59")}


@scalar_compiler(exp.TimestampTrunc, exp.DateTrunc)
def _date_trunc(rows: Rows, node: exp.Expr, d: int) -> Typed:
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
    small_enough(inner.tree, node)
    kind = exp.DataType.build("DATE" if inner.type == "date" else "TIMESTAMP")
    low, high = (exp.cast(exp.Literal.string(v), kind.copy()) for v in _TRUNC_RANGE[inner.type])
    clamped = exp.Case(ifs=[exp.If(this=exp.Is(this=inner.tree.copy(), expression=exp.Null()),
                                   true=exp.Null())],
                       default=exp.Least(this=exp.Greatest(this=inner.tree, expressions=[low]),
                                         expressions=[high]))
    truncated = exp.TimestampTrunc(this=clamped, unit=exp.var(name))
    return Typed(exp.cast(truncated, kind), inner.type)


def coerce_constants(parts: list[Typed], node: exp.Expr) -> list[Typed]:
    """Constants written in another type than what they meet, read as that type.

    `int_col = '8'`, `int_col = TRUE`, `text_col IN (2, 3)`, `bool_col = 1`: the
    constant is converted here, at plan time, from its text; the column is never
    cast, so no row can make the comparison fail (SPEC §4.7), and the result is
    what either engine gives when the conversion succeeds. A constant that does
    not read as the other type is refused with the value named.
    """
    others = {kind_of(p) for p in parts if p.type != "null" and constant_kind(p) is None}
    if len(others) != 1:
        return parts
    target = others.pop()
    if target not in ("number", "text", "boolean"):
        return parts
    out: list[Typed] = []
    for part in parts:
        kind = constant_kind(part)
        if kind is None or kind == target or part.type == "null":
            out.append(part)
            continue
        tree = part.tree
        if target == "number" and kind == "text":
            text = tree.this.strip() if isinstance(tree, exp.Literal) else ""
            try:
                value = float(text)
            except ValueError:
                raise ExprError(f"{short(node)}: {tree.sql()} is not a number, and it is "
                                "compared with one; write a number", node) from None
            if not math.isfinite(value) or "n" in text.lower():  # nan, inf, infinity
                raise ExprError(f"{short(node)}: {tree.sql()} is not a finite number; write "
                                "a number", node)
            magnitude = literal(None, exp.Literal(this=text.lstrip("+-"), is_string=False),  # type: ignore[arg-type]
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
                raise ExprError(f"{short(node)}: a boolean is compared with {tree.sql()}; "
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


def temporal_constant(part: Typed, target: str, node: exp.Expr) -> Typed:
    """A text constant compared with a date or timestamp, as a typed constant.

    Safe: the value is parsed here and re-emitted in the one ISO form both engines
    read (years 1–9999), so the engine never converts the analyst's text.
    """
    if not isinstance(part.tree, exp.Literal):
        raise ExprError(f"{short(node)}: compare a {target} with a {target} constant", node)
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
            f"{short(node)}: {part.tree.sql()} does not match the type of the {target}; "
            f"write {target}s as "
            f"{example}" + (" without a time zone" if target == "timestamp" else ""),
            node,
        ) from None
    return Typed(exp.cast(exp.Literal.string(canonical), exp.DataType.build(target.upper())),
                 target)
