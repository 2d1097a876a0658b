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
from collections.abc import Iterable
from dataclasses import dataclass

from sqlglot import exp

from .aggregates import is_aggregate
from .catalog import Catalog
from .errors import QueryRefused
from .expressions import ExprError, RowExpressions
from .metadata import Column, KeyValue, Table
from .parse import position_of
from .post import PostExpressions, value_column
from .shape import CappedSource, SelectItem, Shape

MAX_OUTPUT_GROUPS = 100_000
MAX_LIMIT = 1_000_000
# The most rows of public tables one row of the private table may match through all
# its joins: the product of the declared multiplicities of the columns the joins
# equate (SPEC §4.7: the work a query may cause is bounded before it runs).
MAX_JOIN_FANOUT = 1_000
# In WHERE and GROUP BY keys, a number without declared bounds is clamped to ±this
# before arithmetic (expressions.RowExpressions.implicit_bound): the largest
# constant dpsql reads, so comparisons with any constant keep their meaning for
# every value within it.
IMPLICIT_BOUND = 1e15

_STATEMENT_HINTS: dict[type[exp.Expression], str] = {
    exp.Union: "UNION combines private rows twice; ask each part as its own query",
    exp.Intersect: "INTERSECT over private data is not supported; ask each part as its own query",
    exp.Except: "EXCEPT over private data is not supported; ask each part as its own query",
}

# Clauses of a SELECT dpsql answers; any other argument that is set is refused.
_SELECT_ARGS = {"expressions", "from", "from_", "where", "group", "having", "order", "limit",
                "offset"}
_CLAUSE_NAMES = {
    "with": "WITH (common table expressions)", "with_": "WITH (common table expressions)",
    "joins": "JOIN", "distinct": "SELECT DISTINCT", "qualify": "QUALIFY",
    "windows": "WINDOW", "laterals": "LATERAL", "into": "SELECT INTO", "locks": "FOR UPDATE",
    "sample": "TABLESAMPLE", "settings": "SETTINGS", "prewhere": "PREWHERE",
}
_CLAUSE_HINTS = {
    "joins": "join support is coming; ask about one private table",
    "with": "write the query over the table directly",
    "with_": "write the query over the table directly",
    "distinct": "the output rows are already one per group; drop DISTINCT",
}


@dataclass(frozen=True)
class _Ctx:
    sql: str
    catalog: Catalog
    sources: tuple[Source, ...]  # the private table first, then joined public tables

    @property
    def table_name(self) -> str:
        return self.sources[0].name

    @property
    def table(self) -> Table:
        return self.sources[0].table

    def is_unit(self, node: exp.Column) -> bool:
        """True when `node` is the privacy unit of its (private) table."""
        source, name = _source_of(node, self)
        return source.table.privacy_unit == name

    def refuse(self, message: str, node: exp.Expression | None) -> QueryRefused:
        return QueryRefused(message, position_of(node, self.sql))

    def rows(self, filters: bool = False) -> RowExpressions:
        """Row expressions; `filters` for WHERE and GROUP BY keys, where numbers
        without declared bounds may take part in arithmetic (IMPLICIT_BOUND)."""
        return RowExpressions(lambda node: _column(node, self),
                              lambda node: column_tree(node, self),
                              IMPLICIT_BOUND if filters else None)


