"""SELECTs over the catalog (`information_schema`, `system.jdbc`,
`system.metadata`, `dpsql.budget`) and constant SELECTs (`SELECT 1`,
`SELECT version()`): run on the emulated metadata tables (`metadata.py`)."""

from __future__ import annotations

import duckdb
from sqlglot import exp

from ..auth import Principal
from .context import VERSION, Context, Outcome
from .errors import NOT_SUPPORTED, TrinoError
from .metadata import TABLES, MetaContext, internal_name, run
from .session import CATALOG, DPSQL_SCHEMA

MetaKey = tuple[str, str]


def meta_key(table: exp.Table, session_schema: str | None) -> MetaKey | None:
    """Which emulated table a FROM item names, if any."""
    name, db, catalog = table.name.lower(), table.db.lower(), table.catalog.lower()
    if db == "information_schema" and catalog in ("", CATALOG):
        key: MetaKey = ("information_schema", name)
    elif catalog == "system" and db in ("jdbc", "metadata"):
        key = (db, name)
    elif db == DPSQL_SCHEMA and catalog in ("", CATALOG):
        key = (DPSQL_SCHEMA, name)
    elif not db and session_schema in ("information_schema", DPSQL_SCHEMA):
        key = (session_schema, name)
    else:
        return None
    return key if key in TABLES else None


def is_catalog_query(key: MetaKey | None, table: exp.Table) -> bool:
    """A name in a catalog schema that dpsql does not emulate: refused, not sent on."""
    db, catalog = table.db.lower(), table.catalog.lower()
    return key is None and (db in ("information_schema", "jdbc", "metadata", "runtime")
                            or catalog == "system")


def _constants(tree: exp.Expression, ctx: Context) -> exp.Expression:
    """Trino's session functions, answered from the session (DuckDB has its own)."""
    values: dict[type[exp.Expression], str] = {
        exp.CurrentVersion: VERSION,
        exp.CurrentTimezone: ctx.session.time_zone,
        exp.CurrentCatalog: ctx.session.catalog or CATALOG,
        exp.CurrentSchema: ctx.session.schema or "public",
        exp.CurrentUser: ctx.analyst,
    }

    def swap(node: exp.Expression) -> exp.Expression:
        value = values.get(type(node))
        if value is None and isinstance(node, exp.Column) and not node.table \
                and node.name.lower() == "current_schema":
            value = values[exp.CurrentSchema]
        if value is None:
            return node
        return exp.Literal.string(value)  # named `_colN` by _name_outputs

    return tree.transform(swap)


def _name_outputs(select: exp.Expression) -> None:
    """Unnamed expressions are `_col0`, `_col1`, … in Trino (notes §2.5)."""
    if not isinstance(select, exp.Select):
        return
    for i, item in enumerate(select.expressions):
        if not isinstance(item, exp.Alias | exp.Column | exp.Star):
            item.replace(exp.alias_(item.copy(), f"_col{i}"))


def answer(ctx: Context, tree: exp.Expression, keys: dict[int, MetaKey]) -> Outcome:
    """Run a catalog or constant SELECT (changing `tree`); `keys` maps id(Table node)
    to its emulated table."""
    used: list[MetaKey] = []
    for table in list(tree.find_all(exp.Table)):
        key = keys.get(id(table))
        if key is None:
            continue
        used.append(key)
        alias = table.args.get("alias")
        renamed = exp.to_table(internal_name(key), quoted=True)
        if alias is not None:
            renamed.set("alias", alias)
        table.replace(renamed)
    tree = _constants(tree, ctx)
    _name_outputs(tree)

    def budget() -> list[tuple[object, ...]]:
        from ..routes.analyst import budget as budget_route  # the JSON API's own reading

        status = budget_route(Principal(ctx.analyst, "analyst"), ctx.svc)
        epsilon, delta = ctx.defaults()
        dataset = status.dataset
        return [(status.analyst, status.accounting,
                 status.granted.epsilon if status.granted else None,
                 status.granted.delta if status.granted else None,
                 status.spent.epsilon, status.spent.delta,
                 status.remaining.epsilon, status.remaining.delta,
                 status.expires, status.expired,
                 dataset.remaining.epsilon if dataset else None,
                 dataset.remaining.delta if dataset else None, epsilon, delta)]

    try:
        columns, rows = run(tree.sql(dialect="duckdb"), used,
                            MetaContext(ctx.catalog, budget))
    except duckdb.Error as err:
        # the message can name only the emulated tables and the query's own text
        first = str(err).splitlines()[0][:300]
        raise TrinoError("unsupported_query", f"could not answer this catalog query: {first}",
                         NOT_SUPPORTED) from None
    return Outcome(columns, [list(r) for r in rows])

