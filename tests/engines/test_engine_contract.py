"""The contract every engine keeps, run on DuckDB and PostgreSQL alike: many
threads at once, a timeout that cancels only its own statement, and a closed
engine that refuses politely."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from proxy.engines import DuckDBEngine, Engine, EngineError, EngineTimeout
from proxy.engines.postgres import PostgresEngine

from .test_duckdb_engine import db_path  # noqa: F401 - fixtures shared with the contract
from .test_postgres_engine import demo_path, dsns  # noqa: F401

# A statement that outlives a 0.5 s limit on each engine (no table functions on
# PostgreSQL's side are needed: pg_sleep is enough).
SLOW = {"duckdb": "SELECT count(*) FROM range(100000000) a, range(100000000) b",
        "postgres": "SELECT pg_sleep(3)"}
# A per-thread pause makes the PostgreSQL threads overlap for real.
PAUSE = {"duckdb": "", "postgres": ", pg_sleep(0.01)"}

Factory = Callable[[float], Engine]


@pytest.fixture(params=["duckdb", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make(kind: str, request: pytest.FixtureRequest) -> Iterator[Factory]:
    opened: list[Engine] = []

    def factory(timeout: float) -> Engine:
        engine: Engine
        if kind == "duckdb":
            engine = DuckDBEngine(request.getfixturevalue("db_path"), statement_timeout_s=timeout)
        else:
            reader = request.getfixturevalue("dsns")[1]
            engine = PostgresEngine(reader, statement_timeout_s=timeout)
        opened.append(engine)
        return engine

    yield factory
    for engine in opened:
        engine.close()


def test_concurrent_execute_from_eight_threads(make: Factory, kind: str) -> None:
    engine = make(10)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(k: int) -> None:
        try:
            barrier.wait()
            for _ in range(10):
                rows = engine.execute(
                    f"SELECT count(*) FROM people{PAUSE[kind]} WHERE id >= {k}").rows
                assert rows == [(100 - k,)]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_one_timeout_does_not_cancel_other_threads(make: Factory, kind: str) -> None:
    engine = make(0.5)
    outcome: dict[str, object] = {}

    def slow() -> None:
        try:
            engine.execute(SLOW[kind])
        except EngineTimeout as exc:
            outcome["slow"] = exc

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        for _ in range(50):
            assert engine.execute("SELECT count(*) FROM people").rows == [(100,)]
    finally:
        thread.join()
    assert isinstance(outcome.get("slow"), EngineTimeout)


def test_closed_engine_refuses(make: Factory) -> None:
    engine = make(1)
    engine.close()
    engine.close()  # idempotent
    with pytest.raises(EngineError):
        engine.execute("SELECT 1")


