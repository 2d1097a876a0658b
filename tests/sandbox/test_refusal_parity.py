"""Property (issue #22): the sandbox refuses exactly what /v1/query refuses, with the same
status, code and message, over the totality grammar's queries on the hostile tables
(every column type, public-key and partition-selection groups, joins, CTEs, HAVING);
and what the real pipeline answers, the sandbox answers with the same columns."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings

from tests.totality.hostile import KEY, build_duckdb, hostile_app
from tests.totality.queries import queries

HEADERS = {"Authorization": f"Bearer {KEY}"}
REQUEST = {"epsilon": 100.0, "delta": 1e-6}
# CI: 25 derandomized examples (the refusal corpora in tests/e2e/test_sandbox.py cover
# the named cases); DPSQL_FUZZ_EXAMPLES sets a longer search, as for `make fuzz`
PARITY = settings(max_examples=int(os.environ.get("DPSQL_FUZZ_EXAMPLES", "25")), deadline=None,
                  derandomize="DPSQL_FUZZ_EXAMPLES" not in os.environ,
                  suppress_health_check=list(HealthCheck), print_blob=True)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("sandbox_parity")
    build_duckdb(folder / "data.duckdb", False)
    with hostile_app(folder, {"kind": "duckdb", "database": str(folder / "data.duckdb")}) as c:
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
