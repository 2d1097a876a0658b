"""engine.kind: spark in dpsql.yaml: a Spark Connect URL or a master, and a source for
every declared table, each refused with its key path when wrong (SPEC §2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .test_config import edited, refused, write

SOURCES = {"employees": {"path": "/lake/employees", "format": "parquet"},
           "departments": {"table": "hr.departments"}}


def spark(**engine: Any) -> str:
    def change(doc: dict[str, Any]) -> None:
        doc["engine"] = {"kind": "spark", "sources": SOURCES, **engine}
    return edited(change)


def test_a_connect_url_and_a_master_both_load(tmp_path: Path) -> None:
    from proxy.config import load_config

    config = load_config(write(tmp_path, spark(connect_url="sc://spark:15002")))
    assert config.engine.connect_url == "sc://spark:15002"
    assert config.engine.sources["departments"].table == "hr.departments"
    config = load_config(write(tmp_path, spark(master="local[*]",
                                               spark_conf={"spark.driver.memory": "2g"})))
    assert config.engine.master == "local[*]"
    assert config.engine.sources["employees"].format == "parquet"


@pytest.mark.parametrize(("engine", "fragment"), [
    ({}, "exactly one of `connect_url`"),
    ({"connect_url": "sc://a:1", "master": "local[2]"}, "exactly one of `connect_url`"),
    ({"connect_url": "http://spark:15002"}, "sc://host:15002"),
    ({"connect_url": "sc://a:1", "spark_conf": {"a": "b"}}, "a Spark Connect server has its own"),
    ({"master": "local[2]", "database": "x.duckdb"}, "not `database` or `dsn`"),
])
def test_a_wrong_spark_engine_is_refused(tmp_path: Path, engine: dict[str, Any],
                                         fragment: str) -> None:
    assert fragment in refused(tmp_path, spark(**engine))


@pytest.mark.parametrize(("source", "fragment"), [
    ({"path": "/lake/x"}, "needs its `format`"),
    ({"path": "/lake/x", "table": "db.x", "format": "csv"}, "not both"),
    ({}, "not both"),
    ({"table": "db.x", "format": "csv"}, "`format` and `options` are for a `path`"),
    ({"path": "/lake/x", "format": "orc"}, "engine.sources.employees.format"),
])
def test_a_wrong_source_is_refused(tmp_path: Path, source: dict[str, Any],
                                   fragment: str) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["engine"] = {"kind": "spark", "master": "local[2]",
                         "sources": {**SOURCES, "employees": source}}
    assert fragment in refused(tmp_path, edited(change))


def test_every_declared_table_needs_a_source(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["engine"] = {"kind": "spark", "master": "local[2]",
                         "sources": {"employees": SOURCES["employees"]}}
    assert "tables.departments: a spark engine reads only the sources" in refused(
        tmp_path, edited(change))


def test_spark_keys_are_refused_on_other_engines(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["engine"]["sources"] = SOURCES
    assert "`sources` is for spark" in refused(tmp_path, edited(change))
