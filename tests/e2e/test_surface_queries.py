"""The supported SQL surface through the real HTTP app, on DuckDB and
PostgreSQL: post-processing on noisy results (HAVING, ORDER BY, LIMIT/OFFSET,
arithmetic over aggregates, aliases), expressions inside WHERE and inside
aggregates, and the derived aggregates (VAR, STDDEV, quantiles, MIN, MAX).

Each query must run (no engine error, whatever the data) and answer in the
documented shape; where the noise is small next to the answer, the value must
land near the truth."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Proxy, exact_answers

# ≥ 40 varied analyst queries: every aggregate, grouping and post-processing form.
PEERS = [
    "SELECT COUNT(*) FROM employees",
    "SELECT COUNT(age), COUNT(DISTINCT id) FROM employees",
    "SELECT SUM(salary), AVG(salary) FROM employees",
    "SELECT dept, COUNT(*) AS n FROM employees GROUP BY dept HAVING n > 10",
    "SELECT dept, COUNT(*) AS n FROM employees GROUP BY dept HAVING COUNT(*) > 10 ORDER BY n DESC",
    "SELECT dept, AVG(age) FROM employees GROUP BY dept ORDER BY 2 DESC LIMIT 2",
    "SELECT dept, COUNT(*) FROM employees GROUP BY dept ORDER BY dept LIMIT 2 OFFSET 1",
    "SELECT dept, SUM(salary) / COUNT(*) AS mean FROM employees GROUP BY dept",
    "SELECT COUNT(*) * 2 AS twice FROM employees",
    "SELECT SUM(salary) / NULLIF(COUNT(*), 0) AS mean, COUNT(*) - 1 AS less FROM employees",
    "SELECT dept, ROUND(AVG(salary)) AS r FROM employees GROUP BY dept ORDER BY r",
    "SELECT dept, CASE WHEN COUNT(*) > 100 THEN 'big' ELSE 'small' END AS size "
    "FROM employees GROUP BY dept",
    "SELECT dept, COALESCE(SUM(salary), 0) FROM employees GROUP BY dept HAVING SUM(salary) > 0",
    "SELECT city, SUM(amount) FROM visits GROUP BY city ORDER BY SUM(amount) DESC LIMIT 1",
    "SELECT COUNT(*) FROM employees WHERE age * 2 > 60",
    "SELECT COUNT(*) FROM employees WHERE salary / age > 1000",
    "SELECT COUNT(*) FROM employees WHERE salary / (age - age) > 1",
    "SELECT COUNT(*) FROM employees WHERE EXTRACT(YEAR FROM hired) >= 2010",
    "SELECT COUNT(*) FROM employees WHERE YEAR(hired) BETWEEN 2005 AND 2015",
    "SELECT COUNT(*) FROM employees WHERE CASE WHEN age > 40 THEN 'old' ELSE 'young' END = 'old'",
    "SELECT COUNT(*) FROM employees WHERE COALESCE(age, 0) > 30 AND dept IN ('HR', 'Sales')",
    "SELECT COUNT(*) FROM employees WHERE name LIKE 'A%' OR age IS NULL",
    "SELECT COUNT(*) FROM employees WHERE CAST(age AS DOUBLE) > 30.5",
    "SELECT COUNT(*) FROM employees WHERE CAST(age AS VARCHAR) = '42'",
    "SELECT SUM(salary * 2) FROM employees",
    "SELECT SUM(salary / 12) AS monthly FROM employees",
    "SELECT AVG(salary / age) FROM employees",
    "SELECT SUM(CASE WHEN age > 50 THEN 1 ELSE 0 END) AS seniors FROM employees",
    "SELECT AVG(CASE WHEN dept = 'HR' THEN salary ELSE 0 END) FROM employees",
    "SELECT SUM(LEAST(salary, 100000)), SUM(ABS(age - 50)) FROM employees",
    "SELECT SUM(EXTRACT(MONTH FROM hired)) FROM employees",
    "SELECT COUNT(CASE WHEN age > 30 THEN 1 END) FROM employees",
    "SELECT VARIANCE(age), STDDEV(age) FROM employees",
    "SELECT dept, VAR_POP(salary), STDDEV_POP(salary) FROM employees GROUP BY dept",
    "SELECT MEDIAN(age) FROM employees",
    "SELECT dept, MIN(age), MAX(age) FROM employees GROUP BY dept",
    "SELECT QUANTILE_CONT(salary, 0.9) AS p90 FROM employees",
    "SELECT PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY amount) FROM visits",
    "SELECT city, MEDIAN(amount), AVG(amount), COUNT(DISTINCT person_id) FROM visits "
    "GROUP BY city ORDER BY city DESC",
    "SELECT city, SUM(amount * amount * amount) FROM visits GROUP BY city",
    "SELECT COUNT(*), SUM(amount), STDDEV(amount) FROM visits WHERE amount / 0 IS NULL",
    "SELECT city, MAX(amount) - MIN(amount) AS spread FROM visits GROUP BY city",
    "SELECT city, COUNT(*) AS n, SUM(amount) AS s FROM visits GROUP BY city HAVING n > 0 AND s > 0 "
    "ORDER BY s / n DESC LIMIT 2",
]


def test_the_peer_set_is_varied() -> None:
    assert len(PEERS) >= 40


@pytest.mark.parametrize("sql", PEERS)
def test_peer_query_runs(rich: Proxy, sql: str) -> None:
    proxy = rich
    response = proxy.query(sql, epsilon=1.0)
    assert response.status_code == 200, (sql, response.text)
    body = response.json()
    assert all(len(row) == len(body["columns"]) for row in body["rows"])
    explained = proxy.explain(sql, epsilon=1.0)
    assert explained.status_code == 200, explained.text


def test_having_order_limit_run_on_noisy_values(rich: Proxy, truth: Any) -> None:
    sql = ("SELECT dept, COUNT(*) AS n FROM employees GROUP BY dept "
           "HAVING n >= 0 ORDER BY n DESC, dept LIMIT 3")
    body = rich.query(sql, epsilon=5.0).json()
    counts = [row[1] for row in body["rows"]]
    assert len(body["rows"]) == 3
    assert counts == sorted(counts, reverse=True)
    assert {row[0] for row in body["rows"]} <= set(truth["departments"])
    assert [a["column"] for a in body["accuracy"]] == ["n"]


def test_arithmetic_over_aggregates_is_near_theexact_answers(rich: Proxy, demo_db: Any) -> None:
    body = rich.query("SELECT SUM(salary) / COUNT(*) AS mean, COUNT(*) * 2 AS twice "
                       "FROM employees", epsilon=5.0).json()
    (mean, twice), = body["rows"]
    true_mean, true_n = exact_answers(demo_db, "SELECT AVG(salary), COUNT(*) FROM employees")[0]
    assert abs(mean - true_mean) / true_mean < 0.1
    assert abs(twice - 2 * true_n) < 0.1 * true_n
    assert [c["type"] for c in body["columns"]] == ["float", "float"]


def test_expression_inside_an_aggregate_is_near_theexact_answers(rich: Proxy, demo_db: Any) -> None:
    body = rich.query("SELECT SUM(CASE WHEN age > 50 THEN 1 ELSE 0 END) AS seniors, "
                       "AVG(salary / 12) AS monthly FROM employees", epsilon=5.0).json()
    (seniors, monthly), = body["rows"]
    true_seniors, true_monthly = exact_answers(
        demo_db, "SELECT COUNT(*) FILTER (WHERE age > 50), AVG(salary / 12) FROM employees")[0]
    assert abs(seniors - true_seniors) < 0.1 * max(true_seniors, 50)
    assert abs(monthly - true_monthly) / true_monthly < 0.1


def test_quantiles_and_variance_are_near_theexact_answers(rich: Proxy, demo_db: Any) -> None:
    body = rich.query("SELECT MEDIAN(age) AS m, STDDEV(age) AS s, MIN(age) AS lo, "
                       "MAX(age) AS hi FROM employees", epsilon=5.0).json()
    (median, std, lo, hi), = body["rows"]
    true_median, true_std = exact_answers(
        demo_db, "SELECT MEDIAN(age), STDDEV(age) FROM employees")[0]
    width = (100 - 16) / 64
    assert abs(median - true_median) <= 3 * width + 2
    assert abs(std - true_std) < 0.2 * true_std
    assert 16 <= lo <= hi <= 100
    acc = {a["column"]: a for a in body["accuracy"]}
    assert acc["m"]["approximate"] and acc["s"]["approximate"]


def test_explain_shows_the_budget_split(proxy: Proxy) -> None:
    body = proxy.explain("SELECT COUNT(*) AS n, SUM(salary) AS s, COUNT(DISTINCT id) AS u, "
                         "SUM(salary) / COUNT(*) AS mean FROM employees", epsilon=1.0).json()
    outputs = {o["column"]: o for o in body["outputs"]}
    assert outputs["mean"]["kind"] == "expression"
    shares = [outputs[c]["budget_share"] for c in ("n", "s", "u", "mean")]
    assert all(isinstance(x, float) and 0 < x <= 1 for x in shares)
    assert shares[3] > shares[0]  # the mean is the sum's noise and the count's
