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

from sqlglot import exp

from .bound_parts import (
    bin_index,
    capped_source,
    clamped_grid_value,
    col,
    group_hash,
    ident,
    number,
    rank,
    typed_literal,
    unit_of,
    unit_rows,
)
from .keys import representable
from .measures import groups_touched
from .naming import (
    GROUP_FIRST,
    GROUP_NUMBER,
    GROUP_ORDER,
    RANDOM,
    ROW_NUMBER,
    SALT,
    UNIT,
    UNIT_ROWS,
    key_column,
    measure_column,
)
from .plan import Measure
from .shape import Shape


def bounded_query(
    shape: Shape, measures: tuple[Measure, ...], key_types: tuple[str, ...],
    dialect: str = "duckdb",
) -> exp.Select:
    groups = [key_column(i) for i in range(len(shape.group_columns))]

    # __base: filter, drop rows without a unit or with undeclared keys, clamp.
    base_items: list[exp.Expr] = [
        exp.alias_(unit_of(shape), UNIT, quoted=True),
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
                exp.alias_(clamped_grid_value(m.arg, m.lower, m.upper, m.grid_scale),
                           measure_column(m.name), quoted=True)
            )
        elif m.kind == "hist":
            assert m.arg is not None and m.lower is not None and m.upper is not None
            base_items.append(exp.alias_(bin_index(m.arg, m.lower, m.upper, m.bins),
                                         measure_column(m.name), quoted=True))
        elif m.kind == "count" and m.arg is not None:
            base_items.append(exp.alias_(m.arg.copy(), measure_column(m.name), quoted=True))
    conditions: list[exp.Expr] = [exp.Not(this=exp.Is(this=unit_of(shape),
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
    source = shape.source.copy() if shape.source is not None else exp.Table(this=ident(shape.table))
    joins = [join.copy() for join in shape.joins]
    if shape.capped:
        # each private table capped per person before the joins (see _capped_source)
        by_alias = {c.alias: c for c in shape.capped}
        if source.alias in by_alias:
            source = capped_source(by_alias[source.alias], conditions)
        for join in joins:
            if join.this.alias in by_alias:
                join.set("this", capped_source(by_alias[join.this.alias], conditions))
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
    kept: exp.Expr = exp.LTE(this=col(ROW_NUMBER),
                                   expression=number(shape.max_rows_per_unit))
    query_with: list[tuple[str, exp.Expr]] = [("__base", base)]
    first_in_group: exp.Expr | None = None
    if not cap_groups:
        rows = exp.select(
            exp.Star(), exp.alias_(rank(exp.RowNumber(), [col(RANDOM)]), ROW_NUMBER,
                                   quoted=True),
            *([unit_rows([col(RANDOM)])] if diagnosed else []),
        ).from_(exp.Table(this=ident("__base")), copy=False)
    else:
        salt = exp.cast(exp.Floor(this=exp.Mul(this=exp.Rand(), expression=number(2**52))),
                        exp.DataType.build("BIGINT"))
        query_with.append(("__salt", exp.select(exp.alias_(salt, SALT, quoted=True))))
        by_group = [group_hash(dialect, groups), *(col(g) for g in groups)]
        in_order = [*by_group, col(RANDOM)]
        ranked = (
            exp.select(exp.Star(),
                       exp.alias_(rank(exp.DenseRank(), by_group), GROUP_NUMBER, quoted=True),
                       *([exp.alias_(rank(exp.Rank(), by_group), GROUP_FIRST, quoted=True)]
                         if units else []),
                       exp.alias_(rank(exp.RowNumber(), in_order),
                                  GROUP_ORDER if units else ROW_NUMBER, quoted=True),
                       *([unit_rows(in_order)] if diagnosed else []))
            .from_(exp.Table(this=ident("__base")), copy=False)
            .join(exp.Table(this=ident("__salt")), join_type="CROSS", copy=False)
        )
        in_groups = exp.LTE(this=col(GROUP_NUMBER),
                            expression=number(shape.max_groups_per_unit))
        if units:
            query_with.append(("__ranked", ranked))
            rows = (exp.select(exp.Star(), exp.alias_(rank(exp.RowNumber(), [col(RANDOM)]),
                                                      ROW_NUMBER, quoted=True))
                    .from_(exp.Table(this=ident("__ranked")), copy=False)
                    .where(in_groups, copy=False))
            first_in_group = exp.EQ(this=col(GROUP_ORDER), expression=col(GROUP_FIRST))
        else:
            rows = ranked
            kept = exp.and_(kept, in_groups)
    query_with.append(("__rows", rows))

    final_items: list[exp.Expr] = [col(g) for g in groups]
    distinct = any(m.distinct for m in measures)
    if units and first_in_group is None and not distinct:
        # COUNT(DISTINCT unit) per group needs the per-(unit, group) level
        partial = (
            exp.select(col(UNIT), *(col(g) for g in groups), *_row_aggregates(measures))
            .from_(exp.Table(this=ident("__rows")), copy=False)
            .where(kept, copy=False)
            .group_by(col(UNIT), *(col(g) for g in groups), copy=False)
        )
        query_with.append(("__partial", partial))
        for m in measures:
            for column in m.columns():
                total: exp.Expr = (
                    exp.Count(this=exp.Star()) if m.kind == "units" else exp.Sum(this=col(column))
                )
                final_items.append(exp.alias_(total, column, quoted=True))
        final = exp.select(*final_items).from_(exp.Table(this=ident("__partial")), copy=False)
    else:
        # counts, sums and histograms add up the same with or without per-unit partials;
        # beside a distinct count (which partials cannot add up), the units are
        # COUNT(DISTINCT unit) over the same kept rows: the same number
        final_items += _row_aggregates(measures, first_in_group, units_distinct=distinct)
        final = (exp.select(*final_items).from_(exp.Table(this=ident("__rows")), copy=False)
                 .where(kept, copy=False))
    if groups:
        final = final.group_by(*(col(g) for g in groups), copy=False)
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
                ifs=[exp.If(this=exp.EQ(this=col(ROW_NUMBER), expression=number(1)),
                            true=exp.Least(this=col(UNIT_ROWS), expressions=[number(m.l1)],
                                           ignore_nulls=True))],
                default=number(0))
            items.append(exp.alias_(exp.Sum(this=first), m.name, quoted=True))
            continue
        if m.kind == "units":
            if first_in_group is not None:
                first = exp.Case(ifs=[exp.If(this=first_in_group.copy(), true=number(1))],
                                 default=number(0))
                items.append(exp.alias_(exp.Sum(this=first), m.name, quoted=True))
            elif units_distinct:
                items.append(exp.alias_(exp.Count(this=exp.Distinct(expressions=[col(UNIT)])),
                                        m.name, quoted=True))
            continue
        if m.kind == "hist":
            for k, column in enumerate(m.columns()):
                in_bin = exp.Case(
                    ifs=[exp.If(this=exp.EQ(this=col(measure_column(m.name)),
                                            expression=number(k)),
                                true=number(1))],
                    default=number(0),
                )
                items.append(exp.alias_(exp.Sum(this=in_bin), column, quoted=True))
            continue
        if m.kind == "count":
            agg: exp.Expr = (
                exp.Count(this=exp.Star()) if m.arg is None
                else exp.Count(this=exp.Distinct(expressions=[col(measure_column(m.name))]))
                if m.distinct else exp.Count(this=col(measure_column(m.name)))
            )
        else:
            agg = exp.Sum(this=col(measure_column(m.name)))
        items.append(exp.alias_(agg, m.name, quoted=True))
    return items


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
    partial_items: list[exp.Expr] = [col(UNIT)]
    final_items: list[exp.Expr] = []
    for m in measures:
        if m.kind == "units":
            final_items.append(exp.alias_(exp.Count(this=exp.Star()), m.name, quoted=True))
            continue
        cap = m.l1 if m.kind == "raw" else shape.max_rows_per_unit  # raw: DIAGNOSTIC_CLIP·R
        # COUNT(*) is never NULL, so the NULL-skipping forms of LEAST agree
        capped = exp.Least(this=exp.Count(this=exp.Star()),
                           expressions=[number(cap)], ignore_nulls=True)
        partial_items.append(exp.alias_(capped, m.name, quoted=True))
        final_items.append(exp.alias_(exp.Sum(this=col(m.name)), m.name, quoted=True))
    partial = (
        exp.select(*partial_items)
        .from_(exp.Table(this=ident("__base")), copy=False)
        .group_by(col(UNIT), copy=False)
    )
    base.set("expressions", [e for e in base.expressions if e.alias != RANDOM])
    return (
        exp.select(*final_items)
        .from_(exp.Table(this=ident("__partial")), copy=False)
        .with_("__base", as_=base, copy=False)
        .with_("__partial", as_=partial, copy=False)
    )


