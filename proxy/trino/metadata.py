"""The catalog as SQL tables: `information_schema`, `system.jdbc`,
`system.metadata` and `dpsql.budget`, answered from the deployment's metadata.

BI tools browse the catalog by running SQL (notes/trino-protocol.md §4), with
any WHERE, ORDER BY or LIKE … ESCAPE their code builds. Rather than recognise
each text, dpsql lays the metadata out as small tables in a private in-memory
DuckDB and runs the client's query there: only these tables exist in it, and
it may not read files or load extensions, so nothing but metadata the analyst
may see anyway (`GET /v1/tables`) can come out. None of it costs budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from rewriter import Catalog, Table
from rewriter.metadata import PublicKeysRef

from . import types
from .session import CATALOG, DPSQL_SCHEMA, SCHEMA

Row = tuple[Any, ...]


@dataclass(frozen=True)
class MetaTable:
    """One emulated table: DuckDB column definitions, and how to fill it."""

    columns: tuple[tuple[str, str], ...]
    rows: Callable[[MetaContext], Iterable[Row]]


@dataclass(frozen=True)
class MetaContext:
    catalog: Catalog
    budget: Callable[[], Sequence[Row]]  # one row: the analyst's budget now


# --- what the tables hold ------------------------------------------------------


def table_comment(table: Table) -> str:
    if table.public:
        return "public table: no personal data, free to join on its unique columns"
    return (f"private table: aggregates only, with noise; privacy unit {table.privacy_unit}, "
            f"at most {table.max_rows_per_unit} row(s) and {table.max_groups_per_unit} "
            "group(s) per person")


def column_comment(catalog: Catalog, name: str, table: Table, column: str) -> str | None:
    if table.public:
        return None
    col = table.columns[column]
    if column == table.privacy_unit:
        return "privacy unit: never selected or grouped"
    notes = []
    if col.bounded:
        notes.append(f"bounded [{col.lower}, {col.upper}]: usable in SUM/AVG/quantiles")
    if col.public_keys is not None:
        keys = catalog.public_keys(name, column) or ()
        source = (f" from {col.public_keys.table}.{col.public_keys.column}"
                  if isinstance(col.public_keys, PublicKeysRef) else "")
        notes.append(f"group key: {len(keys)} public keys{source}")
    elif not col.groupable:
        notes.append("not groupable")
    return "; ".join(notes) or None


def columns_of(catalog: Catalog) -> Iterable[tuple[str, int, str, str, Table]]:
    """(table, ordinal, column, trino type, table metadata), in declaration order."""
    for name, table in sorted(catalog.tables.items()):
        for ordinal, (column, col) in enumerate(table.columns.items(), start=1):
            yield name, ordinal, column, types.from_dpsql(col.type), table


_BUDGET_COLUMNS = (
    ("analyst", "VARCHAR"), ("accounting", "VARCHAR"),
    ("granted_epsilon", "DOUBLE"), ("granted_delta", "DOUBLE"),
    ("spent_epsilon", "DOUBLE"), ("spent_delta", "DOUBLE"),
    ("remaining_epsilon", "DOUBLE"), ("remaining_delta", "DOUBLE"),
    ("expires", "VARCHAR"), ("expired", "BOOLEAN"),
    ("dataset_remaining_epsilon", "DOUBLE"), ("dataset_remaining_delta", "DOUBLE"),
    ("session_epsilon", "DOUBLE"), ("session_delta", "DOUBLE"),
)
BUDGET_VIEW = (f"SELECT * FROM {CATALOG}.{DPSQL_SCHEMA}.budget -- your privacy budget, "
               "as GET /v1/budget reports it; session_* is what one query spends now")


def _schemata(ctx: MetaContext) -> Iterable[Row]:
    for schema in (SCHEMA, DPSQL_SCHEMA, "information_schema"):
        yield CATALOG, schema


def _tables(ctx: MetaContext) -> Iterable[Row]:
    for name in sorted(ctx.catalog.tables):
        yield CATALOG, SCHEMA, name, "BASE TABLE"
    yield CATALOG, DPSQL_SCHEMA, "budget", "VIEW"


def _columns(ctx: MetaContext) -> Iterable[Row]:
    for name, ordinal, column, typ, table in columns_of(ctx.catalog):
        yield (CATALOG, SCHEMA, name, column, ordinal, None, "YES", typ,
               column_comment(ctx.catalog, name, table, column), None)
    for ordinal, (column, duck) in enumerate(_BUDGET_COLUMNS, start=1):
        yield (CATALOG, DPSQL_SCHEMA, "budget", column, ordinal, None, "YES",
               types.from_duckdb(duck), None, None)


def _views(ctx: MetaContext) -> Iterable[Row]:
    yield CATALOG, DPSQL_SCHEMA, "budget", "dpsql", BUDGET_VIEW


def _jdbc_tables(ctx: MetaContext) -> Iterable[Row]:
    for catalog, schema, name, kind in _tables(ctx):
        found = ctx.catalog.tables.get(name) if schema == SCHEMA else None
        remarks = table_comment(found) if found else "your privacy budget"
        yield (catalog, schema, name, "TABLE" if kind == "BASE TABLE" else "VIEW", remarks,
               None, None, None, None, None)


def _jdbc_columns(ctx: MetaContext) -> Iterable[Row]:
    for row in _columns(ctx):
        catalog, schema, table, column, ordinal, _, _, typ, comment, _ = row
        raw = types.raw_type(typ)
        size = {"bigint": 19, "integer": 10, "double": 53, "boolean": 1, "date": 10,
                "timestamp": 23}.get(raw, types.VARCHAR_UNBOUNDED if raw == "varchar" else None)
        yield (catalog, schema, table, column, types.JDBC_CODES.get(raw, 1111), typ, size, None,
               3 if raw == "timestamp" else None, 2 if raw in ("double",) else
               10 if raw in ("bigint", "integer") else None, 1, comment, None, None, None,
               types.VARCHAR_UNBOUNDED if raw == "varchar" else None, ordinal, "YES",
               None, None, None, None, "NO", "NO")


_TYPE_INFO = ("bigint", "boolean", "date", "double", "integer", "timestamp", "varchar")


def _jdbc_types(ctx: MetaContext) -> Iterable[Row]:
    for name in _TYPE_INFO:
        quoted = name in ("varchar", "date", "timestamp")
        precision = {"bigint": 19, "integer": 10, "double": 53, "varchar": types.VARCHAR_UNBOUNDED,
                     "date": 10, "timestamp": 23, "boolean": 1}[name]
        yield (name, types.JDBC_CODES[name], precision, "'" if quoted else None,
               "'" if quoted else None, None, 1, name == "varchar", 3, name not in (
                   "bigint", "integer", "double"), False, False, None, 0, 0, None, None,
               2 if name == "double" else 10 if name in ("bigint", "integer") else None)


def _empty(ctx: MetaContext) -> Iterable[Row]:
    return ()


def _v(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((n, "VARCHAR") for n in names)


def _i(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((n, "INTEGER") for n in names)


TABLES: dict[tuple[str, str], MetaTable] = {
    ("information_schema", "schemata"): MetaTable(_v("catalog_name", "schema_name"), _schemata),
    ("information_schema", "tables"): MetaTable(
        _v("table_catalog", "table_schema", "table_name", "table_type"), _tables),
    ("information_schema", "columns"): MetaTable(
        _v("table_catalog", "table_schema", "table_name", "column_name")
        + (("ordinal_position", "BIGINT"),)
        + _v("column_default", "is_nullable", "data_type", "comment", "extra_info"), _columns),
    ("information_schema", "views"): MetaTable(
        _v("table_catalog", "table_schema", "table_name", "view_owner", "view_definition"),
        _views),
    ("jdbc", "catalogs"): MetaTable(_v("table_cat"), lambda ctx: [(CATALOG,)]),
    ("jdbc", "schemas"): MetaTable(
        _v("table_schem", "table_catalog"), lambda ctx: [(s, c) for c, s in _schemata(ctx)]),
    ("jdbc", "tables"): MetaTable(
        _v("table_cat", "table_schem", "table_name", "table_type", "remarks", "type_cat",
           "type_schem", "type_name", "self_referencing_col_name", "ref_generation"),
        _jdbc_tables),
    ("jdbc", "table_types"): MetaTable(_v("table_type"), lambda ctx: [("TABLE",), ("VIEW",)]),
    ("jdbc", "columns"): MetaTable(
        _v("table_cat", "table_schem", "table_name", "column_name") + _i("data_type")
        + _v("type_name") + _i("column_size", "buffer_length", "decimal_digits",
                               "num_prec_radix", "nullable") + _v("remarks", "column_def")
        + _i("sql_data_type", "sql_datetime_sub", "char_octet_length", "ordinal_position")
        + _v("is_nullable", "scope_catalog", "scope_schema", "scope_table")
        + (("source_data_type", "SMALLINT"),) + _v("is_autoincrement", "is_generatedcolumn"),
        _jdbc_columns),
    ("jdbc", "types"): MetaTable(
        _v("type_name") + _i("data_type") + (("precision", "BIGINT"),)
        + _v("literal_prefix", "literal_suffix", "create_params") + _i("nullable")
        + (("case_sensitive", "BOOLEAN"),) + _i("searchable")
        + (("unsigned_attribute", "BOOLEAN"), ("fixed_prec_scale", "BOOLEAN"),
           ("auto_increment", "BOOLEAN")) + _v("local_type_name")
        + _i("minimum_scale", "maximum_scale", "sql_data_type", "sql_datetime_sub",
             "num_prec_radix"), _jdbc_types),
    # what JDBC DatabaseMetaData asks with LIMIT 0: the shape, never rows
    ("jdbc", "procedures"): MetaTable(
        _v("procedure_cat", "procedure_schem", "procedure_name", "remarks")
        + _i("procedure_type") + _v("specific_name"), _empty),
    ("jdbc", "procedure_columns"): MetaTable(
        _v("procedure_cat", "procedure_schem", "procedure_name", "column_name")
        + _i("column_type", "data_type") + _v("type_name")
        + _i("precision", "length", "scale", "radix", "nullable") + _v("remarks", "column_def")
        + _i("sql_data_type", "sql_datetime_sub", "char_octet_length", "ordinal_position")
        + _v("is_nullable", "specific_name"), _empty),
    ("jdbc", "udts"): MetaTable(
        _v("type_cat", "type_schem", "type_name", "class_name") + _i("data_type")
        + _v("remarks") + _i("base_type"), _empty),
    ("jdbc", "super_types"): MetaTable(
        _v("type_cat", "type_schem", "type_name", "supertype_cat", "supertype_schem",
           "supertype_name"), _empty),
    ("jdbc", "super_tables"): MetaTable(
        _v("table_cat", "table_schem", "table_name", "supertable_name"), _empty),
    ("jdbc", "attributes"): MetaTable(
        _v("type_cat", "type_schem", "type_name", "attr_name") + _i("data_type")
        + _v("attr_type_name") + _i("attr_size", "decimal_digits", "num_prec_radix",
                                    "nullable") + _v("remarks", "attr_def")
        + _i("sql_data_type", "sql_datetime_sub", "char_octet_length", "ordinal_position")
        + _v("is_nullable", "scope_catalog", "scope_schema", "scope_table")
        + (("source_data_type", "SMALLINT"),), _empty),
    ("jdbc", "pseudo_columns"): MetaTable(
        _v("table_cat", "table_schem", "table_name", "column_name") + _i("data_type")
        + _i("column_size", "decimal_digits", "num_prec_radix") + _v("column_usage", "remarks")
        + _i("char_octet_length") + _v("is_nullable"), _empty),
    ("metadata", "table_comments"): MetaTable(
        _v("catalog_name", "schema_name", "table_name", "comment"),
        lambda ctx: [(CATALOG, SCHEMA, n, table_comment(t))
                     for n, t in sorted(ctx.catalog.tables.items())]),
    (DPSQL_SCHEMA, "budget"): MetaTable(_BUDGET_COLUMNS, lambda ctx: ctx.budget()),
}


def internal_name(key: tuple[str, str]) -> str:
    return f"meta__{key[0]}__{key[1]}"


def run(sql: str, used: Iterable[tuple[str, str]], ctx: MetaContext,
        ) -> tuple[list[tuple[str, str]], list[Row]]:
    """Run `sql` (DuckDB dialect, its tables already renamed by `internal_name`)
    over the emulated tables it uses; returns ((name, trino type), rows)."""
    con = duckdb.connect(":memory:", config={
        "enable_external_access": False, "autoinstall_known_extensions": False,
        "autoload_known_extensions": False, "threads": 1,
        "memory_limit": "256MB"})
    try:
        for key in dict.fromkeys(used):
            table = TABLES[key]
            name = internal_name(key)
            definition = ", ".join(f'"{c}" {t}' for c, t in table.columns)  # our own names
            con.execute(f'CREATE TABLE "{name}" ({definition})')
            rows = list(table.rows(ctx))
            if rows:
                marks = ", ".join("?" for _ in table.columns)
                con.executemany(f'INSERT INTO "{name}" VALUES ({marks})', rows)
        con.execute("SET lock_configuration = true")
        cursor = con.execute(sql)
        description = cursor.description or []
        result = cursor.fetchall()
        columns = [(d[0], types.from_duckdb(str(d[1]))) for d in description]
        return columns, result
    finally:
        con.close()
