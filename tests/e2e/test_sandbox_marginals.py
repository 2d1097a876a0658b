"""The owner's better twin (issue #22): DP marginals of the real data, paid once from the
dataset-wide budget through the ordinary pipeline and recorded in the ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import Proxy


@pytest.fixture
def engine_kind() -> str:
    return "duckdb"


def _pure(doc: dict[str, Any]) -> None:
    doc["privacy"]["accounting"] = "pure"
    doc["privacy"]["dataset_budget"] = {"epsilon": 10.0, "delta": 1e-5}


def test_marginals_shape_the_twin_once_paid_and_ledgered(
    make_proxy: Callable[..., Proxy], truth: dict[str, Any]
) -> None:
    proxy = make_proxy(_pure)
    owner, carl = proxy.headers("olivia"), proxy.headers("carl")
    sql = "SELECT dept, COUNT(*) AS n FROM employees GROUP BY dept"
    before = proxy.client.post("/v1/sandbox/query", json={"sql": sql},
                               headers=proxy.headers()).json()
    assert before["twin"]["people"]["employees"] == 10_000 and before["twin"]["marginals"] == []
    spent = proxy.client.get("/v1/admin/budget", headers=owner).json()
    refused = proxy.client.post("/v1/admin/sandbox/marginals", json={"epsilon": 2.0},
                                headers=proxy.headers())
    assert refused.status_code == 403
    made = proxy.client.post("/v1/admin/sandbox/marginals",
                             json={"epsilon": 2.0, "reason": "twin for the spring course"},
                             headers=owner)
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["analyst"] == "dpsql-sandbox" and len(body["query_ids"]) >= 4
    assert body["twin"]["marginals"] == ["employees", "visits"]
    assert abs(body["twin"]["people"]["employees"] - 3000) < 60  # the demo has 3,000
    ledger = proxy.client.get("/v1/ledger", params={"analyst": "dpsql-sandbox"},
                              headers=carl).json()
    charged = [e for e in ledger["entries"] if e.get("query_id") in body["query_ids"]]
    assert len(charged) == len(body["query_ids"])
    after = proxy.client.get("/v1/admin/budget", headers=owner).json()
    assert after["spent"]["epsilon"] - spent["spent"]["epsilon"] == pytest.approx(2.0, abs=1e-6)
    # the twin's departments now have the real data's shares (one person, one row)
    twin = proxy.client.post("/v1/sandbox/query", json={"sql": sql},
                             headers=proxy.headers()).json()
    assert twin["twin"]["marginals"] == ["employees", "visits"]
    for dept, n in twin["exact_rows"]:
        assert abs(n - truth["count_by_dept"][dept]) < 0.15 * truth["count_by_dept"][dept] + 40
    # asking again at the same ε is answered from the ledger's cache: nothing more is spent
    again = proxy.client.post("/v1/admin/sandbox/marginals", json={"epsilon": 2.0},
                              headers=owner).json()
    assert again["query_ids"] == []
    assert proxy.client.get("/v1/admin/budget", headers=owner).json()["spent"] == after["spent"]


def test_marginals_under_zcdp_use_the_default_delta(proxy: Proxy) -> None:
    made = proxy.client.post("/v1/admin/sandbox/marginals", json={"epsilon": 1.0},
                             headers=proxy.headers("olivia"))
    assert made.status_code == 200, made.text
    assert made.json()["twin"]["marginals"] == ["employees", "visits"]
