"""The contract every engine keeps, run on DuckDB, PostgreSQL and Spark alike: many
threads at once, a timeout that cancels only its own statement, and a closed
engine that refuses politely."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from proxy.config import SparkSource
from proxy.engines import DuckDBEngine, Engine, EngineError, EngineTimeout
from proxy.engines.postgres import PostgresEngine
from tests.sparkutil import MASTER, TEST_CONF, export_parquet, require_spark

from .test_duckdb_engine import db_path  # noqa: F401 - fixtures shared with the contract
from .test_postgres_engine import demo_path, dsns  # noqa: F401

# A statement that outlives the LIMIT below on each engine (no table functions on
# PostgreSQL's side are needed: pg_sleep is enough).
SLOW = {"duckdb": "SELECT count(*) FROM range(100000000) a, range(100000000) b",
        "postgres": "SELECT pg_sleep(3)",
        # a registered view cross-joined with itself enough times to run for minutes
        "spark": "SELECT count(*) FROM people a, people b, people c, people d, people e, people f"}
# A per-thread pause makes the PostgreSQL threads overlap for real.
PAUSE = {"duckdb": "", "postgres": ", pg_sleep(0.01)", "spark": ""}
# the limit of the timeout test: Spark's own statements take a second under that load
LIMIT = {"duckdb": 0.5, "postgres": 0.5, "spark": 4.0}
# Spark's statements take tens of milliseconds each: fewer rounds, the same overlap
ROUNDS = {"duckdb": 10, "postgres": 10, "spark": 3}

Factory = Callable[[float], Engine]


@pytest.fixture(scope="module")
def spark_sources(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require_spark()
    return export_parquet(request.getfixturevalue("db_path"),
                          tmp_path_factory.mktemp("spark_contract"))


@pytest.fixture(params=["duckdb", "postgres", "spark"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make(kind: str, request: pytest.FixtureRequest) -> Iterator[Factory]:
    opened: list[Engine] = []

    def factory(timeout: float) -> Engine:
        engine: Engine
        if kind == "duckdb":
            engine = DuckDBEngine(request.getfixturevalue("db_path"), statement_timeout_s=timeout)
        elif kind == "spark":
            from proxy.engines.spark import SparkEngine

            engine = SparkEngine(sources=_sources(request.getfixturevalue("spark_sources")),
                                 master=MASTER, conf=TEST_CONF, statement_timeout_s=timeout)
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
            for _ in range(ROUNDS[kind]):
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
    engine = make(LIMIT[kind])
    outcome: dict[str, object] = {}

    def slow() -> None:
        try:
            engine.execute(SLOW[kind])
        except EngineTimeout as exc:
            outcome["slow"] = exc

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        for _ in range(50 if kind != "spark" else 10):
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




def _sources(sources: dict[str, Any]) -> dict[str, SparkSource]:
    return {name: SparkSource.model_validate(s) for name, s in sources.items()}
