"""bench/report.py: each target of issue #25 read from results.json records, and
the README table rewritten between its markers. Synthetic records: no timing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import report


def _r(query: str, engine: str, rows: int, variant: str, s: float, **more: Any) -> dict:
    return {"query": query, "engine": engine, "rows": rows, "variant": variant,
            "median_s": s, "min_s": s, "max_s": s, "peak_rss_mb": 100.0, "reps": 1, **more}


RESULTS = [
    _r("group_count_sum", "duckdb", 10**7, "floor", 1.0),
    _r("group_count_sum", "duckdb", 10**7, "dpsql_sql", 1.4),
    _r("group_avg", "duckdb", 10**7, "floor", 1.0),
    _r("group_avg", "duckdb", 10**7, "dpsql_sql", 1.6),
    _r("group_count_sum", "duckdb", 10**6, "floor", 0.1),
    _r("group_count_sum", "duckdb", 10**6, "dpsql_sql", 0.1),
    _r("group_count_sum", "postgres", 10**6, "dpsql_sql", 1.0),
    _r("group_count_sum", "postgres", 10**6, "dpsql_http", 1.002),
    _r("group_count_sum", "postgres", 10**6, "qrlew_postgres", 4.0),
    _r("throughput_count_all", "duckdb", 20_000, "dpsql_http_8_clients", 0.004,
       queries_per_s=250.0, cached=False),
    _r("throughput_count_all", "duckdb", 20_000, "dpsql_http_8_clients_cached", 0.001,
       queries_per_s=1500.0, cached=True),
    _r("noise_10000_groups", "accountant", 10_000, "discrete_laplace", 0.030),
]


def _by_what() -> dict[str, report.Target]:
    return {t.what: t for t in report.targets(RESULTS)}


def test_ratios_are_read_at_the_largest_size_and_the_worst_query_decides() -> None:
    grouped = _by_what()["grouped COUNT/SUM/AVG, DuckDB, dpsql SQL / floor"]
    assert grouped.met is False  # group_avg 1.6 > 1.5, at 10 M (not the 1 M rows)
    assert "10 M rows" in grouped.measured and "group_avg 1.60×" in grouped.measured
    qrlew = _by_what()["Qrlew / dpsql HTTP, PostgreSQL (same database)"]
    assert qrlew.met is True and "1 M rows" in qrlew.measured


def test_rates_overhead_and_noise_against_their_targets() -> None:
    t = _by_what()
    assert t["fresh queries per second, 8 clients"].met is False
    assert t["cached answers per second, 8 clients"].met is True
    assert t["HTTP end to end minus engine time (median over the suite)"].met is True
    assert t["noise for 10,000 groups, discrete laplace"].met is True
    assert t["noise for 10,000 groups, discrete gaussian"].met is None  # not measured
    assert t["join with a public table, DuckDB, dpsql SQL / floor"].met is None
    assert "[not measured]" in t["join with a public table, DuckDB, dpsql SQL / floor"].line()


def test_the_readme_table_is_rewritten_between_its_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{report.BEGIN}\nold table\n{report.END}\nafter\n")
    assert report.write_readme(RESULTS, readme)
    text = readme.read_text()
    assert "old table" not in text and text.startswith("before\n") and text.endswith("after\n")
    assert "| group_count_sum | postgres | 1M |" in text and "| 3.99 |" in text  # 4 / 1.002
    readme.write_text("no markers")
    assert not report.write_readme(RESULTS, readme)


def test_the_repository_readme_has_the_markers() -> None:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert report.BEGIN in text and report.END in text
