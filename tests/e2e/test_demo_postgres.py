"""`dpsql demo --engine postgres`: the demo loads into PostgreSQL, is read
through a read-only role the engine accepts, and answers like the DuckDB demo."""

from __future__ import annotations

import secrets
from pathlib import Path

import psycopg
from psycopg import sql

from proxy.engines.postgres import PostgresEngine
from proxy.pgload import install_demo
from tests.pg import ADMIN_DSN, require_postgres


def test_demo_loads_into_postgres_behind_a_reader_role(demo_db: Path) -> None:
    require_postgres()
    suffix = secrets.token_hex(4)
    database, reader = f"dpsql_demo_test_{suffix}", f"dpsql_demo_reader_{suffix}"
    try:
        dsn = install_demo(demo_db, ADMIN_DSN, database=database, reader=reader)
        again = install_demo(demo_db, ADMIN_DSN, database=database, reader=reader)
        assert again == dsn, "a second demo start reuses the loaded database"
        engine = PostgresEngine(dsn, statement_timeout_s=10)  # refuses writers at start-up
        try:
            count = engine.execute("SELECT COUNT(*) FROM employees").rows[0][0]
        finally:
            engine.close()
        assert count == 3000
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(database)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(reader)))
