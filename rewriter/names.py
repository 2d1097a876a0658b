"""Names: resolve schema- and catalog-qualified table names against the deployment's.

BI tools and peers' queries name tables with a schema (`FROM PUMS.PUMS`,
`FROM public.visits`, `FROM dpsql.public.visits`). The deployment has one
namespace: a table is one of the catalog's tables, and a qualifier is accepted
when it is one of the deployment's names for that namespace (`Catalog.schemas`,
`Catalog.catalogs`: the configured ones, plus `main` and `public`, the default
schemas of DuckDB and PostgreSQL, and `dpsql`, the catalog the Trino endpoint
shows). The qualifiers are then dropped, so every later stage sees the names it
always saw, and the normalized text (the answer cache's key) is the same
whether the analyst wrote the prefix or not.

Qualifiers are matched the way the analyst's dialect does: unquoted names
ignore case; a quoted name ignores case in DuckDB (and when no dialect is
named, as DuckDB is the default reader) and must match exactly elsewhere
(PostgreSQL and Trino are case-sensitive for quoted names). Table and column
names themselves keep the rule they always had (the declared spelling, case
ignored), so `"PUMS"` and `pums` name one table.

Privacy: this pass only renames; it depends on the query text and the metadata
alone, so a refusal here is data-independent (SPEC §4.6).
"""

from __future__ import annotations

from sqlglot import exp

from .catalog import Catalog
from .errors import QueryRefused
from .parse import position_of

__all__ = ["resolve_names"]

# dialects whose quoted identifiers ignore case
_CASE_INSENSITIVE_QUOTED = {None, "", "duckdb"}


def _matches(ident: exp.Expr | None, accepted: frozenset[str], dialect: str | None) -> bool:
    if not isinstance(ident, exp.Identifier):
        return False
    if ident.quoted and dialect not in _CASE_INSENSITIVE_QUOTED:
        return ident.this in accepted
    return ident.this.lower() in {a.lower() for a in accepted}


def _cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def resolve_names(tree: exp.Expr, catalog: Catalog, sql: str,
                  dialect: str | None = None) -> exp.Expr:
    """`tree` with accepted schema and catalog qualifiers dropped from tables and columns;
    refuse a qualifier that names another schema or catalog."""
    qualified = [t for t in tree.find_all(exp.Table) if t.args.get("db") or t.args.get("catalog")]
    columns = [c for c in tree.find_all(exp.Column) if c.args.get("db") or c.args.get("catalog")]
    if not qualified and not columns:
        return tree
    schemas = ", ".join(sorted(catalog.schemas))
    ctes = _cte_names(tree)
    for table in qualified:
        db, cat = table.args.get("db"), table.args.get("catalog")
        where = position_of(table, sql)
        if cat is not None and not _matches(cat, catalog.catalogs, dialect):
            raise QueryRefused(
                f"FROM {table.sql()}: the catalog {cat.sql()} holds no table dpsql serves; "
                f"write the table as {table.name}, or qualify it with a schema ({schemas}) "
                f"or a catalog ({', '.join(sorted(catalog.catalogs))})",
                where,
            )
        if db is not None and not _matches(db, catalog.schemas, dialect):
            raise QueryRefused(
                f"FROM {table.sql()}: the schema {db.sql()} holds no table dpsql serves; "
                f"write the table as {table.name}, or qualify it with one of the schemas "
                f"{schemas}",
                where,
            )
        if table.name.lower() in ctes:
            # a qualified name names a stored table, never a CTE: dropping the
            # qualifier would change what it reads
            raise QueryRefused(
                f"FROM {table.sql()}: the query also defines a CTE named {table.name}; "
                "rename the CTE, or drop the qualifier to read the CTE",
                where,
            )
        if not isinstance(table.this, exp.Identifier):
            continue  # refused by validation with its own message
        table.set("db", None)
        table.set("catalog", None)
    for column in columns:
        db, cat = column.args.get("db"), column.args.get("catalog")
        if (db is not None and not _matches(db, catalog.schemas, dialect)) or (
                cat is not None and not _matches(cat, catalog.catalogs, dialect)):
            raise QueryRefused(
                f"{column.sql()}: write the column as table.column (or schema.table.column "
                f"with a schema among {schemas})",
                position_of(column, sql),
            )
        column.set("db", None)
        column.set("catalog", None)
    return tree
