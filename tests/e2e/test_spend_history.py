"""Spend over time (GET /v1/budget/history, GET /v1/ledger/spend), who a key is (GET
/v1/me), and explain's "about K more like this" (`affordable`): what the dashboard
shows, answered by the API so that every front end says the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import Proxy

pytestmark = pytest.mark.parametrize("engine_kind", ["duckdb"])

QUERIES = [f"SELECT COUNT(*) FROM employees WHERE age > {n}" for n in range(5)]


def pure(budget: float) -> Callable[[dict[str, Any]], None]:
    def tweak(doc: dict[str, Any]) -> None:
        doc["privacy"]["accounting"] = "pure"
        doc["analysts"]["alice"]["budget"] = {"epsilon": budget, "delta": 1e-6}

    return tweak


@pytest.mark.parametrize("accounting", ["pure", "zcdp"])
def test_history_rises_with_each_charge_and_ends_where_the_budget_stands(
    make_proxy: Callable[..., Proxy], accounting: str
) -> None:
    proxy = make_proxy(pure(3.0) if accounting == "pure" else None)
    empty = proxy.client.get("/v1/budget/history", headers=proxy.headers()).json()
    assert empty["points"] == [] and empty["accounting"] == accounting
    for sql, eps in zip(QUERIES[:3], (0.1, 0.3, 0.2), strict=True):
        assert proxy.query(sql, epsilon=eps).status_code == 200
    assert proxy.query(QUERIES[0], epsilon=0.1).json()["cached"]  # a repeat is free
    history = proxy.client.get("/v1/budget/history", headers=proxy.headers()).json()
    points = history["points"]
    assert [p["charged"]["epsilon"] for p in points] == [0.1, 0.3, 0.2]  # no point for the repeat
    shares = [p["share_used"] for p in points]
    assert shares == sorted(shares) and shares[0] > 0  # never refills
    budget = proxy.client.get("/v1/budget", headers=proxy.headers()).json()
    assert points[-1]["share_used"] == budget["share_used"]
    assert points[-1]["spent"] == budget["spent"]
    assert history["granted"] == budget["granted"]
    if accounting == "pure":
        assert [p["spent"]["epsilon"] for p in points] == pytest.approx([0.1, 0.4, 0.6])
    else:  # composed in ρ: less than the ε's added up
        assert points[-1]["spent"]["epsilon"] < 0.6
    # only one's own: another analyst's history is empty
    bob = proxy.client.get("/v1/budget/history", headers=proxy.headers("bob")).json()
    assert bob["analyst"] == "bob" and bob["points"] == []


def test_spend_overview_matches_the_owner_figures(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    assert proxy.query(QUERIES[0], epsilon=0.5).status_code == 200
    assert proxy.query(QUERIES[1], epsilon=0.2, who="bob").status_code == 200
    assert proxy.query(QUERIES[2], epsilon=0.2).status_code == 200
    spend = proxy.client.get("/v1/ledger/spend", headers=proxy.headers("carl")).json()
    owner = proxy.client.get("/v1/admin/budget", headers=proxy.headers("olivia")).json()
    by_name = {a["name"]: a for a in owner["analysts"]}
    series = {h["analyst"]: h for h in spend["analysts"]}
    assert set(series) == {n for n, a in by_name.items() if a["role"] == "analyst"}
    assert len(series["alice"]["points"]) == 2 and len(series["bob"]["points"]) == 1
    for name in ("alice", "bob"):
        assert series[name]["points"][-1]["share_used"] == by_name[name]["share_used"]
        assert series[name]["points"][-1]["spent"] == by_name[name]["spent"]
    dataset = spend["dataset"]["points"]
    assert [p["analyst"] for p in dataset] == ["alice", "bob", "alice"]
    assert dataset[-1]["share_used"] == owner["share_used"]
    assert dataset[-1]["spent"] == owner["spent"]
    assert "dataset-wide privacy budget" in owner["summary"]
    assert "never refills" in by_name["alice"]["summary"]


def test_me_names_the_key_and_its_role(proxy: Proxy) -> None:
    for who, role in (("alice", "analyst"), ("olivia", "owner"), ("carl", "compliance")):
        assert proxy.client.get("/v1/me", headers=proxy.headers(who)).json() == {
            "name": who, "role": role}
    missing = proxy.client.get("/v1/me")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthenticated"


def test_explain_affordable_is_what_the_ledger_then_admits(
    make_proxy: Callable[..., Proxy],
) -> None:
    proxy = make_proxy(pure(1.0))  # pure ε: 1.0 holds three queries at 0.3, not four
    plan = proxy.explain(QUERIES[0], epsilon=0.3).json()
    assert plan["affordable"] == 3
    admitted = 0
    for sql in QUERIES:
        answer = proxy.query(sql, epsilon=0.3)
        if answer.status_code != 200:
            assert answer.json()["error"]["code"] == "budget_exhausted"
            break
        admitted += 1
    assert admitted == 3
    assert proxy.explain(QUERIES[4], epsilon=0.1).json()["affordable"] == 1  # 0.1 left
    assert proxy.explain(QUERIES[0], epsilon=0.3).json()["affordable"] is None  # cached: free


def test_explain_affordable_agrees_with_the_sandbox_under_zcdp(proxy: Proxy) -> None:
    body = {"sql": "SELECT dept, COUNT(*) FROM employees GROUP BY dept", "epsilon": 0.1}
    plan = proxy.client.post("/v1/explain", json=body, headers=proxy.headers()).json()
    tried = proxy.client.post("/v1/sandbox/query", json={**body, "draws": 1},
                              headers=proxy.headers()).json()
    assert plan["affordable"] == tried["real"]["affordable"] > 100
