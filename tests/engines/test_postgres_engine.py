"""The PostgreSQL engine: a read-only role enforced at start-up, read-only
transactions, timeouts, no driver text leaks, and the rewritten SQL giving the
same numbers as on DuckDB where no bound binds."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from proxy.catalog import build_catalog
from proxy.config import ConfigError, EngineConfig
from proxy.demo import build_demo_database, demo_config_yaml
from proxy.engines import DuckDBEngine, EngineError, EngineTimeout, Result, open_engine
from proxy.engines.postgres import READ_ONLY_ROLE_SQL, PostgresEngine
from rewriter import Catalog, Plan, Table, plan_query
from tests.pg import copy_duckdb_to_postgres, load_rows, require_postgres, throwaway_database

GENERIC = EngineError.default_message


@pytest.fixture(scope="module", autouse=True)
def _postgres_is_up() -> None:
    require_postgres()


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pg") / "demo.duckdb"
    build_demo_database(path, people=2000)
    return path


@pytest.fixture(scope="module")
def dsns(demo_path: Path) -> Iterator[tuple[str, str]]:
    """(admin_dsn, reader_dsn) of a database holding the demo tables and `people`."""
    with throwaway_database() as (admin, reader):
        copy_duckdb_to_postgres(demo_path, admin)
        load_rows(admin, "people", "id integer, name text",
                  [(i, f"secret-{i}") for i in range(100)])
        yield admin, reader


@pytest.fixture
def engine(dsns: tuple[str, str]) -> Iterator[PostgresEngine]:
    eng = PostgresEngine(dsns[1], statement_timeout_s=1.0)
    yield eng
    eng.close()


@contextmanager
def _role(admin_dsn: str, *grants: str) -> Iterator[str]:
    """A reader role with extra ``grants`` (``{role}`` stands for its name)."""
    name = f"dpsql_t_{secrets.token_hex(4)}"
    role = sql.Identifier(name)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        dbname = conn.info.dbname
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(dbname), role))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(role))
        for grant in grants:
            conn.execute(sql.SQL(grant).format(role=role))  # type: ignore[arg-type]
    try:
        yield psycopg.conninfo.make_conninfo(admin_dsn, user=name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
            conn.execute(sql.SQL("DROP ROLE {}").format(role))


# --- basics ------------------------------------------------------------------------


def test_execute_returns_columns_and_tuple_rows(engine: PostgresEngine) -> None:
    result = engine.execute("SELECT count(*) AS n, max(id) AS top FROM people")
    assert result == Result(columns=("n", "top"), rows=[(100, 99)])
    assert all(type(row) is tuple for row in result.rows)
    assert engine.dialect == "postgres"


def test_each_statement_runs_read_only_with_pinned_settings(engine: PostgresEngine) -> None:
    assert engine.execute("SHOW transaction_read_only").rows == [("on",)]
    assert engine.execute("SHOW search_path").rows == [("pg_catalog, public",)]
    assert engine.execute("SHOW statement_timeout").rows == [("1s",)]


@pytest.mark.parametrize(
    "sql_text",
    [
        "INSERT INTO people VALUES (1000, 'x')",
        "UPDATE people SET name = 'x'",
        "DELETE FROM people",
        "CREATE TABLE x (a integer)",
        "CREATE TEMP TABLE x (a integer)",
        "DROP TABLE people",
        "TRUNCATE people",
        "SELECT 1; COMMIT; INSERT INTO people VALUES (1000, 'x')",
        "COMMIT",
        "SET TRANSACTION READ WRITE",
        "COPY people TO STDOUT",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT * FROM nowhere",
        "SELECT CAST(name AS integer) FROM people",
    ],
)
def test_refused_with_generic_message(engine: PostgresEngine, sql_text: str) -> None:
    with pytest.raises(EngineError) as info:
        engine.execute(sql_text)
    assert type(info.value) is EngineError
    assert info.value.code == "internal"
    assert info.value.message == GENERIC and str(info.value) == GENERIC
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert engine.execute("SELECT count(*) FROM people").rows == [(100,)]


def test_driver_message_reaches_no_log_by_default(
    engine: PostgresEngine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(EngineError) as info:
            engine.execute("SELECT 'Alice Smith'::int")
    assert "Alice" not in info.value.message
    assert any("InvalidTextRepresentation" in r.getMessage() for r in caplog.records)
    assert not any("Alice" in r.getMessage() for r in caplog.records)


def test_session_settings_do_not_carry_over(dsns: tuple[str, str]) -> None:
    eng = PostgresEngine(dsns[1], statement_timeout_s=0.5, pool_size=1)
    try:
        eng.execute("SELECT set_config('statement_timeout', '0', false)")
        eng.execute("SELECT set_config('search_path', 'nowhere', false)")
        assert eng.execute("SHOW search_path").rows == [("pg_catalog, public",)]
        with pytest.raises(EngineTimeout):
            eng.execute("SELECT pg_sleep(3)")
    finally:
        eng.close()


def test_random_differs_between_runs(dsns: tuple[str, str], engine: PostgresEngine) -> None:
    """random() is seeded per backend from a strong source, not by the analyst
    (setseed() and SET are refused by the rewriter's allow-list)."""
    draws = {engine.execute("SELECT random() AS r").rows[0][0] for _ in range(5)}
    assert len(draws) == 5
    other = PostgresEngine(dsns[1], statement_timeout_s=1)
    try:
        assert other.execute("SELECT random()").rows[0][0] not in draws
    finally:
        other.close()


# --- timeouts and threads ------------------------------------------------------------


def test_timeout_cancels_long_query(dsns: tuple[str, str]) -> None:
    eng = PostgresEngine(dsns[1], statement_timeout_s=0.5)
    try:
        start = time.monotonic()
        with pytest.raises(EngineTimeout) as info:
            eng.execute("SELECT pg_sleep(5)")
        assert time.monotonic() - start < 2.0
        assert info.value.code == "timeout"
        assert info.value.__cause__ is None and info.value.__suppress_context__
        assert eng.execute("SELECT 1 AS one").rows == [(1,)]
    finally:
        eng.close()


def test_unreachable_server_does_not_leak_driver_text() -> None:
    with pytest.raises(EngineError) as info:
        PostgresEngine(
            "postgresql://nobody:hunter2@127.0.0.1:1/x?connect_timeout=2",
            statement_timeout_s=1,
        )
    assert "nobody@127.0.0.1:1/x" in info.value.message
    assert "hunter2" not in info.value.message
    assert "refused" not in info.value.message.lower()


def test_open_engine_postgres(dsns: tuple[str, str]) -> None:
    eng = open_engine(EngineConfig(kind="postgres", dsn=dsns[1], statement_timeout_s=2))
    try:
        assert eng.dialect == "postgres"
        assert eng.execute("SELECT count(*) AS n FROM people").rows == [(100,)]
    finally:
        eng.close()


# --- the start-up role check -------------------------------------------------------------


def _refused(dsn: str) -> str:
    with pytest.raises(ConfigError) as info:
        PostgresEngine(dsn, statement_timeout_s=1)
    assert "CREATE ROLE dpsql_reader LOGIN" in info.value.message
    assert READ_ONLY_ROLE_SQL in info.value.message
    return info.value.message


def test_refuses_superuser(dsns: tuple[str, str]) -> None:
    message = _refused(dsns[0])
    assert "superuser" in message and "`postgres`" in message


@pytest.mark.parametrize(
    ("grant", "expected"),
    [
        ("GRANT INSERT ON people TO {role}", "public.people"),
        ("GRANT UPDATE ON employees TO {role}", "public.employees"),
        ("GRANT DELETE ON visits TO {role}", "public.visits"),
        ("GRANT TRUNCATE ON departments TO {role}", "public.departments"),
        ("GRANT UPDATE (name) ON people TO {role}", "public.people"),
        ("GRANT pg_read_server_files TO {role}", "pg_read_server_files"),
        ("GRANT pg_write_server_files TO {role}", "pg_write_server_files"),
        ("GRANT pg_execute_server_program TO {role}", "pg_execute_server_program"),
        ("GRANT pg_write_all_data TO {role}", "pg_write_all_data"),
        ("ALTER ROLE {role} CREATEROLE", "CREATEROLE"),
    ],
)
def test_refuses_roles_that_can_do_more_than_read(
    dsns: tuple[str, str], grant: str, expected: str
) -> None:
    with _role(dsns[0], grant) as dsn:
        assert expected in _refused(dsn)


def test_refuses_role_that_may_write_through_public(dsns: tuple[str, str]) -> None:
    with _role(dsns[0]) as dsn:
        with psycopg.connect(dsns[0], autocommit=True) as conn:
            conn.execute("GRANT INSERT ON people TO PUBLIC")
        try:
            assert "public.people" in _refused(dsn)
        finally:
            with psycopg.connect(dsns[0], autocommit=True) as conn:
                conn.execute("REVOKE INSERT ON people FROM PUBLIC")


def test_refuses_table_owner(dsns: tuple[str, str]) -> None:
    with _role(dsns[0], "CREATE TABLE owned_by_reader (a integer)",
               "ALTER TABLE owned_by_reader OWNER TO {role}") as dsn:
        message = _refused(dsn)
    assert "public.owned_by_reader (owner)" in message
    with psycopg.connect(dsns[0], autocommit=True) as conn:  # DROP OWNED removed it
        assert conn.execute("SELECT to_regclass('owned_by_reader')").fetchone() == (None,)


def test_refuses_member_of_a_writing_role(dsns: tuple[str, str]) -> None:
    writer = f"dpsql_w_{secrets.token_hex(4)}"
    with psycopg.connect(dsns[0], autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(writer)))
        conn.execute(sql.SQL("GRANT INSERT ON people TO {}").format(sql.Identifier(writer)))
    try:
        grant = "GRANT " + writer + " TO {role}"
        with _role(dsns[0], grant) as dsn:
            assert "public.people" in _refused(dsn)
    finally:
        with psycopg.connect(dsns[0], autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(writer)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(writer)))