def validate(tree: exp.Expression, catalog: Catalog, sql: str) -> Shape:
    """Check `tree` against the metadata and describe it as a `Shape`."""
    select = _distinct_as_groups(private_first(_only_select(tree, sql), catalog), sql)
    sources = _from_clause(select, catalog, sql)
    ctx = _Ctx(sql, catalog, sources)
    table_name, table = ctx.table_name, ctx.table
    joins = _join_conditions(select, ctx)
    groups = _group_by(select, ctx)
    group_columns = tuple(g.name for g in groups)
    post = PostExpressions(ctx, tuple(g.text for g in groups), KeyText(g.written for g in groups))
    items = _projections(select, post, ctx)
    having = _having(select, post, items, ctx)
    order = _order(select, post, items, ctx)
    limit = _count_clause(select, "limit", ctx)
    offset = _count_clause(select, "offset", ctx)
    where = _where(select, ctx)
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
    # Each private table is capped per person before the joins (also when they are
    # only on unique public columns: a person's rows then reach the bounding after
    # the joins already capped, and that bounding's group ranking and row sort, the
    # dearer part, run over R rows rather than over all the rows the WHERE matched).
    sides = ["", *((j.side or "").upper() for j in select.args.get("joins") or [])]
    capped = tuple(
        CappedSource(s.sql_alias, s.name, s.table.privacy_unit, s.table.max_rows_per_unit,
                     filters_first=side != "LEFT")
        for s, side in zip(sources, sides, strict=True)
        if s.sql_alias is not None and s.table.privacy_unit is not None
    )
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


def _only_select(tree: exp.Expression, sql: str) -> exp.Select:
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


@dataclass(frozen=True)
class Source:
    """One table in FROM: its declared name, metadata and the alias the rewrite uses."""

    name: str
    table: Table
    aliases: frozenset[str]  # how the analyst may qualify its columns (lower case)
    sql_alias: str | None  # the alias in the rewritten SQL (joins only)


def _table(node: exp.Expression, catalog: Catalog, sql: str) -> tuple[str, Table, exp.Table]:
    if not isinstance(node, exp.Table) or not isinstance(node.this, exp.Identifier):
        raise QueryRefused(
            "FROM must name a table; subqueries, table functions and file readers are refused. "
            "Write the aggregate over the table itself, with WHERE for the filter",
            position_of(node, sql),
        )
    extra = [k for k, v in node.args.items() if v and k not in {"this", "alias"}]
    if extra:
        what = "a schema or catalog prefix" if set(extra) & {"db", "catalog"} else extra[0].upper()
        raise QueryRefused(
            f"FROM {node.sql()}: {what} is not allowed; name a table from GET /v1/tables "
            "without a prefix",
            position_of(node, sql),
        )
    found = catalog.table(node.name)
    if found is None:
        known = ", ".join(sorted(catalog.tables)) or "none"
        raise QueryRefused(
            f"table {node.name!r} does not exist; tables you may query: {known}",
            position_of(node, sql),
        )
    return found[0], found[1], node


def private_first(select: exp.Select, catalog: Catalog) -> exp.Select:
    """`FROM public JOIN private ON …` as `FROM private JOIN public ON …`: an inner
    join does not depend on the order, and the bounding reads the private table
    first. Only the first join is moved (its ON can name only these two tables);
    a LEFT JOIN is not, as the swap would change its meaning."""
    source = select.args.get("from") or select.args.get("from_")
    joins = select.args.get("joins") or []
    if source is None or not joins or not isinstance(source.this, exp.Table):
        return select
    first, join = source.this, joins[0]
    if not isinstance(join.this, exp.Table) or (join.side or join.kind or "").upper() not in (
            "", "INNER"):
        return select
    lead, joined = catalog.table(first.name), catalog.table(join.this.name)
    if lead is None or joined is None or not lead[1].public or joined[1].public:
        return select
    swapped = select.copy()
    new_source = swapped.args.get("from") or swapped.args.get("from_")
    new_join = swapped.args["joins"][0]
    public_node, private_node = new_source.this, new_join.this
    new_source.set("this", private_node)
    new_join.set("this", public_node)
    return swapped


