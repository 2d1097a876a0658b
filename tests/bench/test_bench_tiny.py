"""The benchmark in miniature, inside `make test`, so that `make bench` never rots.

Runs `python -m bench.run --tiny` (20 000 rows, one repetition, every variant
available here, on DuckDB and on the local PostgreSQL in a throwaway database)
and checks the shape of `results.json`; checks that dpsql's rewritten SQL and
the floor agree with the raw query where no bound binds. SmartNoise's variants
run only where `bench/.venv-snsql` exists (`python -m bench.smartnoise
--install`); the CI machine may not have it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import pgdata, run, smartnoise
from bench.data import ensure_database
from bench.smartnoise import smartnoise_sql
from bench.suite import PENDING, QUERIES, catalog, split_pending
from proxy.engines.duckdb import DuckDBEngine
from rewriter import plan_query
from tests.pg import ADMIN_DSN, require_postgres

FIELDS = {"query": str, "engine": str, "rows": int, "variant": str,
          "median_s": float, "min_s": float, "max_s": float, "peak_rss_mb": float}
TINY = run.TINY_ROWS


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-data")


@pytest.fixture(scope="module")
def tiny_db(data_dir: Path) -> Path:
    return ensure_database(TINY, data_dir)


@pytest.fixture(scope="module")
def pg_prefix() -> Iterator[str]:
    """A prefix of its own, so that parallel runs never share the loaded tables."""
    require_postgres()
    prefix = f"dpsql_bench_test_{secrets.token_hex(4)}"
    yield prefix
    pgdata.drop_postgres([TINY], ADMIN_DSN, prefix)


def test_tiny_run_writes_results_json(
    tmp_path: Path, data_dir: Path, pg_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.json"
    assert run.main(["--tiny", "--out", str(out), "--data-dir", str(data_dir),
                     "--pg-dsn", ADMIN_DSN, "--pg-prefix", pg_prefix]) == 0
    results = json.loads(out.read_text(encoding="utf-8"))

    assert isinstance(results, list) and results
    for r in results:
        for field, kind in FIELDS.items():
            assert isinstance(r[field], kind), (field, r)
        assert 0 < r["min_s"] <= r["median_s"] <= r["max_s"], r
        assert r["peak_rss_mb"] > 0, r
    runs = {(r["query"], r["engine"], r["variant"]) for r in results}
    for engine in run.ENGINES:
        for q in QUERIES:
            for variant in (*run.ENGINE_VARIANTS, "dpsql_http"):
                assert (q.name, engine, variant) in runs
    if smartnoise.available("postgres"):
        assert ("count_all", "postgres", "smartnoise_postgres") in runs
    assert {r["rows"] for r in results if r["engine"] in run.ENGINES} == {TINY}

    printed = capsys.readouterr().out
    assert "dpsql/floor" in printed and "dpsql/raw" in printed and "floor/raw" in printed
    assert any(line.startswith("count_all") and " postgres " in line
               for line in printed.splitlines())


def test_postgres_tables_are_loaded_once_and_reused(
    tiny_db: Path, pg_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = pgdata.ensure_postgres(tiny_db, TINY, ADMIN_DSN, pg_prefix)

    def no_reload(*args: object) -> None:
        raise AssertionError("the tables were loaded again although the file is unchanged")

    monkeypatch.setattr(pgdata, "_load", no_reload)
    assert pgdata.ensure_postgres(tiny_db, TINY, ADMIN_DSN, pg_prefix) == dsn
    from proxy.engines.postgres import PostgresEngine  # refuses anything but a reader

    engine = PostgresEngine(dsn, statement_timeout_s=30)
    try:
        assert engine.execute("SELECT COUNT(*) FROM visits").rows == [(TINY,)]
    finally:
        engine.close()


def test_an_unreachable_postgres_is_skipped_with_a_message(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.json"
    assert run.main(["--tiny", "--variants", "raw", "--out", str(out), "--data-dir",
                     str(data_dir), "--pg-dsn", "postgresql://postgres@127.0.0.1:1/postgres"]) == 0
    assert "PostgreSQL is not reachable" in capsys.readouterr().err
    assert {r["engine"] for r in json.loads(out.read_text(encoding="utf-8"))} <= {
        "duckdb", "accountant"}


def test_pending_queries_are_timed_once_the_rewriter_plans_them(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planned, refused = split_pending(catalog())
    assert {q.name for q in planned} | {q.name for q in refused} == {q.name for q in PENDING}
    out = tmp_path / "results.json"
    assert run.main(["--tiny", "--engines", "duckdb", "--variants", "raw,floor,dpsql_sql",
                     "--out", str(out), "--data-dir", str(data_dir)]) == 0
    timed = {(r["query"], r["variant"]) for r in json.loads(out.read_text(encoding="utf-8"))}
    printed = capsys.readouterr().out
    for q in planned:
        assert (q.name, "dpsql_sql") in timed and (q.name, "raw") in timed
        assert ((q.name, "floor") in timed) == (q.floor_sql is not None)
    for q in refused:
        assert f"{q.name}: not supported yet" in printed


def test_rewritten_and_floor_agree_with_raw_when_no_bound_binds(tiny_db: Path) -> None:
    # 30 rows is the most any person has and no one reaches 200 cities: nothing is dropped
    loose = catalog(max_rows_per_unit=30, max_groups_per_unit=200)
    engine = DuckDBEngine(tiny_db, statement_timeout_s=60)
    try:
        for name in ("count_all", "group_count_sum"):
            q = next(q for q in QUERIES if q.name == name)
            plan = plan_query(q.sql, loose)
            keys = len(plan.shape.group_columns)  # both queries: keys, then COUNT(*) AS n

            def counts(rows: list[tuple], at: int, keys: int = keys) -> dict[tuple, int]:
                return {tuple(row[:keys]): row[at] for row in rows}

            raw = counts(engine.execute(q.sql).rows, keys)
            result = engine.execute(plan.sql("duckdb"))
            count = next(m.name for m in plan.measures if m.kind == "count")
            assert counts(result.rows, result.columns.index(count)) == raw, name
            assert counts(engine.execute(q.floor_sql).rows, keys) == raw, name
    finally:
        engine.close()


def test_row_cap_binds_on_the_generated_data(tiny_db: Path) -> None:
    """The data must exercise the bounds, or the benchmark measures nothing."""
    engine = DuckDBEngine(tiny_db, statement_timeout_s=60)
    try:
        raw = engine.execute("SELECT COUNT(*) FROM visits").rows[0][0]
        plan = plan_query("SELECT COUNT(*) AS n FROM visits", catalog())
        capped = engine.execute(plan.sql("duckdb")).rows[0][0]
    finally:
        engine.close()
    assert raw == TINY
    assert 0.5 * raw < capped < raw


def test_smartnoise_tables_are_schema_qualified() -> None:
    assert smartnoise_sql("SELECT COUNT(*) AS n FROM visits") == (
        "SELECT COUNT(*) AS n FROM bench.visits"
    )


def test_tiny_run_reports_every_target_of_issue_25(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DuckDB only, HTTP included: the throughput of fresh and of cached answers, the
    noise cost and the target lines are printed and recorded."""
    out = tmp_path / "results.json"
    assert run.main(["--tiny", "--engines", "duckdb", "--out", str(out),
                     "--data-dir", str(data_dir), "--variants", "raw,floor,dpsql_sql,dpsql_http"]
                    ) == 0
    results = json.loads(out.read_text(encoding="utf-8"))
    rates = {r["variant"]: r["queries_per_s"] for r in results if "queries_per_s" in r}
    assert set(rates) == {"dpsql_http_8_clients", "dpsql_http_8_clients_cached"}
    assert all(v > 0 for v in rates.values())
    printed = capsys.readouterr().out
    assert "issue #25's targets:" in printed
    for what in ("dpsql SQL / floor", "cached answers per second", "noise for 10,000 groups",
                 "Qrlew / dpsql HTTP", "peak RSS duckdb"):
        assert what in printed, what
