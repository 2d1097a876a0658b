"""The benchmark's tables in PostgreSQL: one database per size, loaded once.

``ensure_postgres(duckdb_path, rows)`` copies ``visits`` and ``cities`` from the
cached DuckDB file (``bench/data.py``) into the database ``dpsql_bench_<rows>``
and returns the DSN of a read-only role there, as ``PostgresEngine`` demands
(it refuses superusers and writers at start-up).

Loading 10 M rows has to be quick and has to happen only once:

- DuckDB writes each table as CSV into a temporary file, which is streamed to
  ``COPY … FROM STDIN (FORMAT csv, FREEZE)`` in large chunks: no per-row Python.
  The table is created in the same transaction, so ``FREEZE`` applies and the
  rows need no later vacuum to set their hint bits;
- then ``ANALYZE``, so the planner knows the sizes;
- the SHA-256 of the DuckDB file, with the row count, is kept in
  ``bench_meta.fingerprint`` (a schema the reader cannot see). When it matches,
  the loaded tables are reused as they are.

The admin DSN defaults to the local server (``postgres`` over TCP, trust auth);
``DPSQL_BENCH_PG`` overrides it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

__all__ = [
    "ADMIN_DSN", "database_name", "drop_postgres", "ensure_postgres", "fingerprint",
    "unreachable_reason",
]

ADMIN_DSN = os.environ.get("DPSQL_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PREFIX = "dpsql_bench"  # databases <prefix>_<rows>, read-only role <prefix>_reader
TABLES = ("visits", "cities")
_CHUNK = 1 << 20

# DuckDB types of bench/data.py's tables -> PostgreSQL
_PG_TYPES = {"INTEGER": "integer", "DATE": "date", "VARCHAR": "text", "DOUBLE": "double precision"}


def database_name(rows: int, prefix: str = PREFIX) -> str:
    return f"{prefix}_{rows}"


def unreachable_reason(admin_dsn: str = ADMIN_DSN) -> str | None:
    """None when the server answers; else why not, for a message on stderr."""
    try:
        with psycopg.connect(admin_dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
    return None


def fingerprint(path: Path) -> str:
    """SHA-256 of the DuckDB file (about 1 s for the 10 M-row file)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _admin(dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn, autocommit=True, connect_timeout=5)


def _stored_fingerprint(conn: psycopg.Connection[Any]) -> tuple[str, int] | None:
    conn.execute("CREATE SCHEMA IF NOT EXISTS bench_meta")
    conn.execute("CREATE TABLE IF NOT EXISTS bench_meta.fingerprint "
                 "(source_sha256 text NOT NULL, rows bigint NOT NULL)")
    row = conn.execute("SELECT source_sha256, rows FROM bench_meta.fingerprint").fetchone()
    return (row[0], row[1]) if row else None


def _columns(source: Any, table: str) -> list[tuple[str, str]]:
    return [
        (name, _PG_TYPES[kind])
        for name, kind in source.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]


def _load(duckdb_path: Path, admin: str, reader: str, digest: str, rows: int) -> None:
    import duckdb

    source = duckdb.connect(str(duckdb_path), read_only=True)
    tmp = tempfile.TemporaryDirectory(prefix="dpsql-bench-pg-")
    try:
        with psycopg.connect(admin, connect_timeout=5) as conn:  # one transaction
            conn.execute("DELETE FROM bench_meta.fingerprint")
            for table in TABLES:
                columns = _columns(source, table)
                csv = Path(tmp.name) / f"{table}.csv"
                target = str(csv).replace("'", "''")
                source.execute(f"COPY {table} TO '{target}' (FORMAT csv, HEADER false)")
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
                conn.execute(sql.SQL("CREATE TABLE {} ({})").format(
                    sql.Identifier(table),
                    sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))
                                       for c, t in columns),
                ))
                statement = sql.SQL("COPY {} FROM STDIN (FORMAT csv, FREEZE)").format(
                    sql.Identifier(table))
                with conn.cursor() as cur, cur.copy(statement) as copy, csv.open("rb") as f:
                    while chunk := f.read(_CHUNK):
                        copy.write(chunk)
                csv.unlink()
                conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
                    sql.Identifier(table), sql.Identifier(reader)))
            conn.execute("INSERT INTO bench_meta.fingerprint VALUES (%s, %s)", (digest, rows))
        with _admin(admin) as conn:
            for table in TABLES:
                conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    finally:
        source.close()
        tmp.cleanup()


def ensure_postgres(
    duckdb_path: Path, rows: int, admin_dsn: str = ADMIN_DSN, prefix: str = PREFIX
) -> str:
    """Load (or reuse) the tables for ``rows``; return the read-only role's DSN."""
    name, reader = database_name(rows, prefix), f"{prefix}_reader"
    db, role = sql.Identifier(name), sql.Identifier(reader)
    with _admin(admin_dsn) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (reader,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(db))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, role))
    admin = make_conninfo(admin_dsn, dbname=name)
    digest = fingerprint(duckdb_path)
    with _admin(admin) as conn:
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
        stored = _stored_fingerprint(conn)
    if stored != (digest, rows):
        _load(duckdb_path, admin, reader, digest, rows)
    return make_conninfo(admin_dsn, dbname=name, user=reader)


def drop_postgres(sizes: list[int], admin_dsn: str = ADMIN_DSN, prefix: str = PREFIX) -> None:
    """Drop the databases for ``sizes`` and then the reader role (tests clean up so)."""
    with _admin(admin_dsn) as conn:
        for rows in sizes:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(database_name(rows, prefix))))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(f"{prefix}_reader")))
