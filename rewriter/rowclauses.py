"""Row-level clauses shared by the outer query and inlined derived tables: WHERE,
and the whole check of a derived table's FROM, joins, WHERE and columns."""

from __future__ import annotations

from sqlglot import exp

from .catalog import Catalog
from .expressions import ExprError
from .joins import join_conditions
from .scope import Scope, from_clause


def where_clause(select: exp.Select, ctx: Scope) -> exp.Expr | None:
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


def _subquery_advice(node: exp.Expr, ctx: Scope) -> str:
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

            def qualified(tree: exp.Expr, table: str) -> str:
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
    ctx = Scope(sql, catalog, from_clause(select, catalog, sql, public_ok=True))
    join_conditions(select, ctx)
    where_clause(select, ctx)
    for item in select.expressions:
        body = item.this if isinstance(item, exp.Alias) else item
        try:
            ctx.rows().scalar(body)
        except ExprError as err:
            raise ctx.refuse(f"{item.alias_or_name}: {err.message}", err.node) from None
