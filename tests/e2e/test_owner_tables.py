"""Owners change table metadata through the API: validated as in dpsql.yaml,
ledgered with what it loosens, seen by every proxy sharing the ledger, and
not undone by a restart."""

from __future__ import annotations

import time
from typing import Any

import pytest

from proxy.tables import REFRESH_SECONDS

from .conftest import Proxy

pytestmark = pytest.mark.parametrize("engine_kind", ["duckdb"])


def _salary_sensitivity(proxy: Proxy) -> float:
    plan = proxy.explain("SELECT SUM(salary) FROM employees").json()
    return float(plan["outputs"][0]["sensitivity_l1"])


def test_owner_widens_a_bound_and_the_ledger_says_so(proxy: Proxy) -> None:
    owner = proxy.headers("olivia")
    document = proxy.client.get("/v1/admin/tables/employees", headers=owner).json()
    assert document["privacy_unit"] == "id"
    assert _salary_sensitivity(proxy) == 250_000
    document["columns"]["salary"]["upper"] = 400_000
    response = proxy.client.put("/v1/admin/tables/employees", json=document, headers=owner,
                                params={"reason": "executive pay study"})
    assert response.status_code == 200, response.text
    assert _salary_sensitivity(proxy) == 400_000
    entries = proxy.client.get("/v1/ledger", params={"kind": "table"},
                               headers=proxy.headers("carl")).json()["entries"]
    last = entries[-1]
    assert last["actor"] == "owner:olivia" and last["reason"] == "executive pay study"
    assert "salary.upper 250000 -> 400000" in last["detail"]["note"]["loosens"]


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda d: d["columns"]["salary"].update(lower=10, upper=5), "must not exceed"),
    (lambda d: d.update(privacy_unit="nope"), "privacy_unit"),
    (lambda d: d["columns"]["dept"].update(public_keys={"table": "visits", "column": "city"}),
     "not a public table"),
    (lambda d: d.update(colour="red"), "colour"),
])
def test_invalid_metadata_is_refused_with_its_path(proxy: Proxy, change: Any,
                                                   fragment: str) -> None:
    owner = proxy.headers("olivia")
    document = proxy.client.get("/v1/admin/tables/employees", headers=owner).json()
    change(document)
    response = proxy.client.put("/v1/admin/tables/employees", json=document, headers=owner)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_parameter"
    assert fragment in response.json()["error"]["message"]
    assert _salary_sensitivity(proxy) == 250_000


def test_other_proxies_see_the_change_and_a_restart_keeps_it(make_proxy: Any,
                                                             tmp_path: Any) -> None:
    ledger = tmp_path / "shared.db"
    first, second = make_proxy(ledger=ledger), make_proxy(ledger=ledger)
    owner = first.headers("olivia")
    document = first.client.get("/v1/admin/tables/employees", headers=owner).json()
    document["columns"]["salary"]["upper"] = 300_000
    assert first.client.put("/v1/admin/tables/employees", json=document,
                            headers=owner).status_code == 200
    time.sleep(REFRESH_SECONDS + 0.2)
    assert _salary_sensitivity(second) == 300_000
    restarted = make_proxy(ledger=ledger)  # same dpsql.yaml, still saying 250000
    assert _salary_sensitivity(restarted) == 300_000


def test_only_owners_change_metadata(proxy: Proxy) -> None:
    document = proxy.client.get("/v1/admin/tables/employees",
                                headers=proxy.headers("carl")).json()
    for who in ("alice", "carl"):
        response = proxy.client.put("/v1/admin/tables/employees", json=document,
                                    headers=proxy.headers(who))
        assert response.status_code == 403
    missing = proxy.client.get("/v1/admin/tables/nope", headers=proxy.headers("olivia"))
    assert missing.status_code == 404