def test_accepts_read_only_role(dsns: tuple[str, str]) -> None:
    with _role(dsns[0]) as dsn:
        eng = PostgresEngine(dsn, statement_timeout_s=1)
        try:
            assert eng.execute("SELECT count(*) FROM people").rows == [(100,)]
        finally:
            eng.close()


# --- parity with DuckDB ----------------------------------------------------------------

PARITY_QUERIES = [
    "SELECT COUNT(*) FROM employees",
    "SELECT dept, COUNT(*), SUM(salary), SUM(age), COUNT(DISTINCT id) FROM employees "
    "GROUP BY dept",
    "SELECT dept, COUNT(*), SUM(salary) FROM employees WHERE age BETWEEN 30 AND 50 "
    "GROUP BY dept",
    "SELECT dept, COUNT(*), SUM(age) FROM employees WHERE hired >= '2015-06-01' GROUP BY dept",
    "SELECT COUNT(*), SUM(salary), AVG(age) FROM employees WHERE dept IN ('HR', 'Legal')",
    "SELECT dept, COUNT(DISTINCT id), SUM(salary) FROM employees "
    "WHERE age > 40 AND hired < '2010-01-01' AND dept <> 'Sales' GROUP BY dept",
]


def _demo_tables() -> dict[str, Table]:
    document: dict[str, Any] = yaml.safe_load(demo_config_yaml("x", {}))
    return {name: Table.model_validate(spec) for name, spec in document["tables"].items()}


