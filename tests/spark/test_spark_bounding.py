"""Contribution bounding on Spark (rewriter/distributed.py): the per-person caps hold
with duplicate rows, the choice differs from query to query, and it does not depend on
how the rows are partitioned or how often a plan is evaluated.

Person 1 has 40 identical rows; person 2 has 40 distinct rows over two cities; 28 more
people have one row each. The table keeps R = 3 rows and G = 1 group per person."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from scipy import stats

import rewriter.distributed as distributed
from proxy.config import SparkSource
from proxy.engines.spark import SparkEngine
from rewriter import Catalog, Table, plan_query
from tests.sparkutil import MASTER, TEST_CONF, require_spark

R, G = 3, 1
TABLE = {"privacy_unit": "pid", "max_rows_per_unit": R, "max_groups_per_unit": G,
         "columns": {"pid": {"type": "integer"}, "row_id": {"type": "integer"},
                     "city": {"type": "text", "public_keys": ["a", "b", "c"]},
                     "amount": {"type": "float", "lower": 0, "upper": 100}}}
CATALOG = Catalog({"visits": Table.model_validate(TABLE)})
ROWS = ([(1, 0, "a", 10.0)] * 40
        + [(2, k, "ab"[k % 2], float(k)) for k in range(40)]
        + [(p, 0, "abc"[p % 3], 1.0) for p in range(3, 31)])


def _write(con: duckdb.DuckDBPyConnection, path: Path, rows: list[tuple[Any, ...]]) -> None:
    con.execute("CREATE OR REPLACE TABLE t (pid BIGINT, row_id BIGINT, city TEXT, amount DOUBLE)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
    con.execute(f"COPY t TO '{path}' (FORMAT parquet)")


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same rows as one Parquet file, and as seven files in another row order."""
    require_spark()
    folder = tmp_path_factory.mktemp("bounding")
    one, many = folder / "one.parquet", folder / "many"
    many.mkdir()
    with duckdb.connect() as con:
        _write(con, one, ROWS)
        shuffled = ROWS[::-1][1::2] + ROWS[::-1][0::2]
        for i in range(7):
            _write(con, many / f"part{i}.parquet", shuffled[i::7])
    return {"one": one, "many": many}


def _engine(path: Path, shuffle_partitions: int) -> SparkEngine:
    engine = SparkEngine(sources={"visits": SparkSource(path=str(path), format="parquet")},
                         master=MASTER, conf=TEST_CONF, statement_timeout_s=120)
    engine._session.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
    return engine


@pytest.fixture(scope="module")
def engine(layouts: dict[str, Path]) -> Iterator[SparkEngine]:
    eng = _engine(layouts["one"], 2)
    yield eng
    eng.close()


def _measures(engine: SparkEngine, sql: str) -> dict[Any, tuple[Any, ...]]:
    """The rewritten query's exact measures by group (before any noise)."""
    plan = plan_query(sql, CATALOG)
    spark_sql = plan.sql("spark")
    assert "RAND" not in spark_sql.upper().replace("XXHASH64", "")
    result = engine.execute(spark_sql)
    return {row[0]: tuple(row[1:]) for row in result.rows}


def test_the_row_cap_holds_for_identical_rows(engine: SparkEngine) -> None:
    for _ in range(2):  # two salts
        measures = _measures(engine, "SELECT city, COUNT(*), SUM(amount) FROM visits "
                                     "WHERE pid = 1 GROUP BY city")
        # grid scale of [0, 100]: 2**13
        assert measures["a"] == (R, R * 10 * 2**13) and measures.get("b", (0, 0))[0] == 0


def test_the_group_cap_and_row_cap_hold_for_distinct_rows(engine: SparkEngine) -> None:
    for _ in range(2):
        counts = _measures(engine, "SELECT city, COUNT(*) FROM visits WHERE pid = 2 GROUP BY city")
        nonzero = [c for (c,) in counts.values() if c]
        assert nonzero == [R]  # one group (G = 1), R rows in it


def test_whole_table_counts_are_exactly_the_capped_contributions(engine: SparkEngine) -> None:
    counts = _measures(engine, "SELECT city, COUNT(*) FROM visits GROUP BY city")
    # person 1: 3 in a; person 2: 3 in a or b; people 3..30: one row each
    assert sum(c for (c,) in counts.values()) == R + R + 28


def test_neighbours_differ_by_at_most_the_sensitivity(engine: SparkEngine,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Removing person 2 (a WHERE, as the choice of other people's rows depends only on
    their own rows and the salt) moves the measure vector by at most its l1 bound."""
    monkeypatch.setattr(distributed, "fresh_salt", lambda: 12345)
    sql = "SELECT city, COUNT(*) AS n, SUM(amount) AS s FROM visits {} GROUP BY city"
    plan = plan_query(sql.format(""), CATALOG)
    full = _measures(engine, sql.format(""))
    neighbour = _measures(engine, sql.format("WHERE pid <> 2"))
    for k, measure in enumerate(plan.measures):
        moved = sum(abs(full[g][k] - neighbour.get(g, (0, 0))[k]) for g in full)
        assert 0 < moved <= measure.l1


def test_the_choice_changes_from_query_to_query(engine: SparkEngine) -> None:
    outcomes = {tuple(sorted(_measures(engine, "SELECT city, SUM(amount) FROM visits "
                                               "WHERE pid = 2 GROUP BY city").items()))
                for _ in range(6)}
    assert len(outcomes) >= 3  # 2 groups x C(20, 3) row choices: repeats are rare


def test_a_fixed_salt_gives_the_same_choice_on_any_layout(
        layouts: dict[str, Path], engine: SparkEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The choice is a function of the rows and the salt only: the same on one file or
    seven (another row order), with 2 or 5 shuffle partitions, and on every evaluation."""
    monkeypatch.setattr(distributed, "fresh_salt", lambda: 987654321)
    sql = "SELECT city, COUNT(*), SUM(amount) FROM visits WHERE pid IN (1, 2) GROUP BY city"
    first = _measures(engine, sql)
    assert _measures(engine, sql) == first
    other = _engine(layouts["many"], 5)
    try:
        assert _measures(other, sql) == first
    finally:
        other.close()


def test_the_keyed_hash_picks_each_row_equally_often(engine: SparkEngine) -> None:
    """The row a cap of one keeps, over 3000 salts: uniform over a person's 10 distinct
    rows (chi-square), so the choice follows no data value. Computed in one statement
    with the same hash expression the rewrite uses."""
    salts = 3000
    key = distributed._hash([distributed.exp.column(c) for c in ("pid", "row_id", "amount")],
                            0).sql("spark").replace(", 0)", ", s.id)")
    sql = (f"SELECT row_id FROM (SELECT s.id AS salt, v.row_id, ROW_NUMBER() OVER "
           f"(PARTITION BY s.id ORDER BY {key}) AS rn FROM range({salts}) AS s "
           f"CROSS JOIN (SELECT * FROM visits WHERE pid = 2 AND row_id < 10) AS v) WHERE rn = 1")
    picked = Counter(r[0] for r in engine._session.sql(sql).collect())
    assert sum(picked.values()) == salts
    assert stats.chisquare([picked[k] for k in range(10)]).pvalue > 1e-4
