"""Queries over public tables only (`rewriter.public`, issue #19): one allow-list of
node classes, each with a fixture (STYLE habit 2); a query reading any private table
is left to the DP path; inner joins are taken in either order."""

from __future__ import annotations

import pytest
from sqlglot import exp

from rewriter import Catalog, QueryRefused, plan_query
from rewriter.parse import parse
from rewriter.public import _ALLOWED, MAX_PUBLIC_ROWS, public_query

FIXTURES = [
    "SELECT d.dept AS name, floor + 1 - 2 * 3 / 4 % 5 AS f, -floor FROM departments AS d "
    "WHERE (floor = 1 OR floor <> 2 OR floor < 3 OR floor <= 4 OR floor > 5 OR floor >= 6) "
    "AND NOT floor IS NULL AND floor IN (1, 2) AND floor BETWEEN 1 AND 9 "
    "AND dept LIKE 'E%' AND dept ILIKE 'e%' ORDER BY f DESC LIMIT 5 OFFSET 1",
    "SELECT floor, COUNT(*), COUNT(DISTINCT dept), SUM(floor), AVG(floor), MIN(dept), "
    "MAX(dept) FROM departments GROUP BY floor HAVING COUNT(*) > 0",
    "SELECT CASE WHEN floor > 2 THEN 'high' ELSE 'low' END, IF(floor > 1, 1, 0), "
    "CAST(floor AS DECIMAL(10, 2)), TRY_CAST(dept AS INTEGER), COALESCE(dept, 'x'), "
    "NULLIF(floor, 3), LOWER(dept), UPPER(dept), LENGTH(dept), ABS(floor), "
    "ROUND(floor), FLOOR(floor), CEIL(floor), CONCAT(dept, 'x'), dept || 'y', TRUE, NULL "
    "FROM departments",
    "SELECT COUNT(*) FROM departments d JOIN cities c ON d.dept = c.name "
    "WHERE c.rank IS NOT DISTINCT FROM 1 OR c.rank IS DISTINCT FROM 2",
    "SELECT EXTRACT(YEAR FROM CAST('2020-01-01' AS DATE)) FROM departments",
]


def test_every_allowed_class_has_a_fixture(catalog: Catalog) -> None:
    seen: set[type[exp.Expression]] = set()
    for sql in FIXTURES:
        plan = public_query(sql, catalog)
        assert plan is not None, sql
        seen |= {type(node) for node in parse(sql).walk()}
    assert not _ALLOWED - seen, sorted(c.__name__ for c in _ALLOWED - seen)


@pytest.mark.parametrize(("sql", "fragment"), [
    ("SELECT * FROM departments", "name the columns"),
    ("SELECT dept FROM departments WHERE floor IN (SELECT floor FROM departments)",
     "subqueries"),
    ("SELECT md5(dept) FROM departments", "not allowed"),
    ("SELECT dept FROM other.departments", "schema other holds no table"),
    ("SELECT nope FROM departments", "does not exist"),
    ("SELECT dept FROM departments UNION SELECT name FROM cities", "one SELECT"),
    ("SELECT dept, ROW_NUMBER() OVER () FROM departments", "not allowed"),
])
def test_public_queries_are_refused_outside_the_allow_list(catalog: Catalog, sql: str,
                                                           fragment: str) -> None:
    with pytest.raises(QueryRefused, match=fragment):
        public_query(sql, catalog)


@pytest.mark.parametrize("sql", [
    "SELECT COUNT(*) FROM employees",
    "SELECT COUNT(*) FROM departments d JOIN employees e ON e.dept = d.dept",
    "SELECT COUNT(*) FROM nope",
    "WITH d AS (SELECT dept FROM departments) SELECT COUNT(*) FROM d",
])
def test_anything_private_or_unknown_goes_to_the_dp_path(catalog: Catalog, sql: str) -> None:
    assert public_query(sql, catalog) is None


def test_rows_are_capped_and_names_quoted_as_declared(catalog: Catalog) -> None:
    plan = public_query("SELECT dept FROM DEPARTMENTS LIMIT 99999999", catalog)
    assert plan is not None
    assert plan.sql("postgres") == (
        f'SELECT dept AS "dept" FROM "departments" LIMIT {MAX_PUBLIC_ROWS}')
    counted = public_query("SELECT floor, COUNT(*), COUNT(*) FROM departments GROUP BY floor",
                           catalog)
    assert counted is not None
    assert [e.alias for e in counted.tree.expressions] == ["floor", "count(*)", "count(*)_2"]
    assert public_query("SELECT dept FROM departments LIMIT 3", catalog).sql(  # type: ignore
        "duckdb").endswith("LIMIT 3")


def test_an_inner_join_is_planned_the_same_in_either_order(catalog: Catalog) -> None:
    ours = plan_query("SELECT COUNT(*) FROM employees e JOIN departments d ON e.dept = d.dept "
                      "WHERE d.floor > 2", catalog)
    theirs = plan_query("SELECT COUNT(*) FROM departments d JOIN employees e "
                        "ON e.dept = d.dept WHERE d.floor > 2", catalog)
    assert ours.sql("duckdb") == theirs.sql("duckdb")
    assert [m.l1 for m in ours.measures] == [m.l1 for m in theirs.measures]
