"""The contribution-bounding rewrite (SPEC §4.2), built as a sqlglot tree.

    WITH __base    AS (rows passing WHERE, with the unit, group keys and clamped
                       grid values; undeclared keys and unit-less rows dropped),
         __salt    AS (one random number per query)        -- with a group cap
         [__ranked AS (each unit's groups ranked by a salted hash)] -- with
                       COUNT(DISTINCT unit) and a group cap
         __rows    AS (rows numbered per unit: at random, or in one pass with the
                       groups' ranking, groups by a salted hash, rows at random
                       within them)
         __partial AS (per (unit, group) aggregates of the kept rows) -- only
                       for COUNT(DISTINCT unit) without a group cap
    SELECT keys, SUM(…) … WHERE row number <= R [AND group number <= G] GROUP BY keys

With joins, each private table is first replaced by at most its own
`max_rows_per_unit` rows per person, chosen at random (`_capped_source`, listed
in `shape.capped`), so that no join can make one person's rows more than the
product of the caps (times the public fan-out, `validate.MAX_JOIN_FANOUT`)
before the bounding above applies (SPEC §4.7: the work must not grow with how
many rows one person holds). The rest of the rewrite is unchanged.

Ungrouped queries of only COUNT(*) and COUNT(DISTINCT unit) need no row choice
at all (`counts_rows_only`). Only names from the metadata and constants
generated here reach the engine. Randomness comes from the engine's RANDOM():
the analyst cannot seed it, as SET and PRAGMA are refused and the engine's
configuration is locked.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from sqlglot import exp

from .expressions import clamp
from .keys import representable
from .measures import groups_touched
from .metadata import KeyValue
from .naming import (
    GROUP_FIRST,
    GROUP_NUMBER,
    GROUP_ORDER,
    PRE_RANDOM,
    PRE_ROW_NUMBER,
    RANDOM,
    ROW_NUMBER,
    SALT,
    UNIT,
    UNIT_ROWS,
    key_column,
    measure_column,
)
from .plan import Measure
from .shape import CappedSource, Shape


def _id(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _number(value: int | float | Fraction) -> exp.Expr:
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
        return _number(int(value))  # type: ignore[arg-type]
    if column_type == "float":
        return _number(float(value))  # type: ignore[arg-type]
    if column_type == "date":
        text = value.isoformat() if isinstance(value, dt.date) else str(value)
        return exp.cast(exp.Literal.string(text), exp.DataType.build("DATE"))
    text = value.isoformat() if isinstance(value, dt.datetime) else str(value)
    return exp.cast(exp.Literal.string(text), exp.DataType.build("TIMESTAMP"))


def _clamped_grid_value(arg: exp.Expr, lower: float, upper: float,
                        scale: Fraction) -> exp.Expr:
    """CASE WHEN v IS NULL THEN NULL ELSE CAST(ROUND(clamp(v) * scale) AS BIGINT) END.

    The explicit NULL branch matters: GREATEST/LEAST skip NULLs, which would
    turn a missing value into a bound. `v` is computed in DOUBLE and clamped to
    the interval derived from the metadata, so no value can overflow the grid.
    """
    on_grid = exp.cast(
        exp.Round(this=exp.Mul(this=clamp(arg.copy(), lower, upper), expression=_number(scale))),
        exp.DataType.build("BIGINT"),
    )
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=arg.copy(), expression=exp.Null()), true=exp.Null())],
        default=on_grid,
    )


def _bin_index(arg: exp.Expr, lower: float, upper: float, bins: int) -> exp.Expr:
    """The histogram bin of clamp(v): FLOOR((v − lower) · bins / width), capped to [0, bins−1]."""
    width = upper - lower
    if width <= 0:
        index: exp.Expr = _number(0)
    else:
        offset = exp.Sub(this=clamp(arg.copy(), lower, upper), expression=_number(float(lower)))
        raw = exp.Floor(this=exp.Mul(this=exp.Paren(this=offset),
                                     expression=_number(float(bins) / width)))
        index = exp.Least(this=exp.Greatest(this=raw, expressions=[_number(0)]),
                          expressions=[_number(bins - 1)])
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=arg.copy(), expression=exp.Null()), true=exp.Null())],
        default=exp.cast(index, exp.DataType.build("INT")),
    )


def bounded_query(
    shape: Shape, measures: tuple[Measure, ...], key_types: tuple[str, ...],
    dialect: str = "duckdb",
) -> exp.Select:
    groups = [key_column(i) for i in range(len(shape.group_columns))]

    # __base: filter, drop rows without a unit or with undeclared keys, clamp.
    base_items: list[exp.Expr] = [
        exp.alias_(_unit(shape), UNIT, quoted=True),
        exp.alias_(exp.Rand(), RANDOM, quoted=True),
    ]
    base_items += [
        exp.alias_(tree.copy(), alias, quoted=True)
        for tree, alias in zip(shape.group_exprs, groups, strict=True)
    ]
    for m in measures:
        if m.kind == "sum":
            assert m.arg is not None and m.lower is not None and m.upper is not None
            base_items.append(
                exp.alias_(_clamped_grid_value(m.arg, m.lower, m.upper, m.grid_scale),
                           measure_column(m.name), quoted=True)
            )
        elif m.kind == "hist":
            assert m.arg is not None and m.lower is not None and m.upper is not None
            base_items.append(exp.alias_(_bin_index(m.arg, m.lower, m.upper, m.bins),
                                         measure_column(m.name), quoted=True))
        elif m.kind == "count" and m.arg is not None:
            base_items.append(exp.alias_(m.arg.copy(), measure_column(m.name), quoted=True))
    conditions: list[exp.Expr] = [exp.Not(this=exp.Is(this=_unit(shape),
                                                             expression=exp.Null()))]
    if shape.where is not None:
        conditions.append(exp.Paren(this=shape.where.copy()))
    for i, tree in enumerate(shape.group_exprs):
        declared = shape.declared[i]
        if declared is None:
            # partition selection: any releasable value may form a group (keys.py);
            # NULL forms none
            conditions.append(exp.Not(this=exp.Is(this=tree.copy(), expression=exp.Null())))
            domain = representable(tree, key_types[i])
            if domain is not None:
                conditions.append(domain)
            continue
        conditions.append(
            exp.In(this=tree.copy(),
                   expressions=[typed_literal(k, key_types[i])
                                for k in sorted(set(declared), key=str)])
        )
    # bounding happens after the joins: a person's rows are capped however many
    # public rows each of them matched
    source = shape.source.copy() if shape.source is not None else exp.Table(this=_id(shape.table))
    joins = [join.copy() for join in shape.joins]
    if shape.capped:
        # each private table capped per person before the joins (see _capped_source)
        by_alias = {c.alias: c for c in shape.capped}
        if source.alias in by_alias:
            source = _capped_source(by_alias[source.alias], conditions)
        for join in joins:
            if join.this.alias in by_alias:
                join.set("this", _capped_source(by_alias[join.this.alias], conditions))
    base = exp.select(*base_items).from_(source, copy=False)
    for join in joins:
        base = base.join(join, copy=False)
    base = base.where(exp.and_(*conditions), copy=False)

    if counts_rows_only(shape, measures):
        return _for_engine(_counted_query(shape, measures, base), dialect)

    # The group cap is needed only if a unit could otherwise reach more groups.
    reachable = shape.max_rows_per_unit if shape.selection else min(
        shape.max_rows_per_unit, len(shape.group_keys))
    cap_groups = shape.max_groups_per_unit < reachable
    # the bounding diagnostics count each unit's rows before the caps
    diagnosed = any(m.kind == "raw" for m in measures)
    assert groups_touched(shape) == min(shape.max_groups_per_unit, reachable)

    # Each unit's rows are ranked in as few sorts as the measures allow; every
    # window of one pass orders by a prefix of the same key, so the engine sorts
    # once per pass. The caps are exact in every form (at most R rows in at most G
    # groups per unit) and the choice depends only on the unit's own rows and
    # fresh randomness, never on values or data order, so one unit still moves each
    # group by its capped rows alone.
    #
    # No group cap: __rows numbers each unit's rows in random order (__r); number
    # <= R keeps R rows chosen uniformly at random. One sort.
    #
    # Group cap: groups are ranked by a hash of (unit, group, per-query salt),
    # random per query and constant within a group, so DENSE_RANK numbers the
    # unit's groups in a uniformly random order (the keys break hash ties, so the
    # numbering is exact) and number <= G keeps a uniformly random G-subset.
    #  - without COUNT(DISTINCT unit), one pass (`_one_pass`): ROW_NUMBER over
    #    (hash, keys, __r) takes the kept groups' rows group by group, in the
    #    groups' random order, each group's rows in uniformly random order, until
    #    R; every row of a kept group sorts before any row of a dropped one, so
    #    number <= R counts kept rows only.
    #  - with COUNT(DISTINCT unit), two passes, so that the R rows are uniform over
    #    the kept groups' rows and a unit reaches as many groups as it can:
    #    __ranked ranks groups (and numbers rows by (hash, keys, __r)), __rows
    #    numbers the kept groups' rows at random. A row whose number in __ranked
    #    equals its group's RANK is the group's row with the smallest __r, kept
    #    whenever any row of the group is, so COUNT(DISTINCT unit) counts those
    #    rows and needs no per-(unit, group) level.
    units = any(m.kind == "units" for m in measures)
    kept: exp.Expr = exp.LTE(this=_col(ROW_NUMBER),
                                   expression=_number(shape.max_rows_per_unit))
    query_with: list[tuple[str, exp.Expr]] = [("__base", base)]
    first_in_group: exp.Expr | None = None
    if not cap_groups:
        rows = exp.select(
            exp.Star(), exp.alias_(_rank(exp.RowNumber(), [_col(RANDOM)]), ROW_NUMBER,
                                   quoted=True),
            *([_unit_rows([_col(RANDOM)])] if diagnosed else []),
        ).from_(exp.Table(this=_id("__base")), copy=False)
    else:
        salt = exp.cast(exp.Floor(this=exp.Mul(this=exp.Rand(), expression=_number(2**52))),
                        exp.DataType.build("BIGINT"))
        query_with.append(("__salt", exp.select(exp.alias_(salt, SALT, quoted=True))))
        by_group = [_group_hash(dialect, groups), *(_col(g) for g in groups)]
        in_order = [*by_group, _col(RANDOM)]
        ranked = (
            exp.select(exp.Star(),
                       exp.alias_(_rank(exp.DenseRank(), by_group), GROUP_NUMBER, quoted=True),
                       *([exp.alias_(_rank(exp.Rank(), by_group), GROUP_FIRST, quoted=True)]
                         if units else []),
                       exp.alias_(_rank(exp.RowNumber(), in_order),
                                  GROUP_ORDER if units else ROW_NUMBER, quoted=True),
                       *([_unit_rows(in_order)] if diagnosed else []))
            .from_(exp.Table(this=_id("__base")), copy=False)
            .join(exp.Table(this=_id("__salt")), join_type="CROSS", copy=False)
        )
        in_groups = exp.LTE(this=_col(GROUP_NUMBER),
                            expression=_number(shape.max_groups_per_unit))
        if units:
            query_with.append(("__ranked", ranked))
            rows = (exp.select(exp.Star(), exp.alias_(_rank(exp.RowNumber(), [_col(RANDOM)]),
                                                      ROW_NUMBER, quoted=True))
                    .from_(exp.Table(this=_id("__ranked")), copy=False)
                    .where(in_groups, copy=False))
            first_in_group = exp.EQ(this=_col(GROUP_ORDER), expression=_col(GROUP_FIRST))
        else:
            rows = ranked
            kept = exp.and_(kept, in_groups)
    query_with.append(("__rows", rows))

    final_items: list[exp.Expr] = [_col(g) for g in groups]
    distinct = any(m.distinct for m in measures)
    if units and first_in_group is None and not distinct:
        # COUNT(DISTINCT unit) per group needs the per-(unit, group) level
        partial = (
            exp.select(_col(UNIT), *(_col(g) for g in groups), *_row_aggregates(measures))
            .from_(exp.Table(this=_id("__rows")), copy=False)
            .where(kept, copy=False)
            .group_by(_col(UNIT), *(_col(g) for g in groups), copy=False)
        )
        query_with.append(("__partial", partial))
        for m in measures:
            for column in m.columns():
                total: exp.Expr = (
                    exp.Count(this=exp.Star()) if m.kind == "units" else exp.Sum(this=_col(column))
                )
                final_items.append(exp.alias_(total, column, quoted=True))
        final = exp.select(*final_items).from_(exp.Table(this=_id("__partial")), copy=False)
    else:
        # counts, sums and histograms add up the same with or without per-unit partials;
        # beside a distinct count (which partials cannot add up), the units are
        # COUNT(DISTINCT unit) over the same kept rows: the same number
        final_items += _row_aggregates(measures, first_in_group, units_distinct=distinct)
        final = (exp.select(*final_items).from_(exp.Table(this=_id("__rows")), copy=False)
                 .where(kept, copy=False))
    if groups:
        final = final.group_by(*(_col(g) for g in groups), copy=False)
    for name, body in query_with:
        final = final.with_(name, as_=body, copy=False)
    return _for_engine(final, dialect)


def _for_engine(tree: exp.Select, dialect: str) -> exp.Select:
    """A distributed engine may evaluate RANDOM() more than once per row: there the
    random keys become keyed hashes of a per-query salt (rewriter/distributed.py)."""
    if dialect == "spark":
        from .distributed import keyed_selection

        return keyed_selection(tree)
    return tree


def _row_aggregates(measures: tuple[Measure, ...],
                    first_in_group: exp.Expr | None = None,
                    units_distinct: bool = False) -> list[exp.Expr]:
    """Each measure's aggregate over kept rows, one column per measure column.

    COUNT(DISTINCT unit) is counted here when `first_in_group` marks each unit's
    first kept row in its group (the one-pass ranking), or as COUNT(DISTINCT unit)
    with `units_distinct`; otherwise it comes from the per-(unit, group) level.
    """
    items: list[exp.Expr] = []
    for m in measures:
        if m.kind == "raw":
            # the diagnostics' rows before the caps, min(rows, l1) per unit, counted once
            # per unit on its first row, which every cap keeps
            first = exp.Case(
                ifs=[exp.If(this=exp.EQ(this=_col(ROW_NUMBER), expression=_number(1)),
                            true=exp.Least(this=_col(UNIT_ROWS), expressions=[_number(m.l1)],
                                           ignore_nulls=True))],
                default=_number(0))
            items.append(exp.alias_(exp.Sum(this=first), m.name, quoted=True))
            continue
        if m.kind == "units":
            if first_in_group is not None:
                first = exp.Case(ifs=[exp.If(this=first_in_group.copy(), true=_number(1))],
                                 default=_number(0))
                items.append(exp.alias_(exp.Sum(this=first), m.name, quoted=True))
            elif units_distinct:
                items.append(exp.alias_(exp.Count(this=exp.Distinct(expressions=[_col(UNIT)])),
                                        m.name, quoted=True))
            continue
        if m.kind == "hist":
            for k, column in enumerate(m.columns()):
                in_bin = exp.Case(
                    ifs=[exp.If(this=exp.EQ(this=_col(measure_column(m.name)),
                                            expression=_number(k)),
                                true=_number(1))],
                    default=_number(0),
                )
                items.append(exp.alias_(exp.Sum(this=in_bin), column, quoted=True))
            continue
        if m.kind == "count":
            agg: exp.Expr = (
                exp.Count(this=exp.Star()) if m.arg is None
                else exp.Count(this=exp.Distinct(expressions=[_col(measure_column(m.name))]))
                if m.distinct else exp.Count(this=_col(measure_column(m.name)))
            )
        else:
            agg = exp.Sum(this=_col(measure_column(m.name)))
        items.append(exp.alias_(agg, m.name, quoted=True))
    return items


def _unit_rows(order: list[exp.Expr]) -> exp.Expr:
    """The unit's rows before the caps: COUNT(*) over the whole partition, ordered like
    the ranking it sits beside so the engine sorts once for both."""
    window = _rank(exp.Count(this=exp.Star()), order)
    window.set("spec", exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING",
                                      end="UNBOUNDED", end_side="FOLLOWING"))
    return exp.alias_(window, UNIT_ROWS, quoted=True)


def _group_hash(dialect: str, groups: list[str]) -> exp.Expr:
    """A per-query pseudo-random rank key for (unit, group), in the engine's SQL.

    Only the choice of which G groups a unit keeps depends on it, and any choice
    made from the unit's own rows keeps the caps; the salt (drawn by the engine's
    RANDOM() in `__salt`) makes the choice differ between queries.
    """
    parts = [_col(UNIT), *(_col(g) for g in groups)]
    if dialect == "duckdb":
        # DuckDB combines the hashes of several arguments in a way that does not
        # order a unit's groups uniformly at random over salts (some G-subsets came
        # out twice as often as others); hashing the combination again does
        # (tests/rewriter/test_bounding_choice.py)
        return exp.Anonymous(this="HASH", expressions=[
            exp.Anonymous(this="HASH", expressions=[*parts, _col(SALT)])])
    text = exp.Anonymous(this="CONCAT_WS", expressions=[
        exp.Literal.string("|"),
        *(exp.cast(p, exp.DataType.build("TEXT")) for p in parts),
    ])
    if dialect == "postgres":
        return exp.Anonymous(this="HASHTEXTEXTENDED", expressions=[text, _col(SALT)])
    if dialect == "spark":
        return exp.Anonymous(this="XXHASH64", expressions=[*parts, _col(SALT)])
    # any other engine: a portable (slower) hash of the same text
    return exp.MD5(this=exp.Anonymous(this="CONCAT_WS", expressions=[
        exp.Literal.string("|"), text, exp.cast(_col(SALT), exp.DataType.build("TEXT"))]))


def counts_rows_only(shape: Shape, measures: tuple[Measure, ...]) -> bool:
    """Whether the query needs no row choice at all: no groups, only COUNT(*)
    and COUNT(DISTINCT unit).

    Whichever R of a unit's n rows a random choice keeps, COUNT(*) sees
    min(n, R) of them and the unit is counted once, so the per-unit values are
    known without ranking rows: one GROUP BY unit replaces the window sort,
    which costs several times the aggregation itself.
    """
    return not shape.group_exprs and all(
        m.kind in ("units", "raw") or (m.kind == "count" and m.arg is None) for m in measures
    )


def _counted_query(
    shape: Shape, measures: tuple[Measure, ...], base: exp.Select
) -> exp.Select:
    """WITH __base, __partial AS (per unit: LEAST(COUNT(*), R)) SELECT totals."""
    partial_items: list[exp.Expr] = [_col(UNIT)]
    final_items: list[exp.Expr] = []
    for m in measures:
        if m.kind == "units":
            final_items.append(exp.alias_(exp.Count(this=exp.Star()), m.name, quoted=True))
            continue
        cap = m.l1 if m.kind == "raw" else shape.max_rows_per_unit  # raw: DIAGNOSTIC_CLIP·R
        # COUNT(*) is never NULL, so the NULL-skipping forms of LEAST agree
        capped = exp.Least(this=exp.Count(this=exp.Star()),
                           expressions=[_number(cap)], ignore_nulls=True)
        partial_items.append(exp.alias_(capped, m.name, quoted=True))
        final_items.append(exp.alias_(exp.Sum(this=_col(m.name)), m.name, quoted=True))
    partial = (
        exp.select(*partial_items)
        .from_(exp.Table(this=_id("__base")), copy=False)
        .group_by(_col(UNIT), copy=False)
    )
    base.set("expressions", [e for e in base.expressions if e.alias != RANDOM])
    return (
        exp.select(*final_items)
        .from_(exp.Table(this=_id("__partial")), copy=False)
        .with_("__base", as_=base, copy=False)
        .with_("__partial", as_=partial, copy=False)
    )


def _capped_source(source: CappedSource, conditions: list[exp.Expr]) -> exp.Subquery:
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
    table = exp.Table(this=_id(source.table), alias=exp.TableAlias(this=_id(alias)))
    drawn = (exp.select(exp.Star(), exp.alias_(exp.Rand(), PRE_RANDOM, quoted=True))
             .from_(table, copy=False).where(exp.and_(*filters), copy=False))
    window = exp.Window(
        this=exp.RowNumber(), partition_by=[unit.copy()],
        order=exp.Order(expressions=[exp.Ordered(this=_col(PRE_RANDOM), nulls_first=False)]),
    )
    numbered = (exp.select(exp.Star(), exp.alias_(window, PRE_ROW_NUMBER, quoted=True))
                .from_(_derived(drawn, alias), copy=False))
    kept = (exp.select(exp.Star()).from_(_derived(numbered, alias), copy=False)
            .where(exp.LTE(this=_col(PRE_ROW_NUMBER),
                           expression=_number(source.max_rows_per_unit)), copy=False))
    return _derived(kept, alias)


def _derived(select: exp.Select, alias: str) -> exp.Subquery:
    return exp.Subquery(this=select, alias=exp.TableAlias(this=_id(alias)))


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


def _unit(shape: Shape) -> exp.Expr:
    return shape.unit.copy() if shape.unit is not None else _col(shape.privacy_unit)


def _rank(function: exp.Expr, order: list[exp.Expr]) -> exp.Expr:
    """function() OVER (PARTITION BY unit ORDER BY order…)."""
    return exp.Window(
        this=function,
        partition_by=[_col(UNIT)],
        # engines refuse volatile window ordering, so the random draw is a column
        order=exp.Order(expressions=[exp.Ordered(this=o, nulls_first=False) for o in order]),
    )
