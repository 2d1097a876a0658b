"""Statements BI users type or tools send, beyond the replays: EXPLAIN, the
accuracy functions, the budget view, USE and SHOW, and the catalog engine's
refusal of anything but the emulated tables."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from proxy.trino import types

from .clients import JdbcLike
from .conftest import Server


@pytest.fixture
def jdbc(duck_server: Server) -> JdbcLike:
    return JdbcLike(duck_server)


def test_explain_shows_our_plan_for_free(jdbc: JdbcLike, duck_server: Server) -> None:
    before = duck_server.budget()["spent"]["epsilon"]
    plan = jdbc.ok("EXPLAIN SELECT COUNT(*) AS n, dp_ci95(n) AS ci FROM employees")
    assert plan["columns"][0]["name"] == "Query Plan"
    assert '"ci95_halfwidth"' in plan["rows"][0][0] and '"charge"' in plan["rows"][0][0]
    assert duck_server.budget()["spent"]["epsilon"] == before
    analyze = jdbc.run("EXPLAIN ANALYZE SELECT COUNT(*) FROM employees")
    assert analyze["error"]["errorName"] == "NOT_SUPPORTED"


def test_accuracy_functions_bracket_each_value(jdbc: JdbcLike) -> None:
    answer = jdbc.ok("SELECT dept, AVG(salary) AS pay, dp_lower(pay) AS low, dp_upper(pay) AS "
                     "high, dp_ci95(AVG(salary)) AS ci, dp_ci95(dept) AS key_ci FROM employees "
                     "GROUP BY dept")
    assert [c["name"] for c in answer["columns"]] == ["dept", "pay", "low", "high", "ci",
                                                      "key_ci"]
    for _, pay, low, high, ci, key_ci in answer["rows"]:
        assert ci > 0 and math.isclose(high - pay, ci) and math.isclose(pay - low, ci)
        assert key_ci is None  # group keys carry no noise
    first = jdbc.ok("SELECT dp_upper(n) AS high, dp_lower(n) AS low, dp_ci95(n) AS ci, "
                    "COUNT(*) AS n FROM employees")
    ((high, low, ci, n),) = first["rows"]  # placed before the output they describe
    assert ci > 0 and math.isclose(high, n + ci) and math.isclose(low, n - ci)
    refused = jdbc.run("SELECT COUNT(*) AS n, dp_ci95(SUM(age)) AS ci FROM employees")
    assert refused["error"]["message"].startswith("unsupported_query: dp_ci95(SUM(age))")
    nested = jdbc.run("SELECT COUNT(*) AS n FROM employees HAVING dp_ci95(n) > 1")
    assert nested["error"]["errorName"] == "QUERY_REJECTED"


def test_the_budget_view_is_the_json_apis_budget(jdbc: JdbcLike, duck_server: Server) -> None:
    view = jdbc.ok("SELECT * FROM dpsql.budget")
    row = dict(zip([c["name"] for c in view["columns"]], view["rows"][0], strict=True))
    budget = duck_server.budget()
    assert row["analyst"] == "alice" and row["accounting"] == "pure"
    assert row["remaining_epsilon"] == budget["remaining"]["epsilon"]
    assert row["granted_epsilon"] == budget["granted"]["epsilon"]
    assert row["session_epsilon"] == 0.1
    jdbc.ok("SET SESSION dpsql.epsilon = 0.4")
    assert jdbc.properties == {"dpsql.epsilon": "0.4"}
    assert jdbc.ok("SELECT session_epsilon FROM dpsql.dpsql.budget")["rows"] == [[0.4]]
    assert ["session_epsilon", "double", "", ""] in jdbc.ok("DESCRIBE dpsql.budget")["rows"]


def test_use_and_show(jdbc: JdbcLike) -> None:
    assert jdbc.ok("USE dpsql.dpsql")["update"] == "USE" and jdbc.schema == "dpsql"
    assert jdbc.ok("SHOW TABLES")["rows"] == [["budget"]]
    assert jdbc.ok("SELECT remaining_delta FROM budget")["rows"]
    assert jdbc.run("USE hive.default")["error"]["errorName"] == "NOT_FOUND"
    jdbc.ok("USE public")
    assert jdbc.ok("SHOW SCHEMAS LIKE 'p%'")["rows"] == [["public"]]
    assert jdbc.ok("SHOW SCHEMAS FROM other")["rows"] == []
    assert jdbc.ok("SHOW COLUMNS FROM visits")["rows"][0][:2] == ["amount", "double"]
    assert jdbc.ok("SHOW FUNCTIONS LIKE 'dp\\_%' ESCAPE '\\'")["rows"][0][0] == "dp_ci95"
    assert jdbc.run("SHOW GRANTS")["error"]["errorName"] == "NOT_SUPPORTED"
    assert jdbc.run("SELECT 'unterminated")["error"]["errorName"] == "SYNTAX_ERROR"
    assert jdbc.run("")["error"]["message"].startswith("parse_error: the query is empty")
    assert jdbc.run("SET SESSION query_max_run_time = '1h'")["error"]["errorName"] == \
        "INVALID_SESSION_PROPERTY"


@pytest.mark.parametrize("sql", [
    "SELECT * FROM information_schema.tables, read_csv('/etc/passwd')",
    "SELECT (SELECT COUNT(*) FROM read_csv('/etc/passwd')) AS n",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM system.runtime.queries",
    "SELECT * FROM information_schema.tables t JOIN employees e ON t.table_name = e.name",
])
def test_the_catalog_engine_reads_only_the_catalog(jdbc: JdbcLike, sql: str) -> None:
    answer = jdbc.run(sql)
    assert answer["error"] is not None, sql
    assert answer["error"]["errorType"] == "USER_ERROR"
    assert "root:" not in str(answer)


def test_values_are_written_as_trino_writes_them() -> None:
    assert types.encode(dt.date(2024, 1, 31), "date") == "2024-01-31"
    assert types.encode("2024-01-31T12:34:56.789000", "timestamp(3)") == \
        "2024-01-31 12:34:56.789"
    assert types.encode(float("nan"), "double") == "NaN"
    assert types.encode(float("-inf"), "double") == "-Infinity"
    assert types.signature("varchar") == {"rawType": "varchar", "arguments": [
        {"kind": "LONG", "value": 2147483647}]}
    assert types.signature("timestamp(3)") == {"rawType": "timestamp", "arguments": [
        {"kind": "LONG", "value": 3}]}


def test_the_access_log_names_the_charged_query(jdbc: JdbcLike,
                                                caplog: pytest.LogCaptureFixture) -> None:
    import json
    import logging

    jdbc.properties["dpsql.epsilon"] = "0.2"
    with caplog.at_level(logging.INFO, logger="dpsql.access"):
        answer = jdbc.ok("SELECT COUNT(*) AS n FROM visits WHERE amount > 100")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dpsql.access"]
    post = next(x for x in lines if x["method"] == "POST" and x["path"] == "/v1/statement")
    assert post["analyst"] == "alice" and post["query_id"] == answer["id"]
    assert post["charged_epsilon"] == 0.2
    assert set(post) == {"method", "path", "status", "duration_ms", "analyst", "query_id",
                         "charged_epsilon"}  # nothing of the answer or the SQL


def test_session_headers_merge_lines_and_commas_and_read_capabilities() -> None:
    from starlette.datastructures import Headers

    from proxy.trino.session import Session

    headers = Headers(raw=[
        (b"x-trino-user", b"alice"),
        (b"x-trino-session", b"dpsql.epsilon=0.5,other=a%2Cb"),
        (b"x-trino-session", b"dpsql.delta=1e-7"),  # JDBC: one line per property
        (b"x-trino-prepared-statement", b"st1=SELECT+COUNT%28%2A%29+FROM+t"),
        (b"x-trino-client-capabilities", b"NUMBER,PARAMETRIC_DATETIME"),
    ])
    session = Session.from_headers(headers)
    assert session.properties == {"dpsql.epsilon": "0.5", "other": "a,b", "dpsql.delta": "1e-7"}
    assert session.prepared == {"st1": "SELECT COUNT(*) FROM t"}
    assert session.parametric_datetime and session.prefix == "X-Trino-"
    old = Session.from_headers(Headers({"x-presto-user": "alice"}))
    assert old.prefix == "X-Presto-" and not old.parametric_datetime
    assert types.column("t", "timestamp(3)", parametric_datetime=False)["type"] == "timestamp"
    assert types.column("t", "timestamp(3)")["typeSignature"]["arguments"] == [
        {"kind": "LONG", "value": 3}]


def test_the_page_store_is_bounded_private_and_expires() -> None:
    from proxy.trino.pages import PageStore

    store = PageStore(capacity=2, page_rows=2)
    first = store.put("alice", "q1", [], [[1], [2], [3]], [])
    found = store.get("alice", first)
    assert found is not None and found.pages == [[[1], [2]], [[3]]]
    assert store.get("bob", first) is None  # another analyst finds nothing
    second = store.put("alice", "q2", [], [], [])
    store.put("alice", "q3", [], [], [])
    assert store.get("alice", first) is None  # full: the oldest went first
    assert store.get("alice", second) is not None
    expiring = PageStore(ttl=-1.0)  # every result is already past its time
    slug = expiring.put("alice", "q4", [], [], [])
    assert expiring.get("alice", slug) is None


def test_transactions_are_acknowledged(jdbc: JdbcLike) -> None:
    assert jdbc.ok("START TRANSACTION")["update"] == "START TRANSACTION"
    assert jdbc.ok("ROLLBACK")["update"] == "ROLLBACK"
    assert jdbc.ok("COMMIT WORK")["update"] == "COMMIT"


def test_invalid_utf8_is_a_syntax_error(jdbc: JdbcLike, duck_server: Server) -> None:
    from .clients import basic

    queued = jdbc.client.post(f"{duck_server.url}/v1/statement", content=b"SELECT \xff",
                              headers={"Authorization": basic()}).json()
    failed = jdbc.client.get(queued["nextUri"], headers={"Authorization": basic()}).json()
    assert failed["error"]["errorName"] == "SYNTAX_ERROR"
    assert failed["stats"]["state"] == "FAILED" and "nextUri" not in failed