def _from_clause(
    select: exp.Select, catalog: Catalog, sql: str, public_ok: bool = False
) -> tuple[Source, ...]:
    """The tables in FROM; the first must be private unless `public_ok` and all are public
    (an inlined derived table that reads only public tables is itself public)."""
    for arg, value in select.args.items():
        if value in (None, [], False) or arg in _SELECT_ARGS or arg == "joins":
            continue
        clause = _CLAUSE_NAMES.get(arg, arg.upper())
        node = value[0] if isinstance(value, list) else value
        hint = _CLAUSE_HINTS.get(arg, "write one SELECT of aggregates over one table, with "
                                 "WHERE, GROUP BY, HAVING, ORDER BY and LIMIT")
        raise QueryRefused(
            f"{clause} is not supported yet; {hint}",
            (position_of(node, sql) if isinstance(node, exp.Expression) else None)
            or position_of(select, sql),
        )
    source = select.args.get("from") or select.args.get("from_")
    if source is None:
        raise QueryRefused(
            "the query reads no table; name a private table in FROM", position_of(select, sql)
        )
    joins = select.args.get("joins") or []
    name, table, node = _table(source.this, catalog, sql)
    all_public = public_ok and all(
        _table(j.this, catalog, sql)[1].public for j in joins)
    if table.public and not all_public:
        raise QueryRefused(
            f"{name} is a public table; put the private table first in FROM and JOIN {name} "
            "to it",
            position_of(node, sql),
        )
    single = not joins
    sources = [Source(name, table, frozenset({(node.alias or name).lower()}),
                      None if single else "__t0")]
    for i, join in enumerate(joins, start=1):
        jname, jtable, jnode = _table(join.this, catalog, sql)
        alias = (jnode.alias or jname).lower()
        if any(alias in s.aliases for s in sources):
            raise QueryRefused(f"JOIN {jname}: the name {alias!r} is used twice; give it an "
                               "alias", position_of(jnode, sql))
        sources.append(Source(jname, jtable, frozenset({alias}), f"__t{i}"))
    return tuple(sources)


def _source_of(node: exp.Column, ctx: _Ctx) -> tuple[Source, str]:
    qualifier = node.table
    if node.args.get("db") or node.args.get("catalog"):
        raise ctx.refuse(f"{node.sql()}: write the column as table.column at most", node)
    if not isinstance(node.this, exp.Identifier):
        raise ctx.refuse(f"{node.sql()}: name a column (SELECT * releases raw rows)", node)
    if qualifier:
        # (a rebuilt tree may be checked again: accept the rewrite's own `__t<i>`)
        matching = [s for s in ctx.sources
                    if qualifier.lower() in s.aliases or qualifier == s.sql_alias]
        if not matching:
            raise ctx.refuse(f"{node.sql()}: {qualifier!r} is not a table in FROM", node)
        candidates = matching
    else:
        candidates = [s for s in ctx.sources if s.table.canonical(node.name) is not None] \
            or [ctx.sources[0]]
    if len(candidates) > 1:
        raise ctx.refuse(
            f"{node.sql()}: several tables in FROM have a column {node.name!r}; write "
            "table.column",
            node,
        )
    source = candidates[0]
    name = source.table.canonical(node.name)
    if name is None:
        known = ", ".join(source.table.columns) or "none declared"
        raise ctx.refuse(
            f"column {node.name!r} does not exist in {source.name}; its columns: {known}",
            node,
        )
    return source, name


def _column(node: exp.Column, ctx: _Ctx) -> tuple[str, Column]:
    """Resolve a column reference: the canonical declared name for the private
    table's columns, `table.column` for a joined public table's."""
    source, name = _source_of(node, ctx)
    display = name if source is ctx.sources[0] else f"{source.name}.{name}"
    return display, source.table.columns[name]


def column_tree(node: exp.Column, ctx: _Ctx) -> exp.Column:
    """The column as the rewritten SQL names it (qualified by `__t<i>` in joins)."""
    source, name = _source_of(node, ctx)
    return exp.column(name, table=source.sql_alias, quoted=True)


