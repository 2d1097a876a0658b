"""The Spark engine's own failures: each a fixed message, quick, with the cause in the
server log only."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from proxy.config import SparkSource
from proxy.engines import EngineError
from proxy.engines.base import EngineError as BaseEngineError
from proxy.engines.spark import SparkEngine
from tests.serving import free_port
from tests.sparkutil import MASTER, TEST_CONF, export_parquet, require_spark


def test_an_unreachable_connect_server_fails_fast_and_says_where() -> None:
    require_spark()
    url = f"sc://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(EngineError) as info:
        SparkEngine(sources={}, connect_url=url, statement_timeout_s=5)
    assert time.monotonic() - start < 15  # the client alone retries for minutes
    assert url in info.value.message and "Connection refused" in (info.value.reason or "")


def test_a_missing_source_fails_at_start_without_a_traceback(tmp_path: Path) -> None:
    require_spark()
    missing = SparkSource(path=str(tmp_path / "nothing.parquet"), format="parquet")
    with pytest.raises(EngineError) as info:
        SparkEngine(sources={"t": missing}, master=MASTER, conf=TEST_CONF,
                    statement_timeout_s=30)
    assert "register its sources" in info.value.message


def test_a_failing_statement_is_a_fixed_message(demo_db: Path, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    sources = export_parquet(demo_db, tmp_path / "pq", ["employees"])
    engine = SparkEngine(sources={"employees": SparkSource.model_validate(sources["employees"])},
                         master=MASTER, conf=TEST_CONF, statement_timeout_s=30)
    try:
        with pytest.raises(BaseEngineError) as info:
            engine.execute("SELECT CAST(name AS INT) + no_such_column FROM employees")
        assert info.value.message == BaseEngineError.default_message
        # driver messages stay out of the log, and out of PySpark's own stderr logger
        engine._session.conf.set("spark.sql.ansi.enabled", "true")
        with pytest.raises(BaseEngineError):
            engine.execute("SELECT COUNT(*) FROM employees WHERE CAST(name AS INT) > 0")
        assert "no_such_column" not in caplog.text
        err = capfd.readouterr().err
        assert "no_such_column" not in err and "CAST_INVALID_INPUT" not in err
        assert engine.columns()["employees"]["salary"] == "double"
    finally:
        engine.close()
