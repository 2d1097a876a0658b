"""Name resolution, done once: which tables a SELECT reads and what each column is.

A `Scope` is what every later check asks (in the manner of sqlglot's
`optimizer/scope.py`): the tables in FROM (the private table first, then joined
public tables), the canonical declared name and metadata of a column reference,
the column as the rewritten SQL names it, and a refusal pointing at a node.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from .catalog import Catalog
from .errors import QueryRefused
from .expressions import RowExpressions
from .metadata import Column, Table
from .naming import table_alias
from .parse import position_of

# In WHERE and GROUP BY keys, a number without declared bounds is clamped to ±this
# before arithmetic (expressions.RowExpressions.implicit_bound): the largest
# constant dpsql reads, so comparisons with any constant keep their meaning for
# every value within it.
IMPLICIT_BOUND = 1e15


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
class Scope:
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
        source, name = source_of(node, self)
        return source.table.privacy_unit == name

    def refuse(self, message: str, node: exp.Expr | None) -> QueryRefused:
        return QueryRefused(message, position_of(node, self.sql))

    def rows(self, filters: bool = False) -> RowExpressions:
        """Row expressions; `filters` for WHERE and GROUP BY keys, where numbers
        without declared bounds may take part in arithmetic (IMPLICIT_BOUND)."""
        return RowExpressions(lambda node: resolve_column(node, self),
                              lambda node: column_tree(node, self),
                              IMPLICIT_BOUND if filters else None)


@dataclass(frozen=True)
class Source:
    """One table in FROM: its declared name, metadata and the alias the rewrite uses."""

    name: str
    table: Table
    aliases: frozenset[str]  # how the analyst may qualify its columns (lower case)
    sql_alias: str | None  # the alias in the rewritten SQL (joins only)


def resolve_table(node: exp.Expr, catalog: Catalog, sql: str) -> tuple[str, Table, exp.Table]:
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
    assert new_source is not None
    public_node, private_node = new_source.this, new_join.this
    new_source.set("this", private_node)
    new_join.set("this", public_node)
    return swapped


def from_clause(
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
            (position_of(node, sql) if isinstance(node, exp.Expr) else None)
            or position_of(select, sql),
        )
    source = select.args.get("from") or select.args.get("from_")
    if source is None:
        raise QueryRefused(
            "the query reads no table; name a private table in FROM", position_of(select, sql)
        )
    joins = select.args.get("joins") or []
    name, table, node = resolve_table(source.this, catalog, sql)
    all_public = public_ok and all(
        resolve_table(j.this, catalog, sql)[1].public for j in joins)
    if table.public and not all_public:
        raise QueryRefused(
            f"{name} is a public table; put the private table first in FROM and JOIN {name} "
            "to it",
            position_of(node, sql),
        )
    single = not joins
    sources = [Source(name, table, frozenset({(node.alias or name).lower()}),
                      None if single else table_alias(0))]
    for i, join in enumerate(joins, start=1):
        jname, jtable, jnode = resolve_table(join.this, catalog, sql)
        alias = (jnode.alias or jname).lower()
        if any(alias in s.aliases for s in sources):
            raise QueryRefused(f"JOIN {jname}: the name {alias!r} is used twice; give it an "
                               "alias", position_of(jnode, sql))
        sources.append(Source(jname, jtable, frozenset({alias}), table_alias(i)))
    return tuple(sources)


def source_of(node: exp.Column, ctx: Scope) -> tuple[Source, str]:
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


def resolve_column(node: exp.Column, ctx: Scope) -> tuple[str, Column]:
    """Resolve a column reference: the canonical declared name for the private
    table's columns, `table.column` for a joined public table's."""
    source, name = source_of(node, ctx)
    display = name if source is ctx.sources[0] else f"{source.name}.{name}"
    return display, source.table.columns[name]


def column_tree(node: exp.Column, ctx: Scope) -> exp.Column:
    """The column as the rewritten SQL names it (qualified by `__t<i>` in joins)."""
    source, name = source_of(node, ctx)
    return exp.column(name, table=source.sql_alias, quoted=True)