def _join_conditions(select: exp.Select, ctx: _Ctx) -> tuple[exp.Join, ...]:
    """Rebuild each JOIN: INNER or LEFT, ON equalities of private and public columns,
    each public table on a column of bounded multiplicity (product ≤ MAX_JOIN_FANOUT)."""
    rebuilt: list[exp.Join] = []
    fanout = 1  # the most public rows one row of the first table may match so far
    # the private sources whose unit is equated, directly or through earlier joins, with
    # the first table's: on every joined row they all name the same person
    same_person = {id(ctx.sources[0])}
    for join, source in zip(select.args.get("joins") or [], ctx.sources[1:], strict=True):
        side, kind = (join.side or "").upper(), (join.kind or "").upper()
        if side not in ("", "LEFT") or kind not in ("", "INNER", "OUTER"):
            raise ctx.refuse(
                f"{(side + ' ' + kind).strip()} JOIN is not supported; use JOIN or LEFT JOIN "
                "with ON private.column = public.column",
                join,
            )
        if join.args.get("using") or join.args.get("on") is None:
            raise ctx.refuse(
                f"JOIN {source.name}: write the condition as ON private.column = public.column",
                join,
            )
        conditions: list[exp.Expression] = []
        units_equated = False
        matched: list[int] = []  # declared multiplicities of the public columns equated
        on = join.args["on"]
        parts = list(on.flatten()) if isinstance(on, exp.And) else [on]
        for part in parts:
            while isinstance(part, exp.Paren):
                part = part.this
            if not (isinstance(part, exp.EQ) and isinstance(part.this, exp.Column)
                    and isinstance(part.expression, exp.Column)):
                raise ctx.refuse(
                    f"JOIN … ON {part.sql()}: join on equalities of columns "
                    "(private.column = public.column), combined with AND",
                    part,
                )
            left, right = part.this, part.expression
            (ls, ln), (rs, rn) = _source_of(left, ctx), _source_of(right, ctx)
            if ls is rs:
                raise ctx.refuse(
                    f"JOIN … ON {part.sql()}: compare a column of {source.name} with one of "
                    "another table",
                    part,
                )
            lt, rt = ls.table.columns[ln].type, rs.table.columns[rn].type
            if lt != rt and {lt, rt} != {"integer", "float"}:
                raise ctx.refuse(
                    f"JOIN … ON {part.sql()}: {ln} is {lt} and {rn} is {rt}; join columns "
                    "of one type",
                    part,
                )
            conditions.append(exp.EQ(this=column_tree(left, ctx),
                                     expression=column_tree(right, ctx)))
            for side_source, side_name in ((ls, ln), (rs, rn)):
                declared = side_source.table.columns[side_name].multiplicity
                if side_source is source and source.table.public and declared is not None:
                    matched.append(declared)
            if ctx.is_unit(left) and ctx.is_unit(right) and (
                    (ls is source and id(rs) in same_person)
                    or (rs is source and id(ls) in same_person)):
                units_equated = True
        if units_equated:
            same_person.add(id(source))
        if source.table.public:
            fanout *= _public_multiplicity(source, matched, join, ctx)
            if fanout > MAX_JOIN_FANOUT:
                raise ctx.refuse(
                    f"JOIN {source.name}: through its joins with public tables one row may "
                    f"match up to {fanout} rows (the product of the declared multiplicities "
                    f"of the joined columns); the limit is {MAX_JOIN_FANOUT}. Join fewer "
                    "public tables, or on columns declared `unique`",
                    join,
                )
        if not source.table.public and not units_equated:
            unit, other = ctx.table.privacy_unit, source.table.privacy_unit
            first, this = min(ctx.sources[0].aliases), min(source.aliases)
            raise ctx.refuse(
                f"JOIN {source.name}: two private tables are joined only on their privacy "
                f"units, so every joined row still belongs to one person; add ON "
                f"{first}.{unit} = {this}.{other}",
                join,
            )
        table = exp.Table(this=exp.to_identifier(source.name, quoted=True),
                          alias=exp.TableAlias(this=exp.to_identifier(source.sql_alias,
                                                                      quoted=True)))
        rebuilt.append(exp.Join(this=table, on=exp.and_(*conditions),
                                side="LEFT" if side == "LEFT" else None))
    return tuple(rebuilt)


