"""Private ⋈ public joins through the HTTP API on both engines; private ⋈
private is refused with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Proxy

JOINS = [
    "SELECT d.floor, COUNT(*) AS n FROM employees e JOIN departments d ON e.dept = d.dept "
    "GROUP BY d.floor ORDER BY d.floor",
    "SELECT e.dept, AVG(e.salary) FROM employees e LEFT JOIN departments d ON e.dept = d.dept "
    "WHERE d.budget_code IS NOT NULL GROUP BY e.dept",
    "SELECT COUNT(*) FROM employees JOIN departments ON employees.dept = departments.dept "
    "WHERE departments.floor >= 2",
]


@pytest.mark.parametrize("sql", JOINS)
def test_private_join_public_runs(rich: Proxy, sql: str) -> None:
    response = rich.query(sql, epsilon=1.0, delta=1e-6)
    assert response.status_code == 200, response.text
    assert response.json()["rows"]


def test_join_keys_and_counts_are_near_the_truth(rich: Proxy, truth: Any) -> None:
    body = rich.query("SELECT e.dept, COUNT(*) AS n FROM employees e JOIN departments d "
                      "ON e.dept = d.dept GROUP BY e.dept", epsilon=5.0).json()
    assert [row[0] for row in body["rows"]] == truth["departments"]
    for dept, n in body["rows"]:
        assert abs(n - truth["count_by_dept"].get(dept, 0)) < 30


def test_private_join_private_on_units_runs(rich: Proxy) -> None:
    response = rich.query("SELECT v.city, COUNT(DISTINCT e.id) AS people, AVG(e.age) "
                          "FROM employees e JOIN visits v ON e.id = v.person_id GROUP BY v.city",
                          epsilon=1.0)
    assert response.status_code == 200, response.text
    assert len(response.json()["rows"]) >= 1


def test_private_join_private_not_on_units_is_refused(rich: Proxy) -> None:
    response = rich.query("SELECT COUNT(*) FROM employees e JOIN visits v ON e.age = v.amount")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unsupported_query" and error["position"] is not None
    assert "privacy units" in error["message"]
