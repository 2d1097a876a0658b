"""Property (issue #22): the sandbox refuses exactly what /v1/query refuses, with the same
status, code and message, over the totality grammar's queries on the hostile tables
(every column type, public-key and partition-selection groups, joins, CTEs, HAVING);
and what the real pipeline answers, the sandbox answers with the same columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings

from proxy.app import create_app
from proxy.config import load_config
from proxy.demo import demo_config_yaml
from tests.totality.hostile import TABLES, build_duckdb
from tests.totality.queries import queries

KEY = "dpsql_alice_key"
HEADERS = {"Authorization": f"Bearer {KEY}"}
REQUEST = {"epsilon": 100.0, "delta": 1e-6}
PARITY = settings(max_examples=50, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), print_blob=True)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("sandbox_parity")
    build_duckdb(folder / "data.duckdb", False)
    document = yaml.safe_load(demo_config_yaml("unused.duckdb", {"alice": KEY},
                                               ledger_path=str(folder / "ledger.db")))
    document["engine"] = {"kind": "duckdb", "database": str(folder / "data.duckdb"),
                          "statement_timeout_s": 30}
    document["tables"] = TABLES
    document["privacy"].update({"max_query_epsilon": 1000.0, "max_query_delta": 1e-3,
                                "dataset_budget": {"epsilon": 1e9, "delta": 0.5}})
    document["analysts"]["alice"]["budget"] = {"epsilon": 1e8, "delta": 0.4}
    (folder / "dpsql.yaml").write_text(yaml.safe_dump(document))
    clock = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    with TestClient(create_app(load_config(folder / "dpsql.yaml"), clock=lambda: clock),
                    raise_server_exceptions=False) as c:
        yield c


def check(client: TestClient, sql: str, record: bool = True) -> None:
    real = client.post("/v1/query", json={"sql": sql, **REQUEST}, headers=HEADERS)
    tried = client.post("/v1/sandbox/query", json={"sql": sql, **REQUEST, "draws": 1},
                        headers=HEADERS)
    body: Any = real.json()
    if record:
        event(f"status {real.status_code}")
    summary = f"real {real.status_code} {real.text[:300]}; sandbox {tried.status_code} " \
              f"{tried.text[:300]}; for {sql!r}"
    assert tried.status_code == real.status_code, summary
    if real.status_code != 200:
        assert tried.json() == body, summary
    else:
        assert tried.json()["columns"] == body["columns"], summary


def test_sandbox_refuses_exactly_what_the_real_pipeline_refuses(client: TestClient) -> None:
    @PARITY
    @given(sql=queries())
    def search(sql: str) -> None:
        check(client, sql)

    search()


def test_a_sandbox_that_skipped_a_refusal_would_be_caught(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check` fails when the two disagree, so the property above can fail: here a
    sandbox that answers without planning meets a query the real pipeline refuses."""
    sandbox = client.app.state.sandbox  # type: ignore[attr-defined]
    answered = client.post("/v1/sandbox/query", json={
        "sql": "SELECT COUNT(*) AS n FROM people", **REQUEST}, headers=HEADERS).json()
    monkeypatch.setattr(sandbox, "query", lambda *_: answered)
    with pytest.raises(AssertionError):
        check(client, "SELECT pid FROM people", record=False)
