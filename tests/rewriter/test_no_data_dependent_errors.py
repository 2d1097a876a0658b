"""Rewritten queries never fail because of what a row holds (STYLE habit 8).

An error that depends on a value is an oracle: one person could make a query
fail. Each rewritten query runs on DuckDB and on PostgreSQL over a table where
one person holds the most hostile values the column types allow (±1e308,
denormals, NaN, ±Infinity, NULL, huge integers), and must simply answer.
"""

from __future__ import annotations

import duckdb
import psycopg
import pytest

from rewriter import Catalog, plan_query
from tests.pg import require_postgres, throwaway_database

QUERIES = [
    "SELECT SUM(amount * amount * amount) FROM visits",
    "SELECT SUM(amount / (amount - amount)), AVG(100 / amount) FROM visits",
    "SELECT COUNT(*) FROM visits WHERE amount * 1000000 > 5 OR amount / 0 > 1",
    "SELECT COUNT(*) FROM visits WHERE amount * amount * amount * amount > 1",
    "SELECT VARIANCE(amount), STDDEV(amount * 3), MEDIAN(amount), MAX(amount) FROM visits",
    "SELECT SUM(EXTRACT(YEAR FROM visit_date)), SUM(CASE WHEN amount > 1 THEN amount END) "
    "FROM visits",
    "SELECT SUM(CAST(amount AS INTEGER)), COUNT(CAST(amount AS DOUBLE)) FROM visits",
    "SELECT city, SUM(ROUND(amount / 3)), SUM(ABS(amount)) FROM visits GROUP BY city",
    "SELECT COUNT(*) FROM employees WHERE age * 1000000 > 10 AND salary / age > 1",
    "SELECT SUM(age * age * age), AVG(salary * age) FROM employees",
    "SELECT COUNT(*) FROM employees WHERE CAST(age AS VARCHAR) = '1'",
]

HOSTILE_AMOUNTS = ["1e308", "-1e308", "5e-324", "-5e-324", "1e-310", "'NaN'", "'Infinity'",
                   "'-Infinity'", "NULL", "0", "2.5e-200"]
HOSTILE_AGES = ["2147483647", "-2147483648", "0", "NULL", "1"]


def _rows_sql(duck: bool) -> list[str]:
    cast = "::DOUBLE" if duck else "::float8"
    visits = [
        f"INSERT INTO visits VALUES ({p}, 'Oslo', {a}{cast}, DATE '2024-01-01')"
        for p, a in enumerate(HOSTILE_AMOUNTS)
    ]
    people = [
        f"INSERT INTO employees VALUES ({i}, 'x', 'HR', {a}{cast}, {g}, DATE '2020-02-29', "
        "true, 'x')"
        for i, (a, g) in enumerate(
            zip(HOSTILE_AMOUNTS, (HOSTILE_AGES * 3)[:len(HOSTILE_AMOUNTS)], strict=True))
    ]
    return visits + people


SCHEMA = [
    "CREATE TABLE visits (person_id BIGINT, city TEXT, amount DOUBLE PRECISION, "
    "visit_date DATE)",
    "CREATE TABLE employees (id BIGINT, name TEXT, dept TEXT, salary DOUBLE PRECISION, "
    "age INTEGER, hired DATE, remote BOOLEAN, city TEXT)",
]


def test_hostile_values_never_fail_on_duckdb(catalog: Catalog) -> None:
    con = duckdb.connect()
    for statement in SCHEMA + _rows_sql(duck=True):
        con.execute(statement)
    for sql in QUERIES:
        con.execute(plan_query(sql, catalog).sql("duckdb")).fetchall()


def test_hostile_values_never_fail_on_postgres(catalog: Catalog) -> None:
    require_postgres()
    with throwaway_database("dpsql_hostile") as (admin_dsn, _):
        with psycopg.connect(admin_dsn, autocommit=True) as con:
            for statement in SCHEMA + _rows_sql(duck=False):
                con.execute(statement)
            for sql in QUERIES:
                try:
                    con.execute(plan_query(sql, catalog).sql("postgres")).fetchall()
                except psycopg.Error as err:  # pragma: no cover - the failure report
                    pytest.fail(f"{sql}: {err}")
