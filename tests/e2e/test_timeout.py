"""A statement that runs past the engine's limit answers `timeout` (504), and
its charge stands: the engine may have computed the answer (SPEC §4.5)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from fastapi.testclient import TestClient

from proxy.app import create_app
from proxy.config import load_config
from tests.e2e.conftest import write_deployment
from tests.pg import require_postgres, throwaway_database

ROWS = 3_000_000
KEY = "dpsql_timeout_test_key"
VISITS = {
    "privacy_unit": "person_id", "max_rows_per_unit": 10, "max_groups_per_unit": 2,
    "columns": {"person_id": {"type": "integer"},
                "city": {"type": "text", "public_keys": ["a", "b", "c", "d"]},
                "amount": {"type": "float", "lower": 0, "upper": 100}},
}


@pytest.fixture(scope="module")
def big_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(f"""CREATE TABLE visits AS SELECT (i // 7)::INTEGER AS person_id,
            ['a', 'b', 'c', 'd'][i % 4 + 1] AS city, (i % 100)::DOUBLE AS amount
            FROM range({ROWS}) t(i)""")
    return path


@pytest.fixture(scope="module")
def big_postgres() -> Iterator[str]:
    require_postgres()
    with throwaway_database("dpsql_timeout") as (admin, reader):
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"""CREATE TABLE visits AS SELECT (i / 7)::integer AS person_id,
                (ARRAY['a', 'b', 'c', 'd'])[i % 4 + 1] AS city,
                (i % 100)::double precision AS amount
                FROM generate_series(0, {ROWS // 3}) AS i""")
        yield reader


@pytest.mark.parametrize("engine_kind", ["duckdb", "postgres"])
def test_timeout_is_reported_and_charged(
    engine_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine: dict[str, Any] = (
        {"kind": "duckdb", "database": str(request.getfixturevalue("big_duckdb"))}
        if engine_kind == "duckdb"
        else {"kind": "postgres", "dsn": request.getfixturevalue("big_postgres")}
    )
    path = write_deployment(tmp_path, engine, {"visits": VISITS}, KEY, analyst="ana",
                            budget={"epsilon": 1, "delta": 0}, timeout_s=0.02,
                            privacy={"accounting": "pure", "default_query_delta": 0})
    headers = {"Authorization": f"Bearer {KEY}"}
    with TestClient(create_app(load_config(path)), raise_server_exceptions=False) as client:
        response = client.post("/v1/query", headers=headers, json={
            "sql": "SELECT city, COUNT(*), SUM(amount) FROM visits GROUP BY city",
            "epsilon": 0.25})
        assert response.status_code == 504, response.text
        assert response.json()["error"]["code"] == "timeout"
        message = response.json()["error"]["message"]
        assert "(query q_" in message and "ε = 0.25 charged" in message  # says what stands
        budget = client.get("/v1/budget", headers=headers).json()
        assert budget["spent"]["epsilon"] == 0.25
