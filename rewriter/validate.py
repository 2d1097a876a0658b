"""Validate: accept only the aggregate queries dpsql can answer with bounded
sensitivity, and describe them as a `Shape`.

The check is an allow-list over the sqlglot tree: every node class not listed
here is refused, so a construct sqlglot learns to parse tomorrow is refused
until someone decides it is safe. Every decision reads the query text and the
metadata only, never the data (SPEC §4.6).

Expressions over private rows (WHERE, aggregate arguments) are checked and
rebuilt by `expressions.RowExpressions`; expressions over the aggregates
(outer arithmetic, HAVING, ORDER BY) by `post.PostExpressions`, and run only
on noisy values after release.
"""

from __future__ import annotations

import itertools
import math

from sqlglot import exp

from .aggregates import is_aggregate
from .catalog import Catalog
from .errors import QueryRefused
from .groups import KeyText, group_by, normalized_text
from .joins import join_conditions
from .naming import default_name, unique_name
from .parse import position_of
from .post import PostExpressions
from .rowclauses import where_clause
from .scope import Scope, from_clause, private_first
from .shape import CappedSource, SelectItem, Shape

MAX_OUTPUT_GROUPS = 100_000
MAX_LIMIT = 1_000_000

_STATEMENT_HINTS: dict[type[exp.Expr], str] = {
    exp.Union: "UNION combines private rows twice; ask each part as its own query",
    exp.Intersect: "INTERSECT over private data is not supported; ask each part as its own query",
    exp.Except: "EXCEPT over private data is not supported; ask each part as its own query",
}


def validate(tree: exp.Expr, catalog: Catalog, sql: str) -> Shape:
    """Check `tree` against the metadata and describe it as a `Shape`."""
    select = _distinct_as_groups(private_first(_only_select(tree, sql), catalog), sql)
    sources = from_clause(select, catalog, sql)
    ctx = Scope(sql, catalog, sources)
    table_name, table = ctx.table_name, ctx.table
    joins, fanout = join_conditions(select, ctx)
    groups = group_by(select, ctx)
    group_columns = tuple(g.name for g in groups)
    post = PostExpressions(ctx, tuple(g.text for g in groups), KeyText(g.written for g in groups))
    items = _projections(select, post, ctx)
    having = _having(select, post, items, ctx)
    order = _order(select, post, items, ctx)
    limit = _count_clause(select, "limit", ctx)
    offset = _count_clause(select, "offset", ctx)
    where = where_clause(select, ctx)
    declared = tuple(g.declared for g in groups)
    selection = any(d is None for d in declared)
    key_lists = tuple(d for d in declared if d is not None)
    combos = math.prod(len(k) for k in key_lists) if key_lists else 1
    if combos > MAX_OUTPUT_GROUPS:
        raise ctx.refuse(
            f"GROUP BY {', '.join(group_columns)} would release {combos} groups (one per "
            f"combination of public keys); the limit is {MAX_OUTPUT_GROUPS}. Group by fewer "
            "columns.",
            select.args.get("group"),
        )
    assert table.privacy_unit is not None  # checked when the Table was validated
    # Bounding runs after the joins. With several private tables (joined on their
    # units) a person may keep the largest of their row caps and the smallest of
    # their group caps: sensitivity follows from the caps applied, whatever they are.
    private = [s.table for s in sources if not s.table.public]
    # Each private table is capped per person before the joins when a join can multiply
    # a person's rows: with two private tables (a person's R₁ × R₂ pairs) or through a
    # public column that repeats (fan-out up to MAX_JOIN_FANOUT). Joined only on unique
    # public columns, a person keeps the rows they had, as without a join, and the
    # bounding after the joins is the one sort needed (a pre-join cap there doubled the
    # time of a join with a public table: 3.0 s against 1.6 s on DuckDB at 10 M rows).
    sides = ["", *((j.side or "").upper() for j in select.args.get("joins") or [])]
    capped = tuple(
        CappedSource(s.sql_alias, s.name, s.table.privacy_unit, s.table.max_rows_per_unit,
                     filters_first=side != "LEFT")
        for s, side in zip(sources, sides, strict=True)
        if s.sql_alias is not None and s.table.privacy_unit is not None
    ) if len(private) > 1 or fanout > 1 else ()
    return Shape(
        table=table_name,
        privacy_unit=table.privacy_unit,
        max_rows_per_unit=max(t.max_rows_per_unit for t in private),
        max_groups_per_unit=min(t.max_groups_per_unit for t in private),
        group_columns=group_columns,
        group_keys=() if selection else (
            tuple(itertools.product(*key_lists)) if key_lists else ((),)),
        aggregates=tuple(post.aggregates),
        items=items,
        where=where,
        having=having,
        order=order,
        limit=limit,
        offset=offset,
        group_exprs=tuple(g.tree for g in groups),
        source=exp.Table(this=exp.to_identifier(table_name, quoted=True), alias=(
            exp.TableAlias(this=exp.to_identifier(sources[0].sql_alias, quoted=True))
            if sources[0].sql_alias else None)),
        joins=joins,
        unit=exp.column(table.privacy_unit, table=sources[0].sql_alias, quoted=True),
        group_types=tuple(g.type for g in groups),
        declared=declared,
        capped=capped,
    )


def _only_select(tree: exp.Expr, sql: str) -> exp.Select:
    if isinstance(tree, exp.Select):
        return tree
    for cls, hint in _STATEMENT_HINTS.items():
        if isinstance(tree, cls):
            raise QueryRefused(hint, position_of(tree, sql))
    kind = type(tree).__name__.upper()
    raise QueryRefused(
        f"only a single SELECT with aggregates is answered; this statement is {kind}. "
        "dpsql never changes data or settings.",
        position_of(tree, sql),
    )