@pytest.fixture(scope="module")
def duck(demo_path: Path) -> Iterator[DuckDBEngine]:
    eng = DuckDBEngine(demo_path, statement_timeout_s=10)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def pg(dsns: tuple[str, str]) -> Iterator[PostgresEngine]:
    eng = PostgresEngine(dsns[1], statement_timeout_s=10)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def catalog(duck: DuckDBEngine, pg: PostgresEngine) -> Catalog:
    tables = _demo_tables()
    on_duck, on_pg = build_catalog(tables, duck), build_catalog(tables, pg)
    assert on_duck == on_pg  # public keys read from either engine agree
    return on_duck


def _vectors(engine: DuckDBEngine | PostgresEngine, plan: Plan) -> dict[str, dict[tuple, int]]:
    result = engine.execute(plan.sql(engine.dialect))
    n_keys = len(plan.shape.group_columns)
    out: dict[str, dict[tuple, int]] = {m.name: {} for m in plan.measures}
    for row in result.rows:
        for m in plan.measures:
            value = row[result.columns.index(m.name)]
            out[m.name][tuple(row[:n_keys])] = int(value or 0)  # SUM(bigint) is numeric in PG
    return out


@pytest.mark.parametrize("query", PARITY_QUERIES)
def test_same_measures_as_duckdb_where_no_bound_binds(
    catalog: Catalog, duck: DuckDBEngine, pg: PostgresEngine, query: str
) -> None:
    plan = plan_query(query, catalog)
    expected = _vectors(duck, plan)
    assert any(expected[m.name] for m in plan.measures)
    assert _vectors(pg, plan) == expected


def test_bounded_query_runs_where_bounds_bind(catalog: Catalog, pg: PostgresEngine) -> None:
    """visits: up to 30 rows per person, capped at 10 rows in 3 cities; the
    random choice differs run to run, but every total respects the caps."""
    plan = plan_query("SELECT city, COUNT(*), COUNT(DISTINCT person_id) FROM visits "
                      "GROUP BY city", catalog)
    vectors = _vectors(pg, plan)
    rows_measure, units_measure = (m.name for m in plan.measures)
    total_rows = sum(vectors[rows_measure].values())
    people = pg.execute("SELECT count(DISTINCT person_id) FROM visits").rows[0][0]
    assert 0 < total_rows <= 10 * people
    assert sum(vectors[units_measure].values()) <= 3 * people


def test_require_postgres_fails_with_the_start_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.pg

    monkeypatch.setattr(tests.pg, "ADMIN_DSN", "postgresql://postgres@127.0.0.1:1/postgres")
    with pytest.raises(pytest.fail.Exception, match="pg_ctlcluster --skip-systemctl-redirect"):
        tests.pg.require_postgres()
