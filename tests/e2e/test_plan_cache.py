"""The plan cache (proxy/plan_cache.py) skips planning for a repeated text, and
nothing else: every request is charged and draws fresh noise, and a change of
the tables' metadata is planned anew (also tests/e2e/test_owner_tables.py)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Proxy, rich_budget

pytestmark = pytest.mark.parametrize("engine_kind", ["duckdb"])

SQL = "SELECT dept, COUNT(*) AS n FROM employees GROUP BY dept"


def _pipeline(proxy: Proxy) -> Any:
    return proxy.client.app.state.services.pipeline  # type: ignore[attr-defined]


def test_a_repeated_text_is_planned_once_but_charged_and_noised_each_time(
    make_proxy: Any,
) -> None:
    proxy = make_proxy(rich_budget)
    plans = _pipeline(proxy).plans
    answers, spent = [], []
    for i in range(6):
        # a different ε each time, so the answer cache (same text, ε, δ) never serves
        body = proxy.query(SQL, epsilon=0.5 + i / 1000).json()
        assert body["cached"] is False
        answers.append(tuple(row[1] for row in body["rows"]))
        spent.append(body["budget"]["spent"]["epsilon"])
    assert plans.misses >= 1 and plans.hits >= 5  # planned (and generated) once
    # every request charged: the spend grows each time, by that request's ε
    assert all(b > a for a, b in zip(spent, spent[1:], strict=False))
    # fresh noise: six draws at ε ≈ 0.5 over four groups are not all the same
    assert len(set(answers)) > 1


def test_a_metadata_change_is_planned_with_the_new_metadata(proxy: Proxy) -> None:
    sql = "SELECT SUM(salary) FROM employees"

    def sensitivity() -> float:
        return float(proxy.explain(sql).json()["outputs"][0]["sensitivity_l1"])

    assert sensitivity() == sensitivity() == 250_000  # the second from the cache
    owner = proxy.headers("olivia")
    document = proxy.client.get("/v1/admin/tables/employees", headers=owner).json()
    document["columns"]["salary"]["upper"] = 300_000
    response = proxy.client.put("/v1/admin/tables/employees", json=document, headers=owner,
                                params={"reason": "plan cache test"})
    assert response.status_code == 200, response.text
    assert sensitivity() == 300_000
