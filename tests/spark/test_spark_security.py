"""Analysts reach no files, UDFs, catalogs or settings on Spark: the rewriter refuses
Spark's ways out before any charge, the engine's statement check refuses them again,
and the session itself reads no file by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proxy.config import SparkSource
from proxy.engines import EngineError
from proxy.engines.spark import SparkEngine, check_statement
from tests.e2e.conftest import Proxy
from tests.sparkutil import MASTER, TEST_CONF, export_parquet

ESCAPES = [
    "SELECT COUNT(*) FROM parquet.`/etc/passwd`",
    "SELECT COUNT(*) FROM csv.`/etc/passwd`",
    "SELECT COUNT(*) FROM json.`/etc/passwd`",
    "SELECT COUNT(*) FROM delta.`/tmp/table`",
    "SELECT COUNT(*) FROM read_parquet('/etc/passwd')",
    "SELECT COUNT(*) FROM read_files('/etc/passwd')",
    "SELECT reflect('java.lang.System', 'getenv', 'HOME')",
    "SELECT COUNT(*) FROM employees WHERE java_method('java.lang.Math', 'random') > 0",
    "SELECT COUNT(*) FROM employees WHERE reflect('java.lang.Thread', 'sleep', 1000) IS NULL",
    "SELECT COUNT(*) FROM employees WHERE input_file_name() LIKE '%employees%'",
    "SELECT COUNT(*) FROM employees WHERE current_user() = 'root'",
    "SET spark.sql.runSQLOnFiles=true",
    "SET spark.sql.ansi.enabled = true",
    "RESET",
    "ADD JAR /tmp/evil.jar",
    "ADD FILE /etc/passwd",
    "LIST FILES",
    "CREATE FUNCTION f AS 'org.evil.F'",
    "CREATE TEMPORARY VIEW v AS SELECT * FROM employees",
    "CACHE TABLE employees",
    "REFRESH TABLE employees",
    "SHOW TABLES",
    "SHOW DATABASES",
    "DESCRIBE employees",
    "USE other",
    "SELECT COUNT(*) FROM spark_catalog.default.employees",
    "SELECT COUNT(*) FROM default.employees",
    "SELECT COUNT(*) FROM global_temp.employees",
    "SELECT COUNT(*) FROM range(10)",
    "SELECT COUNT(*) FROM employees TABLESAMPLE (10 PERCENT)",
    "SELECT COUNT(*) FROM employees WHERE spark_partition_id() = 0",
]


@pytest.mark.parametrize("sql", ESCAPES)
def test_the_statement_check_refuses_every_escape(sql: str) -> None:
    with pytest.raises(EngineError):
        check_statement(sql, frozenset({"employees"}))


def test_the_statement_check_passes_a_plain_query() -> None:
    check_statement("WITH c AS (SELECT * FROM employees) SELECT COUNT(*) FROM c",
                    frozenset({"employees"}))


def test_every_escape_is_refused_before_any_charge(proxy: Proxy) -> None:
    before = proxy.client.get("/v1/budget", headers=proxy.headers()).json()["spent"]
    for sql in ESCAPES:
        response = proxy.query(sql, epsilon=0.1)
        body: dict[str, Any] = response.json()
        assert response.status_code == 400, (sql, body)
        assert body["error"]["code"] in {"unsupported_query", "parse_error"}, (sql, body)
        assert "Traceback" not in response.text and "/etc/passwd" not in body["error"]["message"]
    assert proxy.client.get("/v1/budget", headers=proxy.headers()).json()["spent"] == before


def test_the_session_reads_no_file_by_name_and_sees_no_other_engines_views(
        demo_db: Path, tmp_path: Path) -> None:
    """Below the statement check: the engine's own session refuses `parquet.`path``,
    and two engines in one JVM do not see each other's views."""
    sources = export_parquet(demo_db, tmp_path / "pq", ["employees"])
    path = sources["employees"]["path"]
    first = SparkEngine(sources={"employees": SparkSource.model_validate(sources["employees"])},
                        master=MASTER, conf=TEST_CONF, statement_timeout_s=60)
    second = SparkEngine(sources={}, master=MASTER, conf=TEST_CONF, statement_timeout_s=60)
    try:
        assert first.execute("SELECT COUNT(*) FROM employees").rows[0][0] > 0
        with pytest.raises(Exception, match="TABLE_OR_VIEW_NOT_FOUND"):
            first._session.sql(f"SELECT COUNT(*) FROM parquet.`{path}`").collect()
        with pytest.raises(Exception, match="TABLE_OR_VIEW_NOT_FOUND"):
            second._session.sql("SELECT COUNT(*) FROM employees").collect()
        with pytest.raises(EngineError):
            second.execute("SELECT COUNT(*) FROM employees")
    finally:
        first.close()
        second.close()
