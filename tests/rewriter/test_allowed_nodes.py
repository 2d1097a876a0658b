"""The allow-lists, each class with at least one fixture that plans (STYLE habit 2).

Row expressions (WHERE, aggregate arguments) and post-processing expressions
(over aggregates) are allow-listed by node class; a class nobody exercises is a
class nobody checked."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from rewriter import Catalog, plan_query
from rewriter.expressions import ROW_NODES
from rewriter.post import _POST_NODES

ROW_FIXTURES = [
    "SELECT COUNT(*) FROM employees WHERE (age + 1) * 2 - 3 > -5 AND salary / age < 100",
    "SELECT SUM(ABS(age) + ROUND(salary) + FLOOR(salary) + CEIL(salary)) FROM employees",
    "SELECT SUM(LEAST(age, 50) + GREATEST(age, 20)) FROM employees",
    "SELECT SUM(CASE WHEN remote THEN 1 ELSE 0 END + IF(age > 3, 1, 0)) FROM employees",
    "SELECT SUM(COALESCE(age, 0) + NULLIF(age, 30) + CAST(age AS DOUBLE) "
    "+ TRY_CAST(age AS DOUBLE)) FROM employees",
    "SELECT SUM(EXTRACT(YEAR FROM hired) + YEAR(hired) + MONTH(hired) + DAY(hired) "
    "+ QUARTER(hired) + DAYOFWEEK(hired) + DAYOFYEAR(hired) + WEEK(hired)) FROM employees",
    "SELECT COUNT(*) FROM employees WHERE DATE_TRUNC('month', hired) > DATE '2020-01-01'",
    "SELECT COUNT(*) FROM employees WHERE age = 1 OR age <> 2 OR age < 3 OR age <= 4 "
    "OR age > 5 OR age >= 6",
    "SELECT COUNT(*) FROM employees WHERE NOT (age IS NULL) AND age IN (1, 2) "
    "AND age BETWEEN 1 AND 9 AND name LIKE 'a%' AND name ILIKE 'B%' AND remote = true "
    "AND city = NULL",
]
POST_FIXTURES = [
    "SELECT (COUNT(*) + 1 - 2) * 3 / 4 % 5, -SUM(age) FROM employees",
    "SELECT dept, CASE WHEN COUNT(*) > 1 THEN 'a' END, IF(COUNT(*) < 2, 1, 0), "
    "COALESCE(SUM(age), 0), NULLIF(COUNT(*), 0), ABS(SUM(age)), ROUND(AVG(age)), "
    "FLOOR(AVG(age)), CEIL(AVG(age)), LEAST(COUNT(*), 5), GREATEST(COUNT(*), 5), "
    "SQRT(COUNT(*)), CAST(COUNT(*) AS INTEGER), TRY_CAST(SUM(age) AS INTEGER), dept || 'x' "
    "FROM employees GROUP BY dept HAVING COUNT(*) = 1 OR COUNT(*) <> 2 OR COUNT(*) < 3 "
    "OR COUNT(*) <= 4 OR COUNT(*) > 5 OR COUNT(*) >= 6 OR NOT (SUM(age) IS NULL) "
    "AND COUNT(*) IN (1, 2) AND COUNT(*) BETWEEN 1 AND 3 AND dept LIKE 'E%' "
    "AND dept ILIKE 'e%' AND true",
    "SELECT POWER(SUM(age), 2), LN(COUNT(*)), LOG(10, COUNT(*)), EXP(AVG(age) / 100), PI(), "
    "SIGN(SUM(age)), CBRT(COUNT(*)), RANDOM() FROM employees",
]


def _classes(sqls: list[str]) -> set[type[exp.Expression]]:
    """The node classes of the fixtures as sqlglot reads them, and as the planner
    (DuckDB's dialect: DATE_TRUNC is a TimestampTrunc there) does."""
    return {type(node) for sql in sqls for dialect in (None, "duckdb")
            for node in sqlglot.parse_one(sql, read=dialect).walk()}


@pytest.mark.parametrize("sql", ROW_FIXTURES + POST_FIXTURES)
def test_fixture_plans(catalog: Catalog, sql: str) -> None:
    plan_query(sql, catalog)


@pytest.mark.parametrize("cls", ROW_NODES, ids=lambda c: c.__name__)
def test_every_row_node_has_a_fixture(cls: type[exp.Expression]) -> None:
    assert cls in _classes(ROW_FIXTURES)


@pytest.mark.parametrize("cls", _POST_NODES, ids=lambda c: c.__name__)
def test_every_post_node_has_a_fixture(cls: type[exp.Expression]) -> None:
    assert cls in _classes(POST_FIXTURES)
