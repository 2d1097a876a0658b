"""Accuracy-target mode: ask for the interval, not for ε. dpsql picks the
smallest ε that meets it, says which, charges it, and refuses what the
per-query cap cannot buy."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Proxy


@pytest.mark.parametrize("accounting", ["pure", "zcdp"])
def test_the_smallest_epsilon_meeting_the_target_is_chosen_and_charged(
    make_proxy: Any, accounting: str
) -> None:
    def tweak(doc: dict[str, Any]) -> None:
        doc["privacy"]["accounting"] = accounting
    proxy = make_proxy(tweak)
    sql = "SELECT dept, COUNT(*) AS n FROM employees GROUP BY dept"
    plan = proxy.explain(sql, accuracy={"ci95_halfwidth": 20}).json()
    chosen = plan["chosen_epsilon"]
    assert chosen is not None and plan["charge"]["epsilon"] == chosen
    assert plan["outputs"][1]["ci95_halfwidth"] <= 20
    # a noticeably smaller ε would not have met the target
    looser = proxy.explain(sql, epsilon=round(chosen * 0.8, 6)).json()
    assert looser["outputs"][1]["ci95_halfwidth"] > 20

    answer = proxy.query(sql, accuracy={"ci95_halfwidth": 20}).json()
    assert answer["chosen_epsilon"] == chosen
    assert answer["charged"]["epsilon"] == chosen
    assert all(a["ci95_halfwidth"] <= 20 for a in answer["accuracy"])


def test_targets_the_cap_cannot_buy_name_the_cap(proxy: Proxy) -> None:
    response = proxy.query("SELECT SUM(salary) FROM employees", accuracy={"ci95_halfwidth": 1})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter" and "max_query_epsilon" in error["message"]


@pytest.mark.parametrize("body", [
    {"accuracy": {"ci95_halfwidth": 10}, "epsilon": 0.5},
    {"accuracy": {"ci95_halfwidth": 0}},
    {"accuracy": {"ci95_halfwidth": "10"}},
    {"accuracy": {"width": 10}},
])
def test_bad_targets_are_invalid(proxy: Proxy, body: dict[str, Any]) -> None:
    response = proxy.client.post("/v1/query", headers=proxy.headers(),
                                 json={"sql": "SELECT COUNT(*) FROM employees", **body})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"


def test_only_exact_intervals_can_be_targeted(proxy: Proxy) -> None:
    response = proxy.query("SELECT AVG(age) FROM employees", accuracy={"ci95_halfwidth": 5})
    assert response.status_code == 400
    assert "give epsilon instead" in response.json()["error"]["message"]
