"""Public tables are public (issue #19): declared as `{public: true}` they take
their columns from the database; queries over them alone are exact and free;
joins with a private table work in either order. Both engines, over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import Proxy, exact_answers


def _bare_departments(doc: dict[str, Any]) -> None:
    doc["tables"]["departments"] = {"public": True}  # the SPEC's example, as written


@pytest.fixture
def bare(make_proxy: Callable[..., Proxy]) -> Proxy:
    return make_proxy(_bare_departments)


def _ledger_kinds(proxy: Proxy) -> list[str]:
    entries = proxy.client.get("/v1/ledger", headers=proxy.headers("carl")).json()["entries"]
    return [e["kind"] for e in entries]


def test_a_public_table_takes_its_columns_from_the_database(bare: Proxy) -> None:
    tables = {t["name"]: t for t in bare.client.get("/v1/tables",
                                                    headers=bare.headers()).json()["tables"]}
    columns = {c["name"]: c["type"] for c in tables["departments"]["columns"]}
    assert columns == {"dept": "text", "floor": "integer", "budget_code": "text"}


def test_public_only_queries_are_exact_and_free(bare: Proxy, demo_db: Path) -> None:
    before = bare.client.get("/v1/budget", headers=bare.headers()).json()
    sql = ("SELECT floor, COUNT(*) AS n, MIN(dept) AS first FROM departments "
           "WHERE floor > 1 GROUP BY floor ORDER BY floor")
    response = bare.query(sql)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rows"] == [list(r) for r in exact_answers(demo_db, sql)]
    assert body["charged"] == {"epsilon": 0.0, "delta": 0.0, "share": 0.0,
                               "dataset_share": 0.0} and body["accuracy"] == []
    assert [c["type"] for c in body["columns"]] == ["integer", "integer", "text"]
    assert [c["name"] for c in body["columns"]] == ["floor", "n", "first"]
    unnamed = bare.query("SELECT COUNT(*), MAX(floor) FROM departments").json()
    assert [c["name"] for c in unnamed["columns"]] == ["count(*)", "max(floor)"]  # both engines
    after = bare.client.get("/v1/budget", headers=bare.headers()).json()
    assert after == before
    assert "charge" not in _ledger_kinds(bare)
    plan = bare.explain(sql).json()
    assert plan["charge"]["epsilon"] == 0 and plan["fits_budget"] is True


@pytest.mark.parametrize(("sql", "fragment"), [
    ("SELECT * FROM departments", "name the columns"),
    ("SELECT dept FROM departments WHERE floor IN (SELECT floor FROM departments)",
     "subqueries"),
    ("SELECT wing FROM departments", "column 'wing' does not exist"),
    ("SELECT table_name FROM information_schema.tables",
     "schema information_schema holds no table"),
    ("SELECT dept FROM other.departments", "schema other holds no table"),
])
def test_public_only_queries_stay_on_the_allow_list(bare: Proxy, sql: str,
                                                    fragment: str) -> None:
    response = bare.query(sql)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "unsupported_query"
    assert fragment in response.json()["error"]["message"]


@pytest.mark.parametrize("sql", [
    "SELECT COUNT(*) AS n FROM employees JOIN departments ON employees.dept = departments.dept "
    "WHERE departments.floor >= 4",
    "SELECT COUNT(*) AS n FROM departments JOIN employees ON employees.dept = departments.dept "
    "WHERE departments.floor >= 4",
    "SELECT COUNT(*) AS n FROM departments d JOIN employees e ON d.dept = e.dept "
    "WHERE d.floor >= 4",
])
def test_joins_with_a_private_table_work_in_either_order(
        make_proxy: Callable[..., Proxy], demo_db: Path, sql: str) -> None:
    from .conftest import rich_budget

    def setup(doc: dict[str, Any]) -> None:
        _bare_departments(doc)
        rich_budget(doc)

    proxy = make_proxy(setup)
    response = proxy.query(sql, epsilon=10.0)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["charged"]["epsilon"] > 0
    exact = exact_answers(demo_db, sql)[0][0]
    assert abs(body["rows"][0][0] - exact) <= 2 + 3 * body["accuracy"][0]["ci95_halfwidth"]


def test_a_left_join_from_a_public_table_is_still_refused(bare: Proxy) -> None:
    response = bare.query("SELECT COUNT(*) FROM departments LEFT JOIN employees "
                          "ON employees.dept = departments.dept")
    assert response.status_code == 400
    assert "put the private table first" in response.json()["error"]["message"]


def test_an_engine_failure_over_public_tables_is_one_clear_error(bare: Proxy) -> None:
    response = bare.query("SELECT CAST(dept AS INTEGER) AS n FROM departments")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal" and "nothing was charged" in error["message"]
    assert "Engineering" not in response.text
