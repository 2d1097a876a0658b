"""The DuckDB engine: sealed read-only, timeouts enforced, no driver text leaks."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from proxy.config import EngineConfig
from proxy.engines import DuckDBEngine, EngineError, EngineTimeout, Result, open_engine

GENERIC = EngineError.default_message


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("engine") / "t.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE people AS SELECT range AS id, 'secret-' || range AS name FROM range(100)"
    )
    con.close()
    return path


@pytest.fixture
def engine(db_path: Path) -> Iterator[DuckDBEngine]:
    eng = DuckDBEngine(db_path, statement_timeout_s=1.0)
    yield eng
    eng.close()


def test_execute_returns_columns_and_rows(engine: DuckDBEngine) -> None:
    result = engine.execute("SELECT count(*) AS n, max(id) AS top FROM people")
    assert result == Result(columns=("n", "top"), rows=[(100, 99)])
    assert engine.dialect == "duckdb"


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE x (a INTEGER)",
        "INSERT INTO people VALUES (1, 'x')",
        "DELETE FROM people",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "COPY people TO '/tmp/dpsql-leak.csv'",
        "ATTACH '/tmp/dpsql-other.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "SET autoinstall_known_extensions = true",
        "PRAGMA threads = 1",
        "SELECT * FROM nowhere",
        "SELECT CAST(name AS INTEGER) FROM people",
    ],
)
def test_refused_with_generic_message(engine: DuckDBEngine, sql: str) -> None:
    with pytest.raises(EngineError) as info:
        engine.execute(sql)
    assert type(info.value) is EngineError
    assert info.value.code == "internal"
    assert info.value.message == GENERIC and str(info.value) == GENERIC
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_driver_message_reaches_no_log_by_default(
    engine: DuckDBEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """The message quotes a stored value: only its class is logged (SPEC §4.7)."""
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(EngineError) as info:
            engine.execute("SELECT CAST(name AS INTEGER) FROM people")
    assert "secret-" not in info.value.message
    assert info.value.cause == "ConversionException"
    assert any("ConversionException" in r.getMessage() for r in caplog.records)
    assert not any("secret-" in r.getMessage() for r in caplog.records)


def test_driver_message_is_logged_when_the_owner_asks(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`logging.engine_errors: true` (off by default) exposes values to operators."""
    eng = DuckDBEngine(db_path, statement_timeout_s=5, log_messages=True)
    try:
        with caplog.at_level(logging.ERROR, logger="dpsql.engine"):
            with pytest.raises(EngineError):
                eng.execute("SELECT CAST(name AS INTEGER) FROM people")
    finally:
        eng.close()
    assert any("secret-" in record.getMessage() for record in caplog.records)


def test_external_access_stays_off_after_failed_set(engine: DuckDBEngine) -> None:
    with pytest.raises(EngineError):
        engine.execute("SET enable_external_access = true")
    value = engine.execute("SELECT current_setting('enable_external_access') AS v").rows
    assert value == [(False,)]
    with pytest.raises(EngineError):
        engine.execute("SELECT * FROM read_csv('/etc/passwd')")


def test_timeout_interrupts_long_query(db_path: Path) -> None:
    eng = DuckDBEngine(db_path, statement_timeout_s=0.5)
    try:
        start = time.monotonic()
        with pytest.raises(EngineTimeout) as info:
            eng.execute("SELECT count(*) FROM range(100000000) a, range(100000000) b")
        assert time.monotonic() - start < 0.5 + 1.0
        assert info.value.code == "timeout"
        # the engine keeps working after a cancelled statement
        assert eng.execute("SELECT 1 AS one").rows == [(1,)]
    finally:
        eng.close()


def test_fast_queries_are_not_interrupted_later(db_path: Path) -> None:
    eng = DuckDBEngine(db_path, statement_timeout_s=0.05)
    try:
        for _ in range(20):
            assert eng.execute("SELECT count(*) FROM people").rows == [(100,)]
        time.sleep(0.1)  # any stray timer would fire now
        assert eng.execute("SELECT 2 AS two").rows == [(2,)]
    finally:
        eng.close()


def test_missing_file_does_not_leak_driver_text(tmp_path: Path) -> None:
    with pytest.raises(EngineError) as info:
        DuckDBEngine(tmp_path / "absent.duckdb", statement_timeout_s=1)
    assert "IO Error" not in info.value.message
    assert not (tmp_path / "absent.duckdb").exists()


def test_open_engine(db_path: Path) -> None:
    eng = open_engine(EngineConfig(kind="duckdb", database=db_path, statement_timeout_s=2))
    try:
        assert eng.dialect == "duckdb"
        assert eng.execute("SELECT count(*) AS n FROM people").rows == [(100,)]
    finally:
        eng.close()


def test_open_engine_postgres_unreachable_is_a_generic_engine_error() -> None:
    with pytest.raises(EngineError) as info:
        open_engine(EngineConfig(kind="postgres", dsn="postgresql://r:secret@127.0.0.1:1/db",
                                 statement_timeout_s=2))
    assert "secret" not in info.value.message


def test_top_n_window_rewrite_is_disabled_for_the_row_cap(tmp_path: Path) -> None:
    path = tmp_path / "opt.duckdb"
    duckdb.connect(str(path)).close()
    engine = DuckDBEngine(path, statement_timeout_s=5)
    try:
        setting = engine.execute("SELECT current_setting('disabled_optimizers')").rows[0][0]
    finally:
        engine.close()
    assert "top_n_window_elimination" in setting
