"""CTEs and subqueries in FROM through the HTTP API on DuckDB and PostgreSQL
(issue #4): row-level derived tables are answered, near the truth where the
noise is small; aggregating, row-picking or unit-dropping ones are refused with
the stable code, a position and what to write instead."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Proxy, exact_answers

ACCEPTED = [
    # a CTE, a subquery, computed columns with bounds by interval arithmetic
    "WITH v AS (SELECT person_id, amount, city FROM visits WHERE amount > 0) "
    "SELECT city, COUNT(*), SUM(amount) FROM v GROUP BY city",
    "SELECT t.city, AVG(t.a2) AS mean FROM (SELECT person_id, amount * 2 AS a2, city "
    "FROM visits WHERE amount > 0) AS t GROUP BY t.city ORDER BY mean DESC",
    # several CTEs, one reading another; nesting
    "WITH a AS (SELECT person_id, amount, city FROM visits WHERE amount > 10), "
    "b AS (SELECT person_id, amount AS x, city AS town FROM a WHERE city <> 'Oslo') "
    "SELECT town, SUM(x) FROM b GROUP BY town",
    "SELECT COUNT(*) FROM (SELECT * FROM (SELECT person_id, amount FROM visits "
    "WHERE amount > 1) x WHERE amount < 400) y",
    "WITH t AS (SELECT * FROM employees) SELECT dept, COUNT(*) FROM t GROUP BY dept",
    # a CTE bucketing rows, grouped by the bucket (its constants are the keys)
    "WITH e AS (SELECT id, CASE WHEN age < 40 THEN 'young' ELSE 'old' END AS band, salary "
    "FROM employees) SELECT band, COUNT(*), AVG(salary) FROM e GROUP BY band",
    # a CTE joined to a public table; a CTE of a private ⋈ public join
    "WITH e AS (SELECT id, dept, age FROM employees WHERE age > 30) "
    "SELECT d.floor, COUNT(*) FROM e JOIN departments d ON e.dept = d.dept GROUP BY d.floor",
    "WITH e AS (SELECT x.id, x.salary, d.budget_code FROM employees x JOIN departments d "
    "ON x.dept = d.dept) SELECT COUNT(*), SUM(salary) FROM e WHERE budget_code IS NOT NULL",
    "SELECT COUNT(*) FROM employees e JOIN (SELECT dept, floor FROM departments "
    "WHERE floor >= 2) d ON e.dept = d.dept",
    # CTEs joined with another private table on the privacy unit
    "WITH v AS (SELECT person_id, amount FROM visits WHERE amount > 10) "
    "SELECT e.dept, COUNT(*), SUM(v.amount) FROM employees e JOIN v ON e.id = v.person_id "
    "GROUP BY e.dept",
    "WITH v AS (SELECT person_id, city FROM visits), e AS (SELECT id, age FROM employees) "
    "SELECT v.city, COUNT(DISTINCT e.id) AS people FROM v JOIN e ON v.person_id = e.id "
    "GROUP BY v.city",
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_derived_table_query_runs(rich: Proxy, sql: str) -> None:
    response = rich.query(sql, epsilon=1.0)
    assert response.status_code == 200, (sql, response.text)
    body = response.json()
    assert body["rows"] and all(len(r) == len(body["columns"]) for r in body["rows"])
    assert body["accuracy"]
    explained = rich.explain(sql, epsilon=1.0)
    assert explained.status_code == 200, explained.text


def test_cte_answer_is_near_theexact_answers(rich: Proxy, demo_db: Any) -> None:
    sql = ("WITH e AS (SELECT id, salary / 12 AS monthly, age FROM employees WHERE age >= 30) "
           "SELECT COUNT(*) AS n, AVG(monthly) AS m FROM e")
    body = rich.query(sql, epsilon=5.0).json()
    (n, monthly), = body["rows"]
    true_n, true_monthly = exact_answers(
        demo_db, "SELECT COUNT(*), AVG(LEAST(salary, 250000) / 12) FROM employees WHERE age >= 30"
    )[0]
    assert abs(n - true_n) < 0.05 * true_n
    assert abs(monthly - true_monthly) / true_monthly < 0.1
    assert [c["name"] for c in body["columns"]] == ["n", "m"]


def test_subquery_keys_are_the_declared_ones(rich: Proxy, truth: Any) -> None:
    body = rich.query("SELECT t.dept, COUNT(*) FROM (SELECT id, dept FROM employees) AS t "
                      "GROUP BY t.dept", epsilon=5.0).json()
    assert sorted(r[0] for r in body["rows"]) == truth["departments"]
    for dept, n in body["rows"]:
        assert abs(n - truth["count_by_dept"].get(dept, 0)) < 30


REFUSED = [
    ("WITH v AS (SELECT person_id, SUM(amount) AS s FROM visits GROUP BY person_id) "
     "SELECT AVG(s) FROM v", "aggregate in the outer query"),
    ("WITH v AS (SELECT DISTINCT person_id, city FROM visits) SELECT COUNT(*) FROM v",
     "DISTINCT"),
    ("SELECT SUM(amount) FROM (SELECT person_id, amount FROM visits "
     "ORDER BY amount DESC LIMIT 1) t", "LIMIT"),
    ("SELECT COUNT(*) FROM (SELECT amount, city FROM visits) t", "select the unit column"),
    ("WITH v AS (SELECT id, salary FROM employees UNION ALL SELECT id, salary FROM employees) "
     "SELECT SUM(salary) FROM v", "UNION"),
    ("WITH a AS (SELECT id, age FROM employees), b AS (SELECT id, age FROM employees) "
     "SELECT COUNT(*) FROM a JOIN b ON a.age = b.age", "privacy units"),
    ("SELECT COUNT(*) FROM (SELECT * FROM read_csv('/etc/passwd')) t", "FROM must name a table"),
    ("WITH v AS (SELECT id, ROW_NUMBER() OVER (ORDER BY salary DESC) AS r FROM employees) "
     "SELECT COUNT(*) FROM v WHERE r = 1", "window"),
    ("WITH RECURSIVE r AS (SELECT id FROM employees UNION ALL SELECT id FROM r) "
     "SELECT COUNT(*) FROM r", "RECURSIVE"),
    ("WITH employees AS (SELECT person_id AS id FROM visits) SELECT COUNT(*) FROM employees",
     "name of a table"),
]


@pytest.mark.parametrize(("sql", "fragment"), REFUSED)
def test_unsafe_derived_table_is_refused(proxy: Proxy, sql: str, fragment: str) -> None:
    response = proxy.query(sql)
    assert response.status_code == 400, (sql, response.text)
    error = response.json()["error"]
    assert error["code"] == "unsupported_query", error
    assert fragment.lower() in error["message"].lower(), error
    assert error["position"] is not None, error
    budget = proxy.client.get("/v1/budget", headers=proxy.headers()).json()
    assert budget["spent"]["epsilon"] == 0  # refused before anything is charged
