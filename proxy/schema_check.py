"""The database is the source of truth for what exists (issue #19).

Every declared table and column is checked against the engine's catalog
(``information_schema.columns``, which DuckDB and PostgreSQL both keep) at
start-up and on every owner change: a table or column that does not exist, or
a declared type the stored type cannot hold, is a mismatch named in one line.
Without this check an analyst's query over a misdeclared column would pass the
rewriter, be charged, and fail in the engine: the analyst would pay for the
owner's mistake.

Reading the catalog reads names and types only, never rows, so it costs no
privacy. Public tables declared without columns take theirs from the engine
(:func:`complete_public`): every column of a public table is public data.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass

from sqlglot import exp

from rewriter import PublicKeysRef, Table
from rewriter.metadata import Column, ColumnType

from .engines.base import METADATA_TIMEOUT_S, Engine, EngineError

__all__ = ["EngineSchema", "complete_public", "mismatches", "read_schema", "dpsql_type"]

# The schema each engine resolves unqualified table names in: DuckDB's default
# schema, and the `public` of the PostgreSQL engine's pinned search_path.
_SCHEMA = {"duckdb": "main", "postgres": "public"}
# engines that compare quoted names ignoring case (Spark: spark.sql.caseSensitive=false)
_CASE_BLIND = ("duckdb", "spark")

# Engine type names (upper case, without their parameters) each declared type
# accepts. A declared `float` may read an integer column (every integer is a
# number); a declared `integer` may not read a DOUBLE or a DECIMAL, as the
# rewrite sums integers exactly and would be handed fractions.
_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "UTINYINT",
            "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "INT2", "INT4", "INT8"}
_FLOAT = {"FLOAT", "REAL", "DOUBLE", "DOUBLE PRECISION", "DECIMAL", "NUMERIC", "FLOAT4",
          "FLOAT8"}
_TEXT = {"VARCHAR", "TEXT", "CHARACTER VARYING", "CHARACTER", "CHAR", "BPCHAR", "STRING",
         "NAME"}
_TIMESTAMP = {"TIMESTAMP", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP WITHOUT TIME ZONE",
              "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ", "TIMESTAMP_S", "TIMESTAMP_MS",
              "TIMESTAMP_NS", "DATETIME"}
ACCEPTS: dict[str, frozenset[str]] = {
    "integer": frozenset(_INTEGER),
    "float": frozenset(_INTEGER | _FLOAT),
    "text": frozenset(_TEXT),
    "boolean": frozenset({"BOOLEAN", "BOOL"}),
    "date": frozenset({"DATE"}),
    "timestamp": frozenset(_TIMESTAMP),
}
# The dpsql type a public table's undeclared column takes (the first that accepts it).
_INFER: tuple[ColumnType, ...] = ("integer", "float", "text", "boolean", "date", "timestamp")


@dataclass(frozen=True)
class EngineSchema:
    """Table name -> column name -> engine type name, as the engine spells them."""

    dialect: str
    tables: Mapping[str, Mapping[str, str]]

    def find_table(self, name: str) -> tuple[str, Mapping[str, str]] | None:
        """The engine's table for a declared name. dpsql quotes every identifier
        it generates: PostgreSQL then compares names exactly, DuckDB ignoring case."""
        if name in self.tables:
            return name, self.tables[name]
        if self.dialect in _CASE_BLIND:
            for key, columns in self.tables.items():
                if key.lower() == name.lower():
                    return key, columns
        return None

    def find_column(self, columns: Mapping[str, str], name: str) -> str | None:
        if name in columns:
            return name
        if self.dialect in _CASE_BLIND:
            for key in columns:
                if key.lower() == name.lower():
                    return key
        return None


def _base_type(engine_type: str) -> str:
    """`DECIMAL(18,3)` -> `DECIMAL`, `character varying` -> `CHARACTER VARYING`."""
    return re.sub(r"\s*\(.*\)\s*$", "", engine_type.strip()).upper()


def dpsql_type(engine_type: str) -> ColumnType | None:
    base = _base_type(engine_type)
    for kind in _INFER:
        if base in ACCEPTS[kind]:
            return kind
    return None


def catalog_sql(dialect: str) -> str:
    """Every column of every table (and view) in the engine's default schema."""
    info = exp.Table(this=exp.to_identifier("columns"),
                     db=exp.to_identifier("information_schema"))
    query = (
        exp.select("table_name", "column_name", "data_type").from_(info)
        .where(exp.column("table_schema").eq(exp.Literal.string(_SCHEMA[dialect])))
        .order_by("table_name", "ordinal_position")
    )
    return query.sql(dialect=dialect)


