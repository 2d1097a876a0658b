"""Issue #17, class 8, through the real HTTP app on both engines: a join used to
multiply one person's rows before any cap, so a query matching a person with
many rows ran into the statement timeout (504) while the same query matching
nobody answered (200). Each private table is now capped per person before it is
joined, so both answer, well inside a short timeout.
"""

from __future__ import annotations

import datetime as dt
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

KEY = "dpsql_heavy_key"
HEAVY_ROWS = 20_000  # joined with itself before the fix: 4·10⁸ rows
TABLE = {
    "privacy_unit": "pid", "max_rows_per_unit": 5, "max_groups_per_unit": 1,
    "columns": {"pid": {"type": "integer"}, "v": {"type": "float", "lower": 0, "upper": 10}},
}
DATA_SQL = (
    "CREATE TABLE people AS "
    f"SELECT p AS pid, 1.0 AS v FROM generate_series(1, 2000) AS t(p) "
    f"UNION ALL SELECT 999999 AS pid, 2.0 AS v FROM generate_series(1, {HEAVY_ROWS}) AS t(p)"
)
QUERIES = [
    "SELECT COUNT(*) FROM people a JOIN people b ON a.pid = b.pid WHERE a.pid = {who}",
    "SELECT SUM(a.v) FROM people a JOIN people b ON a.pid = b.pid "
    "JOIN people c ON b.pid = c.pid WHERE c.pid = {who}",
]


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def client(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp(f"heavy_{request.param}")
    with _engine(request.param, folder) as engine:
        path = write_deployment(folder, engine, {"people": TABLE}, KEY, timeout_s=3,
                                budget={"epsilon": 1000, "delta": 1e-3},
                                privacy={"accounting": "pure", "max_query_epsilon": 10})
        clock = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
        with TestClient(create_app(load_config(path), clock=lambda: clock),
                        raise_server_exceptions=False) as test_client:
            yield test_client


class _engine:
    """The heavy table on one engine; the `engine:` section that reaches it."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind, self.folder = kind, folder
        self.database: Any = None

    def __enter__(self) -> dict[str, Any]:
        if self.kind == "duckdb":
            path = self.folder / "heavy.duckdb"
            with duckdb.connect(str(path)) as con:
                con.execute(DATA_SQL)
            return {"kind": "duckdb", "database": str(path)}
        require_postgres()
        self.database = throwaway_database("dpsql_heavy")
        admin, reader = self.database.__enter__()
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(DATA_SQL)
            con.execute("ANALYZE people")
        return {"kind": "postgres", "dsn": reader}

    def __exit__(self, *exc: object) -> None:
        if self.database is not None:
            self.database.__exit__(None, None, None)


@pytest.mark.parametrize("sql", QUERIES)
def test_a_heavy_person_changes_no_status(client: TestClient, sql: str) -> None:
    statuses = []
    for who in (999999, -1):  # the person with 20,000 rows, then nobody
        response = client.post("/v1/query", json={"sql": sql.format(who=who), "epsilon": 1},
                               headers={"Authorization": f"Bearer {KEY}"})
        statuses.append((response.status_code, response.text[:200]))
    assert [s for s, _ in statuses] == [200, 200], statuses
