"""The pieces the bounding rewrite (`bound.py`) is built from: typed literals, each
row's clamped grid value and histogram bin, the salted hash that ranks a
person's groups, window ranks, and the per-person cap of a joined private table.
Each piece is total on every stored value (rewriter/expressions.py)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from sqlglot import exp

from .expressions import clamp
from .metadata import KeyValue
from .naming import PRE_RANDOM, PRE_ROW_NUMBER, SALT, UNIT, UNIT_ROWS
from .shape import CappedSource, Shape


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def number(value: int | float | Fraction) -> exp.Expr:
    if isinstance(value, Fraction):
        # powers of two have exact finite decimal expansions
        text = str(value.numerator) if value.denominator == 1 else _exact_decimal(value)
        return exp.Literal.number(text)
    literal = exp.Literal.number(repr(value) if isinstance(value, float) else str(value))
    return exp.Neg(this=exp.Literal.number(str(-value))) if value < 0 else literal


def _exact_decimal(value: Fraction) -> str:
    digits = 0
    while (value * 10**digits).denominator != 1:
        digits += 1
        if digits > 80:
            raise ValueError(f"{value} has no short decimal expansion")
    scaled = value * 10**digits
    whole, frac = divmod(int(scaled), 10**digits)
    return f"{whole}.{frac:0{digits}d}"


def typed_literal(value: KeyValue, column_type: str) -> exp.Expr:
    """A constant of the column's type, so comparing cannot fail at run time."""
    if column_type == "text":
        return exp.Literal.string(str(value))
    if column_type == "boolean":
        return exp.Boolean(this=bool(value))
    if column_type == "integer":
        return number(int(value))  # type: ignore[arg-type]
    if column_type == "float":
        return number(float(value))  # type: ignore[arg-type]
    if column_type == "date":
        text = value.isoformat() if isinstance(value, dt.date) else str(value)
        return exp.cast(exp.Literal.string(text), exp.DataType.build("DATE"))
    text = value.isoformat() if isinstance(value, dt.datetime) else str(value)
    return exp.cast(exp.Literal.string(text), exp.DataType.build("TIMESTAMP"))


def clamped_grid_value(arg: exp.Expr, lower: float, upper: float,
                        scale: Fraction) -> exp.Expr:
    """CASE WHEN v IS NULL THEN NULL ELSE CAST(ROUND(clamp(v) * scale) AS BIGINT) END.

    The explicit NULL branch matters: GREATEST/LEAST skip NULLs, which would
    turn a missing value into a bound. `v` is computed in DOUBLE and clamped to
    the interval derived from the metadata, so no value can overflow the grid.
    """
    on_grid = exp.cast(
        exp.Round(this=exp.Mul(this=clamp(arg.copy(), lower, upper), expression=number(scale))),
        exp.DataType.build("BIGINT"),
    )
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=arg.copy(), expression=exp.Null()), true=exp.Null())],
        default=on_grid,
    )


def bin_index(arg: exp.Expr, lower: float, upper: float, bins: int) -> exp.Expr:
    """The histogram bin of clamp(v): FLOOR((v − lower) · bins / width), capped to [0, bins−1]."""
    width = upper - lower
    if width <= 0:
        index: exp.Expr = number(0)
    else:
        offset = exp.Sub(this=clamp(arg.copy(), lower, upper), expression=number(float(lower)))
        raw = exp.Floor(this=exp.Mul(this=exp.Paren(this=offset),
                                     expression=number(float(bins) / width)))
        index = exp.Least(this=exp.Greatest(this=raw, expressions=[number(0)]),
                          expressions=[number(bins - 1)])
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=arg.copy(), expression=exp.Null()), true=exp.Null())],
        default=exp.cast(index, exp.DataType.build("INT")),
    )


def unit_rows(order: list[exp.Expr]) -> exp.Expr:
    """The unit's rows before the caps: COUNT(*) over the whole partition, ordered like
    the ranking it sits beside so the engine sorts once for both."""
    window = rank(exp.Count(this=exp.Star()), order)
    window.set("spec", exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING",
                                      end="UNBOUNDED", end_side="FOLLOWING"))
    return exp.alias_(window, UNIT_ROWS, quoted=True)


