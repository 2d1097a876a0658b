"""The HTTP API's contract beyond the query path: every route against every
role, the ledger listing for compliance, size limits and the access log."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from typing import Any

import pytest
import yaml

from proxy.demo import demo_config_yaml

from .conftest import Proxy

ROUTES = [
    ("POST", "/v1/query", {"sql": "SELECT COUNT(*) FROM employees"}),
    ("POST", "/v1/explain", {"sql": "SELECT COUNT(*) FROM employees"}),
    ("POST", "/v1/sandbox/query", {"sql": "SELECT COUNT(*) FROM employees"}),
    ("POST", "/v1/sandbox/explain", {"sql": "SELECT COUNT(*) FROM employees"}),
    ("POST", "/v1/admin/sandbox/marginals", {"epsilon": 0.5, "delta": 1e-7}),
    ("GET", "/v1/budget", None),
    ("GET", "/v1/budget/history", None),
    ("GET", "/v1/me", None),
    ("GET", "/v1/tables", None),
    ("GET", "/v1/ledger/spend", None),
    ("GET", "/v1/ledger", None),
    ("GET", "/v1/ledger/verify", None),
    ("GET", "/v1/admin/analysts", None),
    ("GET", "/v1/admin/budget", None),
    ("PATCH", "/v1/admin/budget", {"epsilon": 12, "delta": 1e-5, "reason": "audit"}),
    ("PATCH", "/v1/admin/analysts/alice/budget", {"epsilon": 4, "delta": 1e-6, "reason": "r"}),
    ("POST", "/v1/admin/analysts", {"name": "zed", "role": "analyst"}),
    ("PATCH", "/v1/admin/analysts/alice", {"disabled": False}),
    ("POST", "/v1/admin/analysts/bob/key", {"reason": "rotation drill"}),
    ("GET", "/v1/admin/tables/employees", None),
    ("PUT", "/v1/admin/tables/employees",
     yaml.safe_load(demo_config_yaml("x", {}))["tables"]["employees"]),
]
ALLOWED = {
    "/v1/query": {"alice"},
    "/v1/explain": {"alice"},
    "/v1/sandbox/query": {"alice"},
    "/v1/sandbox/explain": {"alice"},
    "/v1/admin/sandbox/marginals": {"olivia"},
    "/v1/budget": {"alice"},
    "/v1/budget/history": {"alice"},
    "/v1/me": {"alice", "olivia", "carl"},
    "/v1/tables": {"alice", "olivia", "carl"},
    "/v1/ledger/spend": {"olivia", "carl"},
    "/v1/ledger": {"olivia", "carl"},
    "/v1/ledger/verify": {"olivia", "carl"},
    "/v1/admin/analysts": {"olivia", "carl"},
    "/v1/admin/budget": {"olivia", "carl"},
    "/v1/admin/analysts/alice/budget": {"olivia"},
    "/v1/admin/analysts/alice": {"olivia"},
    "/v1/admin/analysts/bob/key": {"olivia"},
    "/v1/admin/tables/employees": {"olivia", "carl"},
}
WRITES_ONLY_FOR_OWNERS = {("PATCH", "/v1/admin/budget"), ("POST", "/v1/admin/analysts"),
                          ("PUT", "/v1/admin/tables/employees")}


@pytest.mark.parametrize("engine_kind", ["duckdb"])
@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize("who", ["alice", "olivia", "carl", None])
def test_every_route_for_every_role(
    proxy: Proxy, method: str, path: str, body: Any, who: str | None
) -> None:
    headers = proxy.headers(who) if who else {}
    response = proxy.client.request(method, path, json=body, headers=headers)
    if who is None:
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"
    elif who in ALLOWED[path] and (
        (method, path) not in WRITES_ONLY_FOR_OWNERS or who == "olivia"
    ):
        assert response.status_code in (200, 201), response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("engine_kind", ["duckdb"])
def test_compliance_reads_pages_and_csv(proxy: Proxy) -> None:
    for i in range(5):
        assert proxy.query(f"SELECT COUNT(*) FROM employees WHERE age > {i}").status_code == 200
    carl = proxy.headers("carl")
    charges = proxy.client.get("/v1/ledger", params={"kind": "charge", "analyst": "alice"},
                               headers=carl).json()["entries"]
    assert len(charges) == 5
    assert all(e["kind"] == "charge" and e["analyst"] == "alice" for e in charges)
    assert charges[0]["epsilon"] == "0.1" and charges[0]["detail"]["measures"]

    first = proxy.client.get("/v1/ledger", params={"limit": 2}, headers=carl).json()
    assert len(first["entries"]) == 2 and first["next_after"] == first["entries"][-1]["seq"]
    second = proxy.client.get("/v1/ledger", params={"limit": 2, "after": first["next_after"]},
                              headers=carl).json()
    assert second["entries"][0]["seq"] > first["entries"][-1]["seq"]

    exported = proxy.client.get("/v1/ledger", params={"format": "csv", "kind": "charge"},
                                headers=carl)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["query_id"] for r in rows] == [e["query_id"] for e in charges]
    assert json.loads(rows[0]["detail"])["accounting"] == "zcdp"

    future = proxy.client.get("/v1/ledger", params={"since": "2999-01-01"}, headers=carl)
    assert future.json()["entries"] == []
    bad = proxy.client.get("/v1/ledger", params={"since": "last tuesday"}, headers=carl)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_parameter"


@pytest.mark.parametrize("engine_kind", ["duckdb"])
def test_oversized_body_is_refused_without_reading_it(proxy: Proxy) -> None:
    huge = {"sql": "SELECT COUNT(*) FROM employees WHERE " + " OR ".join(["age > 1"] * 200_000)}
    response = proxy.client.post("/v1/query", json=huge, headers=proxy.headers())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("engine_kind", ["duckdb"])
def test_access_log_has_who_what_and_cost_but_no_results(
    proxy: Proxy, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="dpsql.access"):
        answer = proxy.query("SELECT dept, COUNT(*) FROM employees GROUP BY dept",
                             epsilon=0.3).json()
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dpsql.access"]
    line = next(x for x in lines if x["path"] == "/v1/query")
    assert line["analyst"] == "alice" and line["status"] == 200
    assert line["query_id"] == answer["query_id"] and line["charged_epsilon"] == 0.3
    assert line["duration_ms"] > 0
    # the line has exactly these fields: nothing of the answer is logged
    assert set(line) == {"method", "path", "status", "duration_ms", "analyst", "query_id",
                         "charged_epsilon"}


def test_openapi_is_complete(proxy: Proxy) -> None:
    spec = proxy.client.get("/openapi.json").json()
    paths = spec["paths"]
    for _, path, _ in ROUTES:
        assert re.sub(r"/admin/(analysts|tables)/\w+", r"/admin/\1/{name}", path) in paths, path
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses), (method, path)
            assert {"400", "401", "403"} <= set(responses), (method, path)
    query = paths["/v1/query"]["post"]
    assert query["requestBody"]["content"]["application/json"]["schema"]
