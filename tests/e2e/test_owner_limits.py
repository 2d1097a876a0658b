"""Data owners' limits through the HTTP API: the dataset-wide budget, the
per-query caps, grants that expire, and exact decimals as people write them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import Proxy

pytestmark = pytest.mark.parametrize("engine_kind", ["duckdb"])


def _limits(analyst_eps: float, dataset_eps: float | None, **privacy: Any
            ) -> Callable[[dict[str, Any]], None]:
    def tweak(doc: dict[str, Any]) -> None:
        doc["privacy"].update({"accounting": "pure", "default_query_delta": 0, **privacy})
        if dataset_eps is None:
            doc["privacy"].pop("dataset_budget", None)
        else:
            doc["privacy"]["dataset_budget"] = {"epsilon": dataset_eps, "delta": 0}
        doc["analysts"]["alice"]["budget"] = {"epsilon": analyst_eps, "delta": 0}
        doc["analysts"]["bob"] = {**doc["analysts"]["alice"],
                                  "api_key_sha256": doc["analysts"]["bob"]["api_key_sha256"]}
    return tweak


def _q(proxy: Proxy, i: int, who: str = "alice", epsilon: float = 0.1) -> Any:
    return proxy.query(f"SELECT COUNT(*) FROM employees WHERE age > {-i}", who=who,
                       epsilon=epsilon)


def test_the_dataset_budget_binds_all_analysts_together(make_proxy: Any) -> None:
    proxy = make_proxy(_limits(analyst_eps=3.0, dataset_eps=5.0))
    for i in range(30):
        assert _q(proxy, i, epsilon=0.1).status_code == 200          # alice: 3.0
    for i in range(20):
        assert _q(proxy, i, who="bob", epsilon=0.1).status_code == 200  # bob: 2.0 → total 5.0
    refused = _q(proxy, 99, who="bob", epsilon=0.1)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "budget_exhausted"
    assert "dataset-wide budget" in error["message"]
    assert "PATCH /v1/admin/budget" in error["message"]
    budget = proxy.client.get("/v1/budget", headers=proxy.headers("bob")).json()
    assert budget["remaining"]["epsilon"] == 1.0 and budget["dataset"]["remaining"]["epsilon"] == 0


def test_the_analysts_own_budget_names_itself(make_proxy: Any) -> None:
    proxy = make_proxy(_limits(analyst_eps=0.3, dataset_eps=5.0))
    for i in range(3):
        assert _q(proxy, i).status_code == 200
    error = _q(proxy, 9).json()["error"]
    assert error["code"] == "budget_exhausted"
    assert "exceeds the analyst's budget" in error["message"]
    assert "PATCH /v1/admin/analysts/alice/budget" in error["message"]


@pytest.mark.slow
def test_a_thousand_thousandths_fit_a_budget_of_one(make_proxy: Any) -> None:
    proxy = make_proxy(_limits(analyst_eps=1.0, dataset_eps=None))
    for i in range(1000):
        assert _q(proxy, i, epsilon=0.001).status_code == 200, i
    assert _q(proxy, 1000, epsilon=0.001).json()["error"]["code"] == "budget_exhausted"


def test_per_query_caps_name_the_cap(make_proxy: Any) -> None:
    proxy = make_proxy(_limits(analyst_eps=3.0, dataset_eps=None, max_query_epsilon=0.5,
                               max_query_delta=1e-6))
    too_much = _q(proxy, 0, epsilon=0.6).json()["error"]
    assert too_much["code"] == "invalid_parameter" and "max_query_epsilon" in too_much["message"]
    delta = proxy.query("SELECT COUNT(*) FROM employees", epsilon=0.1, delta=1e-5).json()
    assert "max_query_delta" in delta["error"]["message"]
    assert _q(proxy, 0, epsilon=0.5).status_code == 200


def test_an_expired_grant_spends_nothing_more(make_proxy: Any) -> None:
    def tweak(doc: dict[str, Any]) -> None:
        _limits(analyst_eps=3.0, dataset_eps=None)(doc)
        doc["analysts"]["alice"]["budget"]["expires"] = "2026-06-30"
    proxy = make_proxy(tweak)
    proxy.clock[0] = dt.datetime(2026, 6, 30, 23, 59, tzinfo=dt.UTC)
    assert _q(proxy, 0).status_code == 200  # the whole last day still counts
    proxy.clock[0] = dt.datetime(2026, 7, 1, 0, 0, tzinfo=dt.UTC)
    error = _q(proxy, 1).json()["error"]
    assert error["code"] == "budget_exhausted" and "expired" in error["message"]
    budget = proxy.client.get("/v1/budget", headers=proxy.headers()).json()
    assert budget["expired"] is True and budget["spent"]["epsilon"] == 0.1
