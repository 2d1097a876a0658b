"""Data owners manage analysts, keys and budgets through the API; each change
is a ledger entry with who and why, and proxies sharing a ledger all see it."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Proxy

pytestmark = pytest.mark.parametrize("engine_kind", ["duckdb"])


def _create(proxy: Proxy, name: str = "dana", **extra: Any) -> dict[str, Any]:
    body = {"name": name, "role": "analyst",
            "budget": {"epsilon": 1.0, "delta": 1e-6}, "reason": "new team member", **extra}
    response = proxy.client.post("/v1/admin/analysts", json=body, headers=proxy.headers("olivia"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_owner_creates_an_analyst_whose_key_works_once_shown(proxy: Proxy) -> None:
    created = _create(proxy)
    assert created["api_key"].startswith("dpsql_")
    answer = proxy.client.post("/v1/query", json={"sql": "SELECT COUNT(*) FROM employees"},
                               headers=_as(created["api_key"]))
    assert answer.status_code == 200, answer.text
    listed = proxy.client.get("/v1/admin/analysts", headers=proxy.headers("carl")).json()
    dana = next(a for a in listed["analysts"] if a["name"] == "dana")
    assert dana["granted"]["epsilon"] == 1.0 and dana["spent"]["epsilon"] > 0
    assert "api_key" not in str(listed) and created["api_key"] not in str(listed)
    again = proxy.client.post("/v1/admin/analysts", json={"name": "dana", "role": "analyst"},
                              headers=proxy.headers("olivia"))
    assert again.status_code == 400 and "exists" in again.json()["error"]["message"]


def test_budget_changes_are_ledgered_with_who_and_why(proxy: Proxy) -> None:
    _create(proxy)
    raised = proxy.client.patch("/v1/admin/analysts/dana/budget", headers=proxy.headers("olivia"),
                                json={"epsilon": 2.5, "delta": 1e-6, "reason": "Q3 study"})
    assert raised.status_code == 200, raised.text
    assert raised.json()["granted"]["epsilon"] == 2.5
    grants = proxy.client.get("/v1/ledger", params={"kind": "grant", "analyst": "dana"},
                              headers=proxy.headers("carl")).json()["entries"]
    assert grants[-1]["actor"] == "owner:olivia" and grants[-1]["reason"] == "Q3 study"
    missing = proxy.client.patch("/v1/admin/analysts/nobody/budget",
                                 headers=proxy.headers("olivia"),
                                 json={"epsilon": 1, "delta": 0, "reason": "x"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_disable_and_rotate_take_effect_at_once(proxy: Proxy) -> None:
    key = _create(proxy)["api_key"]
    owner = proxy.headers("olivia")
    proxy.client.patch("/v1/admin/analysts/dana", json={"disabled": True, "reason": "left"},
                       headers=owner)
    refused = proxy.client.get("/v1/budget", headers=_as(key))
    assert refused.status_code == 401 and "disabled" in refused.json()["error"]["message"]
    proxy.client.patch("/v1/admin/analysts/dana", json={"disabled": False}, headers=owner)
    assert proxy.client.get("/v1/budget", headers=_as(key)).status_code == 200
    new_key = proxy.client.post("/v1/admin/analysts/dana/key", json={"reason": "leaked"},
                                headers=owner).json()["api_key"]
    assert proxy.client.get("/v1/budget", headers=_as(key)).status_code == 401
    assert proxy.client.get("/v1/budget", headers=_as(new_key)).status_code == 200


def test_dataset_budget_and_shares(proxy: Proxy) -> None:
    owner = proxy.headers("olivia")
    proxy.query("SELECT COUNT(*) FROM employees", epsilon=0.5)
    key = _create(proxy)["api_key"]
    proxy.client.post("/v1/query", json={"sql": "SELECT SUM(age) FROM employees",
                                         "epsilon": 0.5}, headers=_as(key))
    raised = proxy.client.patch("/v1/admin/budget", headers=owner,
                                json={"epsilon": 20, "delta": 1e-5, "reason": "new grant"})
    assert raised.status_code == 200, raised.text
    body = raised.json()
    assert body["granted"]["epsilon"] == 20
    shares = {a["name"]: a["share_of_dataset"] for a in body["analysts"]}
    assert shares["alice"] > 0 and shares["dana"] > 0
    assert sum(shares.values()) == pytest.approx(1.0)
    seen_by_compliance = proxy.client.get("/v1/admin/budget", headers=proxy.headers("carl"))
    assert seen_by_compliance.status_code == 200
    assert proxy.client.get("/v1/admin/budget", headers=proxy.headers()).status_code == 403
    no_reason = proxy.client.patch("/v1/admin/budget", headers=owner,
                                   json={"epsilon": 20, "delta": 1e-5})
    assert no_reason.status_code == 400


def test_proxies_sharing_a_ledger_share_the_registry(make_proxy: Any, tmp_path: Any) -> None:
    ledger = tmp_path / "shared.db"
    first = make_proxy(ledger=ledger)
    key = _create(first)["api_key"]
    second = make_proxy(ledger=ledger)
    response = second.client.get("/v1/budget", headers=_as(key))
    assert response.status_code == 200 and response.json()["analyst"] == "dana"
