"""VAR and STDDEV sum x − c and (x − c)² around the bounds' midpoint (issue #26):
the same answer as from x and x², at a quarter of the squares' sensitivity."""

from __future__ import annotations

import statistics
from fractions import Fraction

import duckdb

from accountant import Accounting
from proxy.calibrate import price
from proxy.engines.base import Result
from proxy.release import release
from rewriter import Catalog, plan_query


def test_the_squares_are_centered(catalog: Catalog) -> None:
    plan = plan_query("SELECT VARIANCE(age), STDDEV(age) FROM employees", catalog)  # [16, 100]
    sums = [m for m in plan.measures if m.kind == "sum"]
    assert len(sums) == 2  # the centered sum and squares, shared by both outputs
    centered, squares = sums
    assert (centered.lower, centered.upper) == (-42, 42)
    assert (squares.lower, squares.upper) == (0, 42 * 42)  # not 100² = 10,000
    assert all(o.center == 58 for o in plan.outputs)


def test_centered_sums_give_the_exact_variance_without_noise(catalog: Catalog) -> None:
    ages = [16, 17, 30, 45, 45, 61, 99, 100, 100, 23]
    con = duckdb.connect()
    con.execute("CREATE TABLE employees (id INTEGER, name VARCHAR, dept VARCHAR, "
                "salary DOUBLE, age INTEGER, hired DATE, remote BOOLEAN, city VARCHAR)")
    con.executemany("INSERT INTO employees VALUES (?, 'x', 'HR', 1.0, ?, NULL, NULL, NULL)",
                    list(enumerate(ages)))
    plan = plan_query("SELECT VARIANCE(age), STDDEV_POP(age) FROM employees", catalog)
    priced = price(plan, Accounting.PURE, Fraction(10**12), Fraction(0))
    cursor = con.execute(plan.sql("duckdb"))
    result = Result(tuple(d[0] for d in cursor.description), cursor.fetchall())
    (var, sd), = release(plan, result, priced.calibrated).rows
    assert abs(var - statistics.variance(ages)) < 1e-3
    assert abs(sd - statistics.pstdev(ages)) < 1e-3