def _public_multiplicity(source: Source, matched: list[int], join: exp.Join, ctx: _Ctx) -> int:
    """How many rows of the public table `source` one joined row may match: the
    smallest declared multiplicity among its columns the ON clause equates.

    Refusing otherwise keeps the work of a join bounded by the metadata: joined on
    a column with repeated values, one person's rows would multiply without limit
    before any cap applies, and the running time would show it (SPEC §4.7).
    """
    if matched:
        return min(matched)
    alias = min(source.aliases)
    declared = [f"{alias}.{name}" for name, col in source.table.columns.items()
                if col.multiplicity is not None]
    if declared:
        hint = (f"equate one of its columns declared unique or with a maximum "
                       f"multiplicity: {', '.join(declared)}")
    else:
        hint = (f"the data owner must first declare one of its columns `unique: true` "
                       f"(or `max_multiplicity: k`) in the metadata of {source.name}")
    raise ctx.refuse(
        f"JOIN {source.name}: a public table is joined only on a column whose values are "
        f"unique, or repeat at most a declared number of times, so that a join cannot "
        f"multiply one person's rows; {hint}",
        join,
    )


@dataclass(frozen=True)
class GroupKey:
    text: str  # normalized analyst text, to match SELECT items
    name: str  # display name
    tree: exp.Expression
    type: str
    declared: tuple[KeyValue, ...] | None  # None: partition selection
    written: exp.Expression  # the analyst's expression (GROUP BY 1 and aliases resolved)


def normalized_text(node: exp.Expression) -> str:
    """The analyst's expression without table qualifiers, in one canonical text."""
    copy = node.copy()
    for column in copy.find_all(exp.Column):
        column.set("table", None)
        column.set("db", None)
        column.set("catalog", None)
    return copy.sql(dialect="duckdb", normalize=True, comments=False)


class KeyText:
    """`normalized_text`, computed only for nodes that could be one of the group keys.

    Post-processing asks, for every node it walks, whether the node is a group
    key; generating each subtree's text would cost the subtree's size at every
    level, quadratic in the query. A node that cannot match gets "" (no key's
    text is empty) after looking at a bounded number of its nodes: when every key
    is a plain column, any node but a column; otherwise a node with far more
    nodes (identifiers aside, as qualifiers are dropped) than the largest key.
    """

    def __init__(self, keys: Iterable[exp.Expression]) -> None:
        written = list(keys)
        self.columns_only = all(isinstance(k, exp.Column) for k in written)
        self.bound = 2 * max((_size(k) for k in written), default=0) + 4

    def __call__(self, node: exp.Expression) -> str:
        if self.columns_only and not isinstance(node, exp.Column):
            return ""
        if _size(node, self.bound) > self.bound:
            return ""
        return normalized_text(node)


def _size(node: exp.Expression, stop: int | None = None) -> int:
    """Nodes other than identifiers, counting no further than `stop` + 1."""
    count = 0
    for n in node.walk():
        if not isinstance(n, exp.Identifier):
            count += 1
            if stop is not None and count > stop:
                break
    return count


def _group_target(node: exp.Expression, select: exp.Select, ctx: _Ctx) -> exp.Expression:
    """GROUP BY 1 and GROUP BY alias name a SELECT item; resolve them to it."""
    if isinstance(node, exp.Literal) and not node.is_string:
        position = int(node.this) if node.this.isdigit() else 0
        if not 1 <= position <= len(select.expressions):
            raise ctx.refuse(f"GROUP BY {node.sql()}: no SELECT item at that position", node)
        item = select.expressions[position - 1]
        return item.this if isinstance(item, exp.Alias) else item
    if isinstance(node, exp.Column) and not node.table and ctx.table.canonical(node.name) is None:
        for item in select.expressions:
            if isinstance(item, exp.Alias) and item.alias.lower() == node.name.lower():
                return item.this
    return node


