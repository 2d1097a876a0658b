"""Adversarial queries through the HTTP app, on DuckDB and PostgreSQL.

Each case either is refused with its expected code, before any data is read
(SPEC §4.6), or is answered with noise (SPEC §4.3): a single-person lookup is a
legitimate COUNT and must come back noised, never exact. Every response, refused
or not, passes `check_body`: a documented status and error shape, no stack
trace or driver text, no private value the query text did not itself contain.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import Proxy
from tests.security.support import check_body

U, P = "unsupported_query", "parse_error"
REFUSED = (U, P)  # sqlglot decides whether some statements parse at all
NOISED = "noised"

# (id, sql, expected): expected is a code, a tuple of acceptable codes, or NOISED.
CASES: list[tuple[str, str, Any]] = [
    # raw rows and single-person lookups
    ("star", "SELECT * FROM employees", U),
    ("raw-columns", "SELECT name, salary FROM employees WHERE id = 17", U),
    ("raw-limit", "SELECT name FROM employees LIMIT 1", U),
    ("raw-visits", "SELECT person_id, amount FROM visits", U),
    ("table-star", "SELECT employees.* FROM employees", U),
    ("lookup-count", "SELECT COUNT(*) FROM employees WHERE id = 17", NOISED),
    ("lookup-sum", "SELECT SUM(salary) FROM employees WHERE id = 17", NOISED),
    ("lookup-avg-by-name", "SELECT AVG(salary) FROM employees WHERE name = 'Anna Müller'",
     NOISED),
    ("lookup-like", "SELECT COUNT(*) FROM employees WHERE name LIKE 'Anna%' AND salary > 1e5",
     NOISED),
    ("lookup-visits", "SELECT COUNT(*), SUM(amount) FROM visits WHERE person_id = 17", NOISED),
    # GROUP BY identifying columns
    ("group-unit", "SELECT id, COUNT(*) FROM employees GROUP BY id", U),
    ("group-name", "SELECT name, COUNT(*) FROM employees GROUP BY name", U),
    # δ > 0: partition selection hides groups of few people (under zCDP too, its δ
    # charged additively); with the default δ it may also be refused for the budget
    ("group-salary", "SELECT salary, COUNT(*) FROM employees GROUP BY salary", (200, U)),
    ("group-hired", "SELECT hired, COUNT(*) FROM employees GROUP BY hired", (200, U)),
    ("group-visits-unit", "SELECT person_id, COUNT(*) FROM visits GROUP BY person_id", U),
    ("group-dept-and-unit", "SELECT dept, id, COUNT(*) FROM employees GROUP BY dept, id", U),
    ("group-expression", "SELECT COUNT(*) FROM employees GROUP BY id % 2", U),
    ("group-ordinal", "SELECT id, COUNT(*) FROM employees GROUP BY 1", U),
    ("group-cube", "SELECT dept, COUNT(*) FROM employees GROUP BY CUBE (dept)", REFUSED),
    # MIN / MAX
    # DP quantiles over the declared bounds
    ("max", "SELECT MAX(salary) FROM employees", NOISED),
    ("min-where", "SELECT MIN(age) FROM employees WHERE dept = 'HR'", NOISED),
    ("max-name", "SELECT MAX(name) FROM employees", U),
    ("max-grouped", "SELECT dept, MAX(salary) FROM employees GROUP BY dept", NOISED),
    ("arg-max", "SELECT arg_max(name, salary) FROM employees", U),
    ("string-agg", "SELECT string_agg(name, ',') FROM employees", U),
    ("list-agg", "SELECT list(name) FROM employees", U),
    # unbounded SUM, overflow, NaN and infinity inside aggregates
    ("sum-unit", "SELECT SUM(id) FROM employees", U),
    ("sum-visits-unit", "SELECT SUM(person_id) FROM visits", U),
    ("sum-scaled", "SELECT SUM(salary * 1000000) FROM employees", NOISED),  # bounds derived
    ("sum-overflow", "SELECT SUM(salary + 1e308) FROM employees", U),
    ("sum-nan", "SELECT SUM(CAST('NaN' AS DOUBLE)) FROM employees", U),
    ("avg-infinity", "SELECT AVG(CAST('Infinity' AS DOUBLE)) FROM employees", U),
    ("sum-bigint", "SELECT SUM(9223372036854775807) FROM employees", U),
    ("where-infinity-literal", "SELECT COUNT(*) FROM employees WHERE salary < 1e309", U),
    ("where-nan-string", "SELECT COUNT(*) FROM employees WHERE salary > 'NaN'", U),
    ("where-huge-literal",
     "SELECT COUNT(*) FROM employees WHERE age < 99999999999999999999999999", (NOISED, U)),
    ("sum-case", "SELECT SUM(CASE WHEN id = 17 THEN 1e300 ELSE 0 END) FROM employees", U),
    # run-time error oracles
    # division by zero is NULL and an unbounded id is clamped in WHERE (#26): nothing raises
    ("div-zero", "SELECT COUNT(*) FROM employees WHERE 1 / (id - 17) > 0", NOISED),
    ("div-zero-sum", "SELECT SUM(1 / (id - 17)) FROM employees", U),
    ("div-zero-case",
     "SELECT COUNT(*) FROM employees WHERE CASE WHEN id = 17 THEN 1 / 0 ELSE 1 END = 1",
     NOISED),  # division is NULLIF-guarded: no error, so no oracle
    ("failing-cast", "SELECT COUNT(*) FROM employees WHERE CAST(name AS INTEGER) = 1", U),
    ("implicit-cast-of-a-constant", "SELECT COUNT(*) FROM employees WHERE name > 5", NOISED),
    ("constant-not-a-number", "SELECT COUNT(*) FROM employees WHERE age > 'x1'", U),
    ("text-vs-int", "SELECT COUNT(*) FROM employees WHERE age = 'abc'", U),
    ("bad-date", "SELECT COUNT(*) FROM employees WHERE hired = '2020-02-30'", U),
    ("regex-error", "SELECT COUNT(*) FROM employees WHERE regexp_matches(name, '[')", U),
    ("pg-regex-operator", "SELECT COUNT(*) FROM employees WHERE name ~ '('", REFUSED),
    ("overflow-arith", "SELECT COUNT(*) FROM employees WHERE age * 2147483647 > 0",
     NOISED),  # computed in clamped DOUBLE: cannot overflow
    ("sqrt-negative", "SELECT COUNT(*) FROM employees WHERE sqrt(age - 50) > 1", U),
    # joins, set operations, generated rows, subqueries
    # a join on the unit is bounded after the join: one person still adds at most R rows
    ("self-join", "SELECT COUNT(*) FROM employees a JOIN employees b ON a.id = b.id", NOISED),
    ("comma-self-join", "SELECT COUNT(*) FROM employees a, employees b", U),
    ("join-public", "SELECT COUNT(*) FROM employees e JOIN departments d ON e.dept = d.dept",
     NOISED),
    ("union-all-subquery",
     "SELECT COUNT(*) FROM (SELECT * FROM employees UNION ALL SELECT * FROM employees) t", U),
    ("union-all-top",
     "SELECT COUNT(*) FROM employees UNION ALL SELECT COUNT(*) FROM employees", U),
    ("cross-generate-series",
     "SELECT COUNT(*) FROM employees CROSS JOIN generate_series(1, 1000)", U),
    ("cross-range", "SELECT COUNT(*) FROM employees, range(1000)", U),
    ("lateral", "SELECT COUNT(*) FROM employees, LATERAL (SELECT 1) x", U),
    ("scalar-subquery-select", "SELECT (SELECT salary FROM employees WHERE id = 17)", U),
    ("scalar-subquery-where",
     "SELECT COUNT(*) FROM employees WHERE salary > (SELECT AVG(salary) FROM employees)", U),
    ("exists", "SELECT COUNT(*) FROM employees WHERE EXISTS "
               "(SELECT 1 FROM employees e2 WHERE e2.id = 17 AND e2.salary > 100000)", U),
    ("in-subquery", "SELECT COUNT(*) FROM employees WHERE id IN (SELECT id FROM employees)", U),
    # CTEs and subqueries in FROM: row-level ones are inlined and bounded after; the
    # rest aggregate, pick or merge rows before bounding, or hide the unit
    ("cte", "WITH t AS (SELECT * FROM employees) SELECT COUNT(*) FROM t", NOISED),
    ("cte-lookup", "WITH t AS (SELECT id, salary FROM employees WHERE id = 17) "
                   "SELECT SUM(salary) FROM t", NOISED),
    ("cte-self-join-on-unit", "WITH a AS (SELECT id, salary FROM employees) "
                              "SELECT COUNT(*) FROM a x JOIN a y ON x.id = y.id", NOISED),
    ("cte-group-by-unit", "WITH t AS (SELECT id, SUM(salary) AS s FROM employees GROUP BY id) "
                          "SELECT SUM(s) FROM t", U),
    ("cte-count-per-person", "WITH t AS (SELECT person_id, COUNT(*) AS n FROM visits "
                             "GROUP BY person_id) SELECT n, COUNT(*) FROM t GROUP BY n", U),
    ("cte-distinct", "WITH t AS (SELECT DISTINCT dept, salary FROM employees) "
                     "SELECT SUM(salary) FROM t", U),
    ("cte-limit", "WITH t AS (SELECT id, salary FROM employees LIMIT 1) "
                  "SELECT SUM(salary) FROM t", U),
    ("subquery-drops-unit", "SELECT SUM(s) FROM (SELECT salary AS s FROM employees) t", U),
    ("cte-union-all", "WITH t AS (SELECT id, salary FROM employees UNION ALL "
                      "SELECT id, salary FROM employees) SELECT SUM(salary) FROM t", U),
    ("cte-self-join-non-unit", "WITH a AS (SELECT id, age FROM employees), b AS (SELECT id, age "
                               "FROM employees) SELECT COUNT(*) FROM a JOIN b ON a.age = b.age",
     U),
    ("cte-read-csv", "WITH t AS (SELECT * FROM read_csv('/etc/passwd')) SELECT COUNT(*) FROM t",
     U),
    ("subquery-read-parquet", "SELECT COUNT(*) FROM (SELECT * FROM "
                              "read_parquet('https://example.com/x.parquet')) t", U),
    ("cte-window", "WITH t AS (SELECT id, ROW_NUMBER() OVER (ORDER BY salary DESC) AS r "
                   "FROM employees) SELECT COUNT(*) FROM t WHERE r = 1", U),
    ("cte-recursive", "WITH RECURSIVE t AS (SELECT id FROM employees UNION ALL "
                      "SELECT id + 1 FROM t) SELECT COUNT(*) FROM t", REFUSED),
    ("cte-shadows-table", "WITH employees AS (SELECT * FROM visits) "
                          "SELECT COUNT(*) FROM employees", U),
    ("cte-catalog", "WITH t AS (SELECT * FROM information_schema.tables) "
                    "SELECT COUNT(*) FROM t", U),
    ("cte-pg-catalog", "SELECT COUNT(*) FROM (SELECT * FROM pg_catalog.pg_user) t", U),
    ("cte-scalar-subquery", "WITH t AS (SELECT id, (SELECT MAX(salary) FROM employees) AS m "
                            "FROM employees) SELECT COUNT(*) FROM t", U),
    ("cte-sleep", "WITH t AS (SELECT id, pg_sleep(1) AS z FROM employees) "
                  "SELECT COUNT(*) FROM t", U),
    ("cte-group-unit-outer", "WITH t AS (SELECT id AS k, dept FROM employees) "
                             "SELECT k, COUNT(*) FROM t GROUP BY k", U),
    ("cte-unbounded-sum", "WITH t AS (SELECT id, id * 2 AS x FROM employees) "
                          "SELECT SUM(x) FROM t", U),
    ("values", "SELECT COUNT(*) FROM (VALUES (1), (2)) v(x)", U),
    # ORDER BY … LIMIT 1 before aggregation
    ("order-limit-subquery",
     "SELECT SUM(salary) FROM (SELECT salary FROM employees ORDER BY salary DESC LIMIT 1) t", U),
    # ORDER BY / LIMIT / OFFSET / HAVING on the noisy result: post-processing
    ("order-limit", "SELECT COUNT(*) FROM employees ORDER BY 1 LIMIT 1", NOISED),
    ("limit-only", "SELECT SUM(salary) FROM employees LIMIT 1", NOISED),
    ("offset", "SELECT COUNT(*) FROM employees OFFSET 1", 200),
    ("tablesample", "SELECT COUNT(*) FROM employees TABLESAMPLE (1 ROWS)", REFUSED),
    # window functions
    ("window-sum", "SELECT SUM(salary) OVER () FROM employees", U),
    ("row-number", "SELECT ROW_NUMBER() OVER (ORDER BY salary) FROM employees", U),
    ("qualify", "SELECT COUNT(*) FROM employees QUALIFY ROW_NUMBER() OVER () = 1", REFUSED),
    ("window-in-where",
     "SELECT COUNT(*) FROM employees WHERE ROW_NUMBER() OVER (ORDER BY salary) = 1", U),
    # HAVING isolation
    ("having-one", "SELECT dept, COUNT(*) FROM employees GROUP BY dept HAVING COUNT(*) = 1",
     200),
    ("having-sum", "SELECT COUNT(*) FROM employees HAVING SUM(salary) > 1e6", 200),
    # file and network readers
    ("read-csv", "SELECT COUNT(*) FROM read_csv('/etc/passwd')", U),
    ("read-parquet-url", "SELECT COUNT(*) FROM read_parquet('https://example.com/x.parquet')", U),
    ("from-path", "SELECT COUNT(*) FROM '/etc/passwd'", REFUSED),
    ("read-text", "SELECT COUNT(*) FROM read_text('/etc/passwd')", U),
    ("pg-read-file", "SELECT pg_read_file('/etc/passwd')", U),
    ("pg-read-file-where",
     "SELECT COUNT(*) FROM employees WHERE name = pg_read_file('/etc/hostname')", U),
    ("dblink", "SELECT COUNT(*) FROM dblink('host=x', 'SELECT 1') AS t(x int)", REFUSED),
    ("lo-import", "SELECT lo_import('/etc/passwd')", U),
    # COPY, ATTACH, INSTALL, LOAD
    ("copy-to", "COPY employees TO '/tmp/dpsql-leak.csv'", REFUSED),
    ("copy-query", "COPY (SELECT name FROM employees) TO STDOUT", REFUSED),
    ("copy-program", "COPY employees TO PROGRAM 'cat > /tmp/x'", REFUSED),
    ("attach", "ATTACH 'other.db' AS other", REFUSED),
    ("attach-database", "ATTACH DATABASE ':memory:' AS m", REFUSED),
    ("detach", "DETACH other", REFUSED),
    ("install", "INSTALL httpfs", REFUSED),
    ("load", "LOAD httpfs", REFUSED),
    ("create-extension", "CREATE EXTENSION dblink", REFUSED),
    # SET, PRAGMA, RESET and DDL/DML
    ("set", "SET threads = 1", REFUSED),
    ("set-search-path", "SET search_path = information_schema", REFUSED),
    ("set-timeout", "SET statement_timeout = 0", REFUSED),
    ("reset", "RESET ALL", REFUSED),
    ("pragma", "PRAGMA database_list", REFUSED),
    ("set-config", "SELECT set_config('statement_timeout', '0', false)", U),
    ("set-seed", "SELECT setseed(0.5)", U),
    ("drop", "DROP TABLE employees", REFUSED),
    ("insert", "INSERT INTO employees (id) VALUES (424242)", REFUSED),
    ("update", "UPDATE employees SET salary = 0", REFUSED),
    ("create-as", "CREATE TABLE leak AS SELECT * FROM employees", REFUSED),
    ("select-into", "SELECT name INTO leak FROM employees", REFUSED),
    ("call", "CALL pg_sleep(1)", REFUSED),
    ("explain-analyze", "EXPLAIN ANALYZE SELECT COUNT(*) FROM employees", REFUSED),
    ("begin", "BEGIN", REFUSED),
    # multiple statements and comment tricks
    ("two-statements", "SELECT COUNT(*) FROM employees; DROP TABLE employees", U),
    ("comment-newline-statement",
     "SELECT COUNT(*) FROM employees -- hidden\n; SELECT name FROM employees", U),
    ("statement-after-block-comment",
     "SELECT COUNT(*) FROM employees /* x */; SELECT * FROM employees", U),
    ("block-comment-only", "SELECT COUNT(*) FROM employees /* ; SELECT * FROM employees */",
     NOISED),
    ("mysql-executable-comment", "SELECT COUNT(*) /*!, name */ FROM employees", (NOISED, P, U)),
    ("tautology-injection",
     "SELECT COUNT(*) FROM employees WHERE name = 'x' OR 1 = 1 --'", NOISED),
    ("quote-break", "SELECT COUNT(*) FROM employees WHERE name = 'x'' OR ''1''=''1'", NOISED),
    ("nested-comment", "SELECT COUNT(*) FROM employees /* /* */ WHERE 1 = 1 */", (NOISED, P, U)),
    ("semicolon-in-string", "SELECT COUNT(*) FROM employees WHERE name = ';DROP TABLE x'",
     NOISED),
    # catalogs and information_schema
    ("information-schema", "SELECT COUNT(*) FROM information_schema.tables", U),
    ("information-schema-columns",
     "SELECT table_name, COUNT(*) FROM information_schema.columns GROUP BY table_name", U),
    ("pg-catalog", "SELECT COUNT(*) FROM pg_catalog.pg_tables", U),
    ("pg-stats", "SELECT most_common_vals FROM pg_stats", U),
    ("pg-stats-count", "SELECT COUNT(*) FROM pg_stats", U),
    ("duckdb-tables", "SELECT COUNT(*) FROM duckdb_tables()", U),
    ("duckdb-settings", "SELECT COUNT(*) FROM duckdb_settings()", U),
    ("sqlite-master", "SELECT COUNT(*) FROM sqlite_master", U),
    ("schema-prefix", "SELECT COUNT(*) FROM public.employees", NOISED),
    ("other-schema", "SELECT COUNT(*) FROM pg_catalog.employees", U),
    ("catalog-prefix", "SELECT COUNT(*) FROM memory.main.employees", U),
    ("current-setting", "SELECT COUNT(*) FROM employees WHERE name = current_setting('x')", U),
    ("version", "SELECT version()", U),
    ("current-user", "SELECT COUNT(*) FROM employees WHERE name = current_user", U),
    # sleep and timing
    ("pg-sleep", "SELECT pg_sleep(5)", U),
    ("pg-sleep-where", "SELECT COUNT(*) FROM employees WHERE id = 17 AND pg_sleep(5) IS NULL", U),
    ("sleep-case",
     "SELECT COUNT(*) FROM employees WHERE CASE WHEN salary > 1e5 THEN pg_sleep(1) END IS NULL",
     U),
    ("random", "SELECT COUNT(*) FROM employees WHERE random() < 0.5", U),
    ("heavy-cross", "SELECT COUNT(*) FROM employees a, employees b, employees c", U),
    # quoted and case-tricked identifiers
    ("quoted-table", 'SELECT COUNT(*) FROM "employees"', NOISED),
    ("mixed-case-table", "SELECT CoUnT(*) FROM EmPlOyEeS WHERE AgE > 30", NOISED),
    ("quoted-unit-upper", 'SELECT "ID", COUNT(*) FROM employees GROUP BY "ID"', U),
    ("quoted-unit-alias", 'SELECT e."id", COUNT(*) FROM employees e GROUP BY e."id"', U),
    ("homoglyph-table", "SELECT COUNT(*) FROM employееs", U),  # Cyrillic е
    ("public-alias", "SELECT COUNT(*) FROM employees AS departments", NOISED),
    ("internal-alias", 'SELECT COUNT(*) AS "__m0", SUM(age) AS "__g0" FROM employees', NOISED),
    ("quoted-name-group", 'SELECT "name", COUNT(*) FROM employees GROUP BY "name"', U),
    ("bracket-identifier", "SELECT COUNT(*) FROM [employees]", (NOISED, P, U)),
    ("backtick-identifier", "SELECT COUNT(*) FROM `employees`", (NOISED, P, U)),
    ("undeclared-table", "SELECT COUNT(*) FROM secret_table", U),
    ("public-table-raw", "SELECT * FROM departments", (200, U)),
    # functions not on the allowlist
    ("md5", "SELECT COUNT(*) FROM employees WHERE md5(name) = 'abc'", U),
    ("length", "SELECT SUM(length(name)) FROM employees", U),
    ("coalesce-agg", "SELECT SUM(COALESCE(salary, 1e300)) FROM employees", U),
    # over the kept rows a person adds at most R distinct names: bounded like COUNT(name)
    ("count-distinct-name", "SELECT COUNT(DISTINCT name) FROM employees", NOISED),
    ("approx-count", "SELECT approx_count_distinct(name) FROM employees", U),
    ("distinct", "SELECT DISTINCT dept FROM employees", 200),  # the public keys
    ("distinct-not-groupable", "SELECT DISTINCT name FROM employees", U),
]


@pytest.mark.parametrize(("sql", "expected"), [(s, e) for _, s, e in CASES],
                         ids=[i for i, _, _ in CASES])
def test_adversarial_query(shared_proxy: Proxy, private_values: Any, sql: str,
                           expected: Any) -> None:
    response = shared_proxy.query(sql, epsilon=0.05)
    body = check_body(response, sql, private_values)
    accepted = expected if isinstance(expected, tuple) else (expected,)
    if response.status_code == 200:
        assert NOISED in accepted or 200 in accepted, (sql, body)
        if NOISED in accepted:
            assert_noised(shared_proxy, sql, body, private_values)
    else:
        assert body["error"]["code"] in accepted, (sql, body)
        assert response.status_code == 400, (sql, body)


def _aliased(sql: str, tag: int) -> str:
    """The same question with the first output renamed: a different cache key,
    the same ε and the same meaning."""
    if sql.startswith("WITH "):  # rename in the outer SELECT, after the CTEs
        cut = sql.rindex(") SELECT ") + 2
        return sql[:cut] + _aliased(sql[cut:], tag)
    head, sep, rest = sql.partition(" FROM ")
    if re.search(r" AS \S+$", head.split(",")[0]):
        head = re.sub(r" AS [^\s,]+", f" AS v{tag}", head, count=1)
    else:
        head = head.replace(")", f") AS v{tag}", 1)
    return f"{head}{sep}{rest}"


def assert_noised(proxy: Proxy, sql: str, first: dict[str, Any], private: Any,
                  tries: int = 16) -> None:
    """Every aggregate reports noise of positive scale, and re-asking the same
    question under other names gives other answers (stops at the first change;
    a count whose truth is near 0 is clamped to 0 about half the time)."""
    assert first["accuracy"], first
    for acc in first["accuracy"]:
        if acc["interval"] == "rank":  # quantiles: a selection, with a rank interval
            assert acc["scale"] > 0 and acc["rank_halfwidth"] > 0, first
        elif acc["interval"] == "value":
            assert acc["ci95_halfwidth"] > 0, first
            assert acc["scale"] is None or acc["scale"] > 0, first
        else:  # the analyst's arithmetic without an interval says why
            assert acc["reason"], first
    if re.search(r"\b(MIN|MAX|MEDIAN|QUANTILE\w*|PERCENTILE\w*)\(", sql, re.IGNORECASE):
        # a DP quantile is a bin edge selected by the exponential mechanism: it may
        # legitimately repeat many times (17 equal MAX answers were seen once)
        tries = max(tries, 64)
    seen = [first["rows"]]
    for tag in range(tries):
        response = proxy.query(_aliased(sql, tag), epsilon=0.05)
        body = check_body(response, sql, private)
        assert response.status_code == 200, body
        if body["rows"] != seen[0]:
            return
        seen.append(body["rows"])
    pytest.fail(f"{tries + 1} answers to {sql!r} were identical: {seen[0]} (no noise?)")
