"""Support for tests that run on the local PostgreSQL: throwaway databases with a
read-only role, and copies of DuckDB tables. Plain functions; conftest files
wrap them in fixtures. Importing this module never connects.

PostgreSQL is a required test dependency: when it is down, tests fail with the
command that starts it rather than being skipped.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from proxy.pgload import copy_duckdb_to_postgres, copy_rows

__all__ = [
    "ADMIN_DSN",
    "copy_duckdb_to_postgres",
    "load_rows",
    "require_postgres",
    "throwaway_database",
]

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
NOT_REACHABLE = (
    "PostgreSQL is not reachable at 127.0.0.1:5432; start it with: "
    "pg_ctlcluster --skip-systemctl-redirect 15 main start"
)

def require_postgres() -> None:
    try:
        with psycopg.connect(ADMIN_DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        pytest.fail(NOT_REACHABLE, pytrace=False)


def _admin(dsn: str = ADMIN_DSN) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn, autocommit=True, connect_timeout=5)


def _with_db(dsn: str, *, dbname: str, user: str | None = None) -> str:
    return make_conninfo(dsn, dbname=dbname, **({"user": user} if user else {}))


@contextmanager
def throwaway_database(prefix: str = "dpsql_test") -> Iterator[tuple[str, str]]:
    """A fresh database and a read-only LOGIN role; yields (admin_dsn, reader_dsn).

    The reader may CONNECT, USE schema public and SELECT every table in it,
    including tables the admin creates later (ALTER DEFAULT PRIVILEGES).
    Both are dropped afterwards, leftover connections first.
    """
    suffix = secrets.token_hex(4)
    dbname, reader = f"{prefix}_{suffix}", f"{prefix}_reader_{suffix}"
    db, role = sql.Identifier(dbname), sql.Identifier(reader)
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(db))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, role))
    admin_dsn = _with_db(ADMIN_DSN, dbname=dbname)
    try:
        with _admin(admin_dsn) as conn:
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
            conn.execute(
                sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {}")
                .format(role)
            )
        yield admin_dsn, _with_db(ADMIN_DSN, dbname=dbname, user=reader)
    finally:
        _drop(dbname, reader)


def _drop(dbname: str, reader: str) -> None:
    with _admin() as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(dbname)))
        # the role's default-privilege entries lived in the dropped database
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(reader)))


def load_rows(
    admin_dsn: str, table: str, columns_sql: str, rows: Iterable[Sequence[Any]]
) -> None:
    """Create ``table`` with ``columns_sql`` (e.g. ``"id integer, name text"``,
    test-authored) and copy ``rows`` into it."""
    with psycopg.connect(admin_dsn, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table), sql.SQL(columns_sql))
        )
        names = [c.name for c in conn.execute(
            sql.SQL("SELECT * FROM {} LIMIT 0").format(sql.Identifier(table))
        ).description or ()]
        copy_rows(conn, table, names, rows)
