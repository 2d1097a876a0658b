"""End-to-end fixtures: a real DuckDB file with demo data, a real dpsql.yaml,
the real FastAPI app through its test client."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from fastapi.testclient import TestClient

from proxy.app import create_app
from proxy.config import load_config
from proxy.demo import build_demo_database, demo_config_yaml
from tests.pg import copy_duckdb_to_postgres, require_postgres, throwaway_database
from tests.serving import serve_in_thread
from tests.sparkutil import export_parquet, require_spark, spark_engine

KEYS = {"alice": "dpsql_alice_key", "bob": "dpsql_bob_key",
        "olivia": "dpsql_olivia_key", "carl": "dpsql_carl_key"}


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "demo.duckdb"
    build_demo_database(path, people=3000, seed=11)
    return path


@pytest.fixture(scope="session")
def truth(demo_db: Path) -> dict[str, Any]:
    """Exact answers, read before any proxy opens the file (DuckDB allows one
    configuration per file in a process)."""
    with duckdb.connect(str(demo_db), read_only=True) as con:
        return {
            "departments": [r[0] for r in con.execute(
                "SELECT dept FROM departments ORDER BY dept").fetchall()],
            "count_by_dept": dict(con.execute(
                "SELECT dept, COUNT(*) FROM employees GROUP BY dept").fetchall()),
        }


@pytest.fixture(scope="session")
def pg_demo(demo_db: Path, truth: dict[str, Any]) -> Iterator[str]:
    """The same demo data in a throwaway PostgreSQL database; yields the reader's DSN."""
    require_postgres()
    with throwaway_database("dpsql_e2e") as (admin_dsn, reader_dsn):
        copy_duckdb_to_postgres(demo_db, admin_dsn)
        yield reader_dsn


@pytest.fixture(scope="session")
def spark_demo(demo_db: Path, truth: dict[str, Any],
               tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo tables as Parquet files: a Spark engine's `sources` section."""
    require_spark()
    return export_parquet(demo_db, tmp_path_factory.mktemp("spark_demo"))


@pytest.fixture(params=["duckdb", "postgres"])
def engine_kind(request: pytest.FixtureRequest) -> str:
    """Every end-to-end test runs on both engines."""
    return str(request.param)


@dataclass
class Proxy:
    client: TestClient
    config_path: Path
    clock: list[dt.datetime]

    def headers(self, who: str = "alice") -> dict[str, str]:
        return {"Authorization": f"Bearer {KEYS[who]}"}

    def query(self, sql: str, who: str = "alice", **params: Any) -> Any:
        return self.client.post("/v1/query", json={"sql": sql, **params}, headers=self.headers(who))

    def explain(self, sql: str, who: str = "alice", **params: Any) -> Any:
        return self.client.post("/v1/explain", json={"sql": sql, **params},
                                headers=self.headers(who))


Tweak = Callable[[dict[str, Any]], None]


@pytest.fixture
def make_proxy(
    tmp_path: Path, demo_db: Path, engine_kind: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Proxy]]:
    """Start the app on the demo data; `tweak` edits the config document first."""
    started: list[TestClient] = []
    engine: dict[str, Any] = {"kind": "duckdb", "database": str(demo_db)}
    if engine_kind == "postgres":
        engine = {"kind": "postgres", "dsn": request.getfixturevalue("pg_demo")}
    elif engine_kind == "spark":  # tests/spark runs these tests on Spark local mode
        engine = spark_engine(request.getfixturevalue("spark_demo"))

    def start(tweak: Tweak | None = None, *, ledger: Path | None = None) -> Proxy:
        document = yaml.safe_load(
            demo_config_yaml(str(demo_db), KEYS, ledger_path=str(ledger or tmp_path / "l.db"))
        )
        document["privacy"]["max_query_epsilon"] = 10.0
        document["engine"] = {**engine, "statement_timeout_s": 60 if engine_kind == "spark" else 30}
        if tweak:
            tweak(document)
        path = tmp_path / "dpsql.yaml"
        path.write_text(yaml.safe_dump(document))
        clock = [dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)]
        app = create_app(load_config(path), clock=lambda: clock[0])
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        started.append(client)
        return Proxy(client, path, clock)

    yield start
    for client in started:
        client.__exit__(None, None, None)


@pytest.fixture
def proxy(make_proxy: Callable[..., Proxy]) -> Proxy:
    return make_proxy()


def rich_budget(doc: dict[str, Any]) -> None:
    """Budgets large enough for precise answers (tests compare with the truth),
    under pure accounting (zCDP is the demo's default, tested as it ships)."""
    doc["privacy"]["accounting"] = "pure"
    doc["analysts"]["alice"]["budget"] = {"epsilon": 1000.0, "delta": 1e-3}
    doc["privacy"]["dataset_budget"] = {"epsilon": 1000.0, "delta": 1e-3}


@pytest.fixture
def rich(make_proxy: Callable[..., Proxy]) -> Proxy:
    return make_proxy(rich_budget)


@pytest.fixture(scope="module")
def live_url(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("live")
    document = yaml.safe_load(demo_config_yaml(str(demo_db), KEYS,
                                               ledger_path=str(folder / "ledger.db")))
    (folder / "dpsql.yaml").write_text(yaml.safe_dump(document))
    with serve_in_thread(folder / "dpsql.yaml") as url:
        yield url


def exact_answers(demo_db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Exact answers from a copy of the demo file (a proxy may hold the original
    open under another configuration)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.duckdb"
        shutil.copyfile(demo_db, copy)
        with duckdb.connect(str(copy), read_only=True) as con:
            return con.execute(sql).fetchall()


def write_deployment(folder: Path, engine: dict[str, Any], tables: dict[str, Any], key: str,
                     *, budget: dict[str, Any], privacy: dict[str, Any] | None = None,
                     timeout_s: float = 30, analyst: str = "alice") -> Path:
    """A `dpsql.yaml` for tests with their own tables: one analyst holding `key`."""
    document = {
        "engine": {**engine, "statement_timeout_s": timeout_s},
        "ledger": {"url": f"sqlite:///{folder / 'ledger.db'}"},
        "privacy": privacy or {"accounting": "pure"},
        "tables": tables,
        "analysts": {analyst: {"role": "analyst",
                               "api_key_sha256": hashlib.sha256(key.encode()).hexdigest(),
                               "budget": budget}},
    }
    path = folder / "dpsql.yaml"
    path.write_text(yaml.safe_dump(document))
    return path
