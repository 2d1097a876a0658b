"""Build the rewriter's catalog from the config, resolving public keys that
name a public table's column by reading that (public) column once at start-up."""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from rewriter import Catalog, PublicKeysRef, Table
from rewriter.catalog import DEFAULT_CATALOGS, DEFAULT_SCHEMAS
from rewriter.metadata import KeyValue

from .config import NamesConfig
from .engines.base import Engine


def distinct_values_sql(table: str, column: str, dialect: str) -> str:
    col = exp.column(column, quoted=True)
    query = (
        exp.select(col).distinct()
        .from_(exp.Table(this=exp.to_identifier(table, quoted=True)))
        .where(exp.Not(this=exp.Is(this=col.copy(), expression=exp.Null())))
        .order_by(col.copy())
    )
    return query.sql(dialect=dialect)


def build_catalog(tables: Mapping[str, Table], engine: Engine,
                  names: NamesConfig | None = None) -> Catalog:
    resolved: dict[tuple[str, str], tuple[KeyValue, ...]] = {}
    for name, table in tables.items():
        for column_name, column in table.columns.items():
            ref = column.public_keys
            if isinstance(ref, PublicKeysRef):
                result = engine.execute(distinct_values_sql(ref.table, ref.column, engine.dialect))
                resolved[(name, column_name)] = tuple(row[0] for row in result.rows)
    names = names or NamesConfig()
    return Catalog(dict(tables), resolved,
                   schemas=DEFAULT_SCHEMAS | frozenset(names.schemas),
                   catalogs=DEFAULT_CATALOGS | frozenset([names.catalog] if names.catalog else []))