def _distinct_as_groups(select: exp.Select, sql: str) -> exp.Select:
    """SELECT DISTINCT as the GROUP BY it means, where it changes nothing else.

    * no GROUP BY and no aggregate: `SELECT DISTINCT a, b` is `GROUP BY a, b`
      (a keys-only GROUP BY, answered through partition selection or public keys);
    * no GROUP BY but aggregates: the answer is one row, DISTINCT is a no-op;
    * GROUP BY whose every key is selected: rows are already distinct.

    Otherwise DISTINCT would merge post-processed rows; it is refused with advice.
    """
    distinct = select.args.get("distinct")
    if not isinstance(distinct, exp.Distinct) or distinct.args.get("on") is not None:
        return select
    items = [i.this if isinstance(i, exp.Alias) else i for i in select.expressions]
    has_aggregate = any(is_aggregate(n) for i in items for n in i.walk())
    group = select.args.get("group")
    out = select.copy()
    if group is None and not has_aggregate:
        if any(isinstance(i, exp.Star) or (isinstance(i, exp.Column)
                                           and isinstance(i.this, exp.Star)) for i in items):
            return select  # refused below as SELECT *
        out.set("distinct", None)
        out.set("group", exp.Group(expressions=[i.copy() for i in items]))
        return out
    if group is None:
        out.set("distinct", None)
        return out
    written = {normalized_text(i) for i in items}
    aliases = {i.alias.lower() for i in select.expressions if isinstance(i, exp.Alias)}
    if all(normalized_text(k) in written or (isinstance(k, exp.Column) and not k.table
                                             and k.name.lower() in aliases)
           for k in group.expressions):
        out.set("distinct", None)
        return out
    return select


def _projections(select: exp.Select, post: PostExpressions, ctx: Scope) -> tuple[SelectItem, ...]:
    items: list[SelectItem] = []
    seen: set[str] = set()
    for node in select.expressions:
        alias = node.alias if isinstance(node, exp.Alias) else None
        body = node.this if isinstance(node, exp.Alias) else node
        if isinstance(body, exp.Star) or (
            isinstance(body, exp.Column) and isinstance(body.this, exp.Star)
        ):
            raise ctx.refuse(
                "SELECT * would release raw rows; select aggregates such as COUNT(*), "
                "SUM(col) or AVG(col), optionally with GROUP BY",
                body,
            )
        tree = post.rewrite(body, {}, "SELECT")
        if isinstance(body, exp.Column) and isinstance(body.this, exp.Identifier):
            default = ctx.table.canonical(body.name) or body.name
        else:
            default = unique_name(default_name(body), seen)
        name = alias or default
        if name.lower() in seen:
            raise ctx.refuse(
                f"two output columns are named {name!r}; give one an alias with AS", node
            )
        seen.add(name.lower())
        items.append(SelectItem(name, tree, tree.sql()))
    if not post.aggregates and select.args.get("group") is not None:
        # A keys-only GROUP BY releases the keys that pass partition selection (or the
        # declared public keys): the same keys as with COUNT(*) added, which is the
        # measure selection thresholds; the count is computed and noised, not shown.
        post.hidden_count()
    if not post.aggregates:
        raise ctx.refuse(
            "the query has no aggregate, so it would release raw rows; select COUNT(*), "
            "SUM(col) or AVG(col)",
            select,
        )
    return tuple(items)


def _aliases(items: tuple[SelectItem, ...]) -> dict[str, exp.Expr]:
    return {i.name.lower(): i.expr for i in items}


def _having(
    select: exp.Select, post: PostExpressions, items: tuple[SelectItem, ...], ctx: Scope
) -> exp.Expr | None:
    having = select.args.get("having")
    if having is None:
        return None
    return post.rewrite(having.this, _aliases(items), "HAVING", prefer_columns=True)


def _order(
    select: exp.Select, post: PostExpressions, items: tuple[SelectItem, ...], ctx: Scope
) -> tuple[exp.Ordered, ...]:
    order = select.args.get("order")
    if order is None:
        return ()
    result: list[exp.Ordered] = []
    for ordered in order.expressions:
        target = ordered.this
        if isinstance(target, exp.Literal) and not target.is_string:
            position = int(target.this) if target.this.isdigit() else 0
            if not 1 <= position <= len(items):
                raise ctx.refuse(
                    f"ORDER BY {target.sql()}: name an output column or a position from 1 to "
                    f"{len(items)}",
                    target,
                )
            tree = items[position - 1].expr.copy()
        else:
            tree = post.rewrite(target, _aliases(items), "ORDER BY")
        result.append(exp.Ordered(this=tree, desc=bool(ordered.args.get("desc")),
                                  nulls_first=bool(ordered.args.get("nulls_first"))))
    return tuple(result)


def _count_clause(select: exp.Select, arg: str, ctx: Scope) -> int | None:
    clause = select.args.get(arg)
    if clause is None:
        return None
    value = clause.args.get("expression")
    if isinstance(clause, exp.Limit) and clause.args.get("offset") is not None:
        raise ctx.refuse("write LIMIT n OFFSET m", clause)
    if not (isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit()):
        raise ctx.refuse(
            f"{arg.upper()} takes a whole number, such as {arg.upper()} 10", clause
        )
    number = int(value.this)
    if number > MAX_LIMIT:
        raise ctx.refuse(f"{arg.upper()} {number}: the largest allowed is {MAX_LIMIT}", clause)
    return number


__all__ = ["validate"]