def group_hash(dialect: str, groups: list[str]) -> exp.Expr:
    """A per-query pseudo-random rank key for (unit, group), in the engine's SQL.

    Only the choice of which G groups a unit keeps depends on it, and any choice
    made from the unit's own rows keeps the caps; the salt (drawn by the engine's
    RANDOM() in `__salt`) makes the choice differ between queries.
    """
    parts = [col(UNIT), *(col(g) for g in groups)]
    if dialect == "duckdb":
        # DuckDB combines the hashes of several arguments in a way that does not
        # order a unit's groups uniformly at random over salts (some G-subsets came
        # out twice as often as others); hashing the combination again does
        # (tests/rewriter/test_bounding_choice.py)
        return exp.Anonymous(this="HASH", expressions=[
            exp.Anonymous(this="HASH", expressions=[*parts, col(SALT)])])
    text = exp.Anonymous(this="CONCAT_WS", expressions=[
        exp.Literal.string("|"),
        *(exp.cast(p, exp.DataType.build("TEXT")) for p in parts),
    ])
    if dialect == "postgres":
        return exp.Anonymous(this="HASHTEXTEXTENDED", expressions=[text, col(SALT)])
    if dialect == "spark":
        return exp.Anonymous(this="XXHASH64", expressions=[*parts, col(SALT)])
    # any other engine: a portable (slower) hash of the same text
    return exp.MD5(this=exp.Anonymous(this="CONCAT_WS", expressions=[
        exp.Literal.string("|"), text, exp.cast(col(SALT), exp.DataType.build("TEXT"))]))


def capped_source(source: CappedSource, conditions: list[exp.Expr]) -> exp.Subquery:
    """At most R of each person's rows of one private table, chosen at random:

        (SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY unit ORDER BY __pr) AS __prn
                        FROM (SELECT *, RANDOM() AS __pr FROM t AS __t<i>
                              WHERE unit IS NOT NULL AND <conjuncts naming only this table>)
                        AS __t<i>) AS __t<i>
         WHERE __prn <= R) AS __t<i>

    The choice depends only on that person's own rows and fresh randomness, so
    two neighbouring databases stay neighbours after it and the bounding after
    the joins keeps today's sensitivity argument unchanged. The conjuncts of
    `conditions` that name only this table (columns qualified by its alias) are
    applied before the cap when the table is in FROM or inner-joined, where a
    filter commutes with the joins: the cap then keeps R rows among those the
    query counts ("filter, then keep R rows"). They stay in the outer WHERE too;
    a deterministic condition applied twice filters the same rows.
    """
    alias = source.alias
    unit = exp.column(source.privacy_unit, table=alias, quoted=True)
    filters: list[exp.Expr] = [exp.Not(this=exp.Is(this=unit.copy(),
                                                          expression=exp.Null()))]
    if source.filters_first:
        filters += [c.copy() for c in _conjuncts(conditions)
                    if _names_only(c, alias) and c != filters[0]]
    table = exp.Table(this=ident(source.table), alias=exp.TableAlias(this=ident(alias)))
    drawn = (exp.select(exp.Star(), exp.alias_(exp.Rand(), PRE_RANDOM, quoted=True))
             .from_(table, copy=False).where(exp.and_(*filters), copy=False))
    window = exp.Window(
        this=exp.RowNumber(), partition_by=[unit.copy()],
        order=exp.Order(expressions=[exp.Ordered(this=col(PRE_RANDOM), nulls_first=False)]),
    )
    numbered = (exp.select(exp.Star(), exp.alias_(window, PRE_ROW_NUMBER, quoted=True))
                .from_(_derived(drawn, alias), copy=False))
    kept = (exp.select(exp.Star()).from_(_derived(numbered, alias), copy=False)
            .where(exp.LTE(this=col(PRE_ROW_NUMBER),
                           expression=number(source.max_rows_per_unit)), copy=False))
    return _derived(kept, alias)


def _derived(select: exp.Select, alias: str) -> exp.Subquery:
    return exp.Subquery(this=select, alias=exp.TableAlias(this=ident(alias)))


def _conjuncts(conditions: list[exp.Expr]) -> list[exp.Expr]:
    """The AND-ed parts of `conditions`, parentheses and nested ANDs opened."""
    parts: list[exp.Expr] = []
    for condition in conditions:
        while isinstance(condition, exp.Paren):
            condition = condition.this
        if isinstance(condition, exp.And):
            parts += _conjuncts([condition.this, condition.expression])
        else:
            parts.append(condition)
    return parts


def _names_only(condition: exp.Expr, alias: str) -> bool:
    """Whether every column of `condition` belongs to the table aliased `alias`
    (and it names at least one)."""
    qualifiers = {column.table for column in condition.find_all(exp.Column)}
    return qualifiers == {alias}


def unit_of(shape: Shape) -> exp.Expr:
    return shape.unit.copy() if shape.unit is not None else col(shape.privacy_unit)


def rank(function: exp.Expr, order: list[exp.Expr]) -> exp.Expr:
    """function() OVER (PARTITION BY unit ORDER BY order…)."""
    return exp.Window(
        this=function,
        partition_by=[col(UNIT)],
        # engines refuse volatile window ordering, so the random draw is a column
        order=exp.Order(expressions=[exp.Ordered(this=o, nulls_first=False) for o in order]),
    )