def read_schema(engine: Engine) -> EngineSchema:
    """The engine's tables and column types; raises EngineError when it cannot be read."""
    columns = getattr(engine, "columns", None)
    if columns is not None:  # Spark keeps no information_schema: its views' own schemas
        return EngineSchema(engine.dialect, columns())
    rows = engine.execute(catalog_sql(engine.dialect), timeout_s=METADATA_TIMEOUT_S).rows
    tables: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        tables.setdefault(str(table), {})[str(column)] = str(data_type)
    return EngineSchema(engine.dialect, tables)


def _column_problem(table: str, name: str, column: Column, engine_type: str) -> str | None:
    accepted = ACCEPTS[column.type]
    if _base_type(engine_type) in accepted:
        return None
    suggestion = dpsql_type(engine_type)
    fix = (f"declare `type: {suggestion}`" if suggestion
           else "dpsql cannot read this type; remove the column from the metadata")
    return (f"tables.{table}.columns.{name}: declared `{column.type}`, but the database "
            f"stores {engine_type}; {fix}")


def mismatches(tables: Mapping[str, Table], schema: EngineSchema) -> list[str]:
    """One line per declared table or column the engine contradicts."""
    problems: list[str] = []
    for name, table in tables.items():
        found = schema.find_table(name)
        if found is None:
            known = ", ".join(sorted(schema.tables)) or "none"
            hidden = (" or dpsql's role may not read it" if schema.dialect == "postgres"
                      else "")
            problems.append(f"tables.{name}: no such table in the database{hidden} (it has: "
                            f"{known}); fix the name or remove the table from the metadata")
            continue
        _, columns = found
        for col_name, column in table.columns.items():
            stored = schema.find_column(columns, col_name)
            if stored is None:
                problems.append(
                    f"tables.{name}.columns.{col_name}: no such column in the database table "
                    f"{found[0]} (it has: {', '.join(columns)}); fix the name or remove it")
                continue
            problem = _column_problem(name, col_name, column, columns[stored])
            if problem:
                problems.append(problem)
            if isinstance(column.public_keys, PublicKeysRef):
                problems += _reference_problems(schema, f"tables.{name}.columns.{col_name}",
                                                column, column.public_keys)
    return problems


def _reference_problems(schema: EngineSchema, path: str, column: Column,
                        ref: PublicKeysRef) -> list[str]:
    """Keys read from another table's column must exist and be of this column's type:
    they are compared with it in the rewritten SQL."""
    found = schema.find_table(ref.table)
    stored = None if found is None else schema.find_column(found[1], ref.column)
    if found is None or stored is None:
        return [f"{path}.public_keys: reads {ref.table}.{ref.column}, which the database "
                "does not have"]
    if _base_type(found[1][stored]) not in ACCEPTS[column.type]:
        return [f"{path}.public_keys: reads {ref.table}.{ref.column}, stored as "
                f"{found[1][stored]}, as keys of a {column.type} column; name a column of "
                "the same type"]
    return []


def complete_public(tables: Mapping[str, Table], schema: EngineSchema,
                    engine: Engine | None = None) -> dict[str, Table]:
    """Public tables declared without columns get every column the engine has whose
    type dpsql reads (declared columns are kept as they are). With `engine`, each
    such column also gets the multiplicity the data shows (`unique` when no value
    repeats), so the table can be joined at once; the data is public, and the
    declaration is as fresh as the last start-up or owner change, like a declared one."""
    completed: dict[str, Table] = {}
    for name, table in tables.items():
        found = schema.find_table(name) if table.public and not table.columns else None
        if found is None:
            completed[name] = table
            continue
        columns: dict[str, Column] = {}
        for col, stored in found[1].items():
            kind = dpsql_type(stored)
            if kind is None or col.startswith("__"):
                continue
            columns[col] = Column(type=kind, **_multiplicity(engine, found[0], col))
        completed[name] = table.model_copy(update={"columns": columns})
    return completed


def _multiplicity(engine: Engine | None, table: str, column: str) -> dict[str, typing.Any]:
    from .multiplicity import multiplicity_sql

    if engine is None:
        return {}
    rows = engine.execute(multiplicity_sql(table, column, engine.dialect),
                          timeout_s=METADATA_TIMEOUT_S).rows
    found = int(rows[0][0]) if rows and rows[0][0] is not None else 1
    if found <= 1:
        return {"unique": True}
    return {"max_multiplicity": found} if found <= 1_000_000 else {}


def check_against_engine(tables: Mapping[str, Table], engine: Engine) -> list[str]:
    """`mismatches` against the engine's catalog, or the one line saying it cannot be read."""
    try:
        schema = read_schema(engine)
    except EngineError:
        return ["engine: its catalog (information_schema.columns) could not be read; "
                "details are in the server log"]
    return mismatches(tables, schema)
