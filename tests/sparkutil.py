"""Spark in tests: one JVM per test process (local mode, small), and DuckDB files
exported to Parquet so that a Spark engine reads the same rows as the others."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pytest

MASTER = "local[2]"
# one JVM per test process: every SparkEngine on a master shares it (newSession each)
TEST_CONF = {"spark.sql.shuffle.partitions": "2", "spark.driver.memory": "768m",
             "spark.default.parallelism": "2",
             # Spark makes ./spark-warehouse on start; a test run leaves nothing behind
             "spark.sql.warehouse.dir": tempfile.mkdtemp(prefix="dpsql-spark-warehouse-"),
             "spark.local.dir": tempfile.gettempdir()}


def require_spark() -> None:
    pytest.importorskip("pyspark", reason="the spark extra is not installed")


def export_parquet(database: Path, folder: Path, tables: list[str] | None = None
                   ) -> dict[str, dict[str, Any]]:
    """Every table of the DuckDB file as one Parquet file under `folder`; returns the
    `engine.sources` section that registers them."""
    folder.mkdir(parents=True, exist_ok=True)
    sources: dict[str, dict[str, Any]] = {}
    with duckdb.connect(str(database), read_only=True) as con:
        names = tables or [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()]
        for name in names:
            path = folder / f"{name}.parquet"
            con.execute(f"COPY \"{name}\" TO '{path}' (FORMAT parquet)")
            sources[name] = {"path": str(path), "format": "parquet"}
    return sources


def spark_engine(sources: dict[str, dict[str, Any]], timeout_s: float = 30) -> dict[str, Any]:
    """The `engine:` section of a local-mode Spark deployment."""
    return {"kind": "spark", "master": MASTER, "sources": sources, "spark_conf": dict(TEST_CONF),
            "statement_timeout_s": timeout_s}
