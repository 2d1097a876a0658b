"""Fuzzing the HTTP API with generated and mutated SQL, on both engines.

A small grammar produces queries near the supported subset; mutations of
valid queries delete, duplicate and swap tokens, insert keywords, inject
quotes, comments, unicode and huge numbers. Whatever arrives, the server must
answer 200/400/403 with the documented body, never echo a private value the
query could not legitimately produce, and stay up (`/health` at the end).
Hypothesis runs derandomized, so CI sees the same queries every time.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Proxy
from tests.security.support import check_body

EXAMPLES = 150

AGGS = ["COUNT(*)", "COUNT(salary)", "SUM(salary)", "AVG(age)", "COUNT(DISTINCT id)", "SUM(age)",
        "MAX(salary)", "MIN(name)", "SUM(id)", "COUNT(name)", "AVG(salary)", "salary", "name",
        "*", "SUM(salary) OVER ()", "COUNT(DISTINCT dept)"]
PREDICATES = ["age > 30", "salary BETWEEN 0 AND 1e5", "dept IN ('HR', 'Legal')", "id = 17",
              "name LIKE 'A%'", "hired >= '2020-01-01'", "salary IS NULL", "NOT (age < 20)",
              "name = 'Anna Müller'", "1 / (id - 17) > 0", "CAST(name AS INT) = 1",
              "age = 'x'", "salary > (SELECT MAX(salary) FROM employees)", "TRUE",
              "dept = 'Marketing' OR age > 60"]
TABLES = ["employees", "visits", "departments", "EMPLOYEES", '"employees"', "pg_stats",
          "information_schema.tables", "read_csv('/etc/passwd')", "employees e"]
TAILS = ["", " GROUP BY dept", " GROUP BY id", " GROUP BY name", " HAVING COUNT(*) = 1",
         " ORDER BY 1 LIMIT 1", " LIMIT 1", "; SELECT name FROM employees", " -- x", " /* y */",
         " UNION ALL SELECT name FROM employees"]
KEYWORDS = ["SELECT", "FROM", "WHERE", "GROUP BY", "UNION", "JOIN", "LIMIT", "OVER", "HAVING",
            "PRAGMA", "COPY", "ATTACH", "SET", "DROP", "NULL", "NOT", "AND", "OR", "(", ")", ",",
            ";", "*", "'", '"', "--", "/*", "*/", "\\", "\x00", "é", "😀", "𝐒𝐄𝐋𝐄𝐂𝐓", "\u202e",
            "9" * 40, "1e400", "-9223372036854775809", "NaN", "'Infinity'", "%s", "$1", "?"]
VALID = [
    "SELECT COUNT(*) FROM employees",
    "SELECT dept, COUNT(*), AVG(salary) FROM employees WHERE age > 30 GROUP BY dept",
    "SELECT SUM(salary) FROM employees WHERE name LIKE 'A%'",
    "SELECT city, COUNT(DISTINCT person_id), SUM(amount) FROM visits GROUP BY city",
    "SELECT COUNT(*) FROM employees WHERE id = 17",
    "SELECT AVG(age) FROM employees WHERE dept IN ('HR', 'Legal') AND hired >= '2020-01-01'",
]


@st.composite
def grammar_queries(draw: st.DrawFn) -> str:
    select = ", ".join(draw(st.lists(st.sampled_from(["dept"] + AGGS), min_size=1, max_size=3)))
    sql = f"SELECT {select} FROM {draw(st.sampled_from(TABLES))}"
    preds = draw(st.lists(st.sampled_from(PREDICATES), max_size=2))
    if preds:
        sql += " WHERE " + draw(st.sampled_from([" AND ", " OR "])).join(preds)
    return sql + draw(st.sampled_from(TAILS))


@st.composite
def mutated_queries(draw: st.DrawFn) -> str:
    tokens = draw(st.sampled_from(VALID)).split(" ")
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(tokens) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "quote", "unicode",
                                   "number"]))
        if op == "delete" and len(tokens) > 1:
            tokens.pop(i)
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "insert":
            tokens.insert(i, draw(st.sampled_from(KEYWORDS)))
        elif op == "quote":
            tokens[i] = draw(st.sampled_from(["'", '"', "`", "--", "/*"])) + tokens[i]
        elif op == "unicode":
            tokens[i] += draw(st.text(min_size=1, max_size=3))
        else:
            tokens.insert(i, str(draw(st.one_of(
                st.integers(-10**30, 10**30), st.floats(allow_nan=True, allow_infinity=True)))))
    return " ".join(tokens)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(sql=st.one_of(grammar_queries(), mutated_queries()),
       epsilon=st.sampled_from([0.01, 0.1, 1.0, 1e-6]))
def _fuzz(proxy: Proxy, private: Any, sql: str, epsilon: float) -> None:
    response = proxy.query(sql, epsilon=epsilon)
    assert response.status_code in (200, 400, 403), (sql, response.status_code, response.text)
    check_body(response, sql, private)


def test_fuzzed_sql_never_breaks_the_contract(shared_proxy: Proxy, private_values: Any) -> None:
    _fuzz(shared_proxy, private_values)
    health = shared_proxy.client.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
