"""The Spark form of contribution bounding (rewriter/distributed.py), as SQL text: no
RANDOM() anywhere, a fresh salt per generation, sums in DECIMAL(38, 0); DuckDB and
PostgreSQL keep their SQL. Its behaviour on Spark is tests/spark/test_spark_bounding.py."""

from __future__ import annotations

import re

import pytest

from rewriter import Catalog, Table, plan_query

CATALOG = Catalog({
    "visits": Table.model_validate({
        "privacy_unit": "pid", "max_rows_per_unit": 3, "max_groups_per_unit": 1,
        "columns": {"pid": {"type": "integer"},
                    "city": {"type": "text", "public_keys": ["a", "b"]},
                    "amount": {"type": "float", "lower": 0, "upper": 100}}}),
    "people": Table.model_validate({
        "privacy_unit": "pid", "max_rows_per_unit": 2, "max_groups_per_unit": 2,
        "columns": {"pid": {"type": "integer"}, "age": {"type": "integer",
                                                        "lower": 0, "upper": 120}}}),
})
QUERIES = [
    "SELECT city, COUNT(*), SUM(amount) FROM visits GROUP BY city",  # group cap + row cap
    "SELECT SUM(amount) FROM visits",  # row cap only
    "SELECT COUNT(DISTINCT pid), COUNT(*) FROM visits",  # no row choice at all
    "SELECT v.city, COUNT(*) FROM visits v JOIN people p ON v.pid = p.pid GROUP BY v.city",
    "SELECT city, AVG(amount) FROM visits GROUP BY city",
]


@pytest.mark.parametrize("sql", QUERIES)
def test_spark_sql_draws_nothing_at_random_and_salts_each_query(sql: str) -> None:
    plan = plan_query(sql, CATALOG)
    first, second = plan.sql("spark"), plan.sql("spark")
    assert not re.search(r"\bRAND(OM)?\s*\(", first, re.IGNORECASE)
    if "ROW_NUMBER" in first:
        assert "XXHASH64" in first and first != second  # a new salt each time
    # every sum of grid values (`__v_…`) in DECIMAL(38, 0); counts stay BIGINT
    values = re.findall(r"SUM\((CAST\()?`__v_", first)
    assert all(cast for cast in values)
    assert len(values) == first.count("AS DECIMAL(38, 0))")


@pytest.mark.parametrize("sql", QUERIES)
def test_duckdb_and_postgres_keep_their_random_draws(sql: str) -> None:
    plan = plan_query(sql, CATALOG)
    for dialect in ("duckdb", "postgres"):
        text = plan.sql(dialect)
        assert "XXHASH64" not in text and "DECIMAL(38, 0)" not in text
        if "ROW_NUMBER" in text:
            assert "RANDOM()" in text