def _group_by(select: exp.Select, ctx: _Ctx) -> tuple[GroupKey, ...]:
    group = select.args.get("group")
    if group is None:
        return ()
    for arg, value in group.args.items():
        if value and arg != "expressions":
            raise ctx.refuse(
                f"GROUP BY {arg.upper()} is not supported; group by columns or expressions", group
            )
    keys: list[GroupKey] = []
    for written in group.expressions:
        node = _group_target(written, select, ctx)
        for inner in node.walk():
            if is_aggregate(inner) or isinstance(inner, exp.Window):
                raise ctx.refuse(f"GROUP BY {node.sql()}: group by columns, not aggregates", inner)
            if isinstance(inner, exp.Column):
                name, column = _column(inner, ctx)
                if ctx.is_unit(inner):
                    raise ctx.refuse(
                        f"GROUP BY {node.sql()}: {name} identifies people (the privacy unit); a "
                        "group per person would reveal individuals. Group by a category instead.",
                        node,
                    )
                if not column.groupable:
                    raise ctx.refuse(
                        f"GROUP BY {node.sql()}: the data owner marked {name} as not groupable "
                        "(it identifies people); group by another column",
                        node,
                    )
        key = _group_key(node, ctx)
        if any(k.text == key.text for k in keys):
            raise ctx.refuse(f"GROUP BY lists {key.name} twice", written)
        keys.append(key)
    return tuple(keys)


def _group_key(node: exp.Expression, ctx: _Ctx) -> GroupKey:
    text = normalized_text(node)
    if isinstance(node, exp.Column):
        name, column = _column(node, ctx)
        source, canonical = _source_of(node, ctx)
        declared = (_keys_of(canonical, ctx, source.name)
                    if not source.table.public and column.public_keys is not None else None)
        return GroupKey(text, name, column_tree(node, ctx), column.type, declared, node)
    try:
        typed = ctx.rows(filters=True).scalar(node)
    except ExprError as err:
        raise ctx.refuse(f"GROUP BY {node.sql()}: {err.message}", err.node) from None
    if typed.type == "boolean" or typed.type == "null":
        raise ctx.refuse(f"GROUP BY {node.sql()}: group by a value, not a condition", node)
    declared = _case_literals(node)
    key_type = typed.type
    if declared is not None and key_type in ("integer", "float"):
        key_type = "integer" if all(isinstance(k, int) for k in declared) else "float"
        declared = tuple(float(k) for k in declared) if key_type == "float" else declared
    return GroupKey(text, node.sql(), typed.tree, key_type, declared, node)


def _keys_of(column: str, ctx: _Ctx, table: str | None = None) -> tuple[KeyValue, ...]:
    keys = ctx.catalog.public_keys(table or ctx.table_name, column)
    if not keys:
        raise QueryRefused(
            f"GROUP BY {column}: its public keys come from a public table that holds none; "
            "ask the data owner to fill it"
        )
    return keys


