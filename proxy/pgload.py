"""Load DuckDB tables into PostgreSQL: the demo on PostgreSQL and the tests
that run every engine test twice both start from the same DuckDB file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["copy_duckdb_to_postgres", "copy_rows", "create_table"]

# DuckDB type name -> PostgreSQL type
_TYPES = {
    "INTEGER": "integer",
    "INT": "integer",
    "SMALLINT": "smallint",
    "BIGINT": "bigint",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "VARCHAR": "text",
    "DATE": "date",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
}


def _pg_type(duck_type: str) -> str:
    upper = duck_type.upper()
    if upper.startswith("DECIMAL"):
        return "numeric" + upper.removeprefix("DECIMAL")
    try:
        return _TYPES[upper]
    except KeyError:
        raise ValueError(f"no PostgreSQL type for DuckDB type {duck_type}") from None


def copy_duckdb_to_postgres(
    duckdb_path: str | Path, admin_dsn: str, tables: list[str] | None = None
) -> None:
    """Copy tables (default: all) of a DuckDB file into PostgreSQL with matching
    column types, via COPY FROM STDIN, then ANALYZE."""
    import duckdb  # the proxy's own dependency; imported here to keep import light

    source = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        names = tables if tables is not None else [
            r[0] for r in source.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main' ORDER BY table_name"
            ).fetchall()
        ]
        with psycopg.connect(admin_dsn, connect_timeout=5) as conn:
            for name in names:
                columns = source.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                    [name],
                ).fetchall()
                if not columns:
                    raise ValueError(f"{duckdb_path} has no table {name}")
                create_table(conn, name, [(c, _pg_type(t)) for c, t in columns])
                cursor = source.execute(
                    "SELECT " + ", ".join(_duck_ident(c) for c, _ in columns)
                    + " FROM " + _duck_ident(name)
                )
                copy_rows(conn, name, [c for c, _ in columns], _batches(cursor))
            conn.commit()
            conn.autocommit = True
            conn.execute("ANALYZE")
    finally:
        source.close()


def _duck_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _batches(cursor: Any, size: int = 50_000) -> Iterator[tuple[Any, ...]]:
    while batch := cursor.fetchmany(size):
        yield from batch


def create_table(
    conn: psycopg.Connection[Any], table: str, columns: Sequence[tuple[str, str]]
) -> None:
    conn.execute(
        sql.SQL("CREATE TABLE {} ({})").format(
            sql.Identifier(table),
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns
            ),
        )
    )


def copy_rows(
    conn: psycopg.Connection[Any], table: str, columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


DEMO_DATABASE = "dpsql_demo"
DEMO_READER = "dpsql_demo_reader"


def install_demo(
    duckdb_path: str | Path, admin_dsn: str, *,
    database: str = DEMO_DATABASE, reader: str = DEMO_READER,
) -> str:
    """Load the demo into its own PostgreSQL database, once, with a read-only
    role; return the reader's DSN. An existing demo database is reused."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    db, role = sql.Identifier(database), sql.Identifier(reader)
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (reader,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(db))
    demo_admin = make_conninfo(admin_dsn, dbname=database)
    if not exists:
        copy_duckdb_to_postgres(duckdb_path, demo_admin)
        with psycopg.connect(demo_admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, role))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
            conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(role))
    params = conninfo_to_dict(admin_dsn)
    host, port = params.get("host", "127.0.0.1"), params.get("port", "5432")
    return f"postgresql://{reader}@{host}:{port}/{database}"