def _case_literals(node: exp.Expression) -> tuple[KeyValue, ...] | None:
    """The outputs of a CASE whose every branch is a constant: its public keys."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.If):
        branches = [node.args.get("true"), node.args.get("false")]
    elif isinstance(node, exp.Case):
        branches = [i.args.get("true") for i in node.args.get("ifs", [])]
        branches.append(node.args.get("default"))
    else:
        return None
    values: list[KeyValue] = []
    for branch in branches:
        if branch is None or isinstance(branch, exp.Null):
            continue  # rows in no declared bucket are dropped
        if isinstance(branch, exp.Neg) and isinstance(branch.this, exp.Literal):
            number = float(branch.this.this)
            values.append(-int(number) if number.is_integer() and "." not in branch.this.this
                          else -number)
            continue
        if not isinstance(branch, exp.Literal):
            return None
        if branch.is_string:
            values.append(branch.this)
        else:
            number = float(branch.this)
            values.append(int(number) if number.is_integer() and "." not in branch.this
                          else number)
    unique = tuple(dict.fromkeys(values))
    return unique or None


def _projections(select: exp.Select, post: PostExpressions, ctx: _Ctx) -> tuple[SelectItem, ...]:
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
            default = _unique(_default_name(body), seen)
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


def _aliases(items: tuple[SelectItem, ...]) -> dict[str, exp.Expression]:
    return {i.name.lower(): i.expr for i in items}


def _having(
    select: exp.Select, post: PostExpressions, items: tuple[SelectItem, ...], ctx: _Ctx
) -> exp.Expression | None:
    having = select.args.get("having")
    if having is None:
        return None
    return post.rewrite(having.this, _aliases(items), "HAVING", prefer_columns=True)


def _order(
    select: exp.Select, post: PostExpressions, items: tuple[SelectItem, ...], ctx: _Ctx
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


def _count_clause(select: exp.Select, arg: str, ctx: _Ctx) -> int | None:
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


def _default_name(node: exp.Expression) -> str:
    """Name an unaliased output after its text, as DuckDB does: `count(*)`."""
    text = node.sql(comments=False)
    name, _, rest = text.partition("(")
    return f"{name.lower()}({rest}" if rest else text


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate.lower() in taken:
        candidate, n = f"{name}_{n}", n + 1
    return candidate


def _where(select: exp.Select, ctx: _Ctx) -> exp.Expression | None:
    where = select.args.get("where")
    if where is None:
        return None
    for node in where.this.walk():
        if isinstance(node, (exp.Subquery, exp.Select, exp.Exists)):
            raise ctx.refuse(_subquery_advice(node, ctx), node)
        if isinstance(node, exp.AggFunc):
            raise ctx.refuse(
                f"WHERE {node.sql()}: aggregates cannot filter rows; use HAVING for conditions "
                "on aggregates",
                node,
            )
        if isinstance(node, exp.Window):
            raise ctx.refuse("window functions release per-row values; use GROUP BY", node)
    try:
        return ctx.rows(filters=True).predicate(where.this)
    except ExprError as err:
        raise ctx.refuse(f"WHERE: {err.message}", err.node) from None


def _subquery_advice(node: exp.Expression, ctx: _Ctx) -> str:
    """Why a subquery in WHERE is refused, and what to write instead. A semi-join
    with a public table (`x IN (SELECT k FROM public …)`) is written as the join it
    means: the join is checked like any other (its key's multiplicity bounds what one
    person's row can become), where a subquery's result could not be."""
    found = node.find_ancestor(exp.In)
    query = found.args.get("query") if found is not None else None
    select = query.this if isinstance(query, exp.Subquery) else query
    if found is not None and isinstance(select, exp.Select) and select.expressions:
        tables = [ctx.catalog.table(t.name) for t in select.find_all(exp.Table)]
        if tables and all(t is not None and t[1].public for t in tables):
            name = tables[0][0] if tables[0] is not None else "the public table"

            def qualified(tree: exp.Expression, table: str) -> str:
                tree = tree.copy()
                for column in tree.find_all(exp.Column):
                    if not column.table:
                        column.set("table", exp.to_identifier(table))
                return tree.sql()

            key = select.expressions[0]
            outer = qualified(found.this, ctx.table_name)
            inner = qualified(key.this if isinstance(key, exp.Alias) else key, name)
            where = select.args.get("where")
            also = f" AND {qualified(where.this, name)}" if where is not None else ""
            return (f"WHERE {found.this.sql()} IN (SELECT … FROM {name}): a subquery's "
                    f"result is not checked like a join; join the public table instead: "
                    f"JOIN {name} ON {outer} = {inner} and filter with WHERE …{also}")
    return "WHERE: subqueries over private data are not allowed; filter with constants"


def check_rows(select: exp.Select, catalog: Catalog, sql: str) -> None:
    """Check an inlined derived table (`inline.py`): its FROM and joins, its WHERE and
    every column it selects, by the rules of the outer query's row expressions."""
    ctx = _Ctx(sql, catalog, _from_clause(select, catalog, sql, public_ok=True))
    _join_conditions(select, ctx)
    _where(select, ctx)
    for item in select.expressions:
        body = item.this if isinstance(item, exp.Alias) else item
        try:
            ctx.rows().scalar(body)
        except ExprError as err:
            raise ctx.refuse(f"{item.alias_or_name}: {err.message}", err.node) from None


__all__ = ["check_rows", "private_first", "validate", "value_column"]
