"""What a benchmark run says about issue #25's targets, and the README's table.

``targets(results)`` reads ``bench/results.json`` records and states each
target of the issue next to the figure measured for it (a ratio or a rate),
from the largest size the run measured for that figure (the issue states most
targets at 10 M rows; a ``make bench-quick`` run reports them at its own size
and says so). ``peak_memory`` is the highest resident set size per variant.
``readme_table`` is the README's benchmark table, written with the targets'
lines between the markers
``<!-- bench-table:begin -->`` and ``<!-- bench-table:end -->`` by

    python -m bench.report [--results bench/results.json] [--readme README.md]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Target", "format_targets", "peak_memory", "readme_table", "targets"]

RESULTS = Path(__file__).resolve().parent / "results.json"
README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"
GROUPED = ("group_count_sum", "group_avg")


@dataclass(frozen=True)
class Target:
    what: str
    target: str
    measured: str
    met: bool | None  # None: not measured in this run

    def line(self) -> str:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[self.met]
        return f"{self.what}: target {self.target}, measured {self.measured} [{verdict}]"


def _median(results: Sequence[dict[str, Any]], query: str, engine: str, rows: int,
            variant: str) -> float | None:
    for r in results:
        if (r["query"], r["engine"], r["rows"], r["variant"]) == (query, engine, rows, variant):
            return float(r["median_s"])
    return None


def _sizes(results: Sequence[dict[str, Any]], engine: str, variant: str) -> list[int]:
    return sorted({r["rows"] for r in results
                   if r["engine"] == engine and r["variant"] == variant})


def _rows(n: int) -> str:
    return f"{n / 1e6:g} M" if n >= 1_000_000 else f"{n:,}"


def _ratio_target(results: Sequence[dict[str, Any]], what: str, queries: Iterable[str],
                  engine: str, top: str, bottom: str, limit: float, at_most: bool,
                  rows: int | None = None) -> Target:
    """The worst ratio top/bottom over ``queries`` at the largest size measured."""
    sizes = [n for n in _sizes(results, engine, top) if n in _sizes(results, engine, bottom)]
    if rows is not None:
        sizes = [n for n in sizes if n == rows] or [n for n in sizes if n <= rows]
    bound = f"≤ {limit}×" if at_most else f"≥ {limit}×"
    if not sizes:
        return Target(what, bound, "–", None)
    n = sizes[-1]
    ratios = {}
    for q in queries:
        a, b = _median(results, q, engine, n, top), _median(results, q, engine, n, bottom)
        if a is not None and b:
            ratios[q] = a / b
    if not ratios:
        return Target(what, bound, "–", None)
    worst = max(ratios.values()) if at_most else min(ratios.values())
    shown = ", ".join(f"{q} {r:.2f}×" for q, r in ratios.items())
    met = worst <= limit if at_most else worst >= limit
    return Target(what, bound, f"{shown} at {_rows(n)} rows", met)


def targets(results: Sequence[dict[str, Any]]) -> list[Target]:
    """Each target of issue #25 next to its figure in ``results``."""
    out = [
        _ratio_target(results, "grouped COUNT/SUM/AVG, DuckDB, dpsql SQL / floor", GROUPED,
                      "duckdb", "dpsql_sql", "floor", 1.5, at_most=True),
        _ratio_target(results, "join with a public table, DuckDB, dpsql SQL / floor",
                      ("join_public",), "duckdb", "dpsql_sql", "floor", 1.5, at_most=True),
        _ratio_target(results, "join with a public table, PostgreSQL, dpsql SQL / floor",
                      ("join_public",), "postgres", "dpsql_sql", "floor", 1.5, at_most=True),
        _ratio_target(results, "grouped, PostgreSQL, SmartNoise / dpsql HTTP (same database)",
                      GROUPED, "postgres", "smartnoise_postgres", "dpsql_http", 1.3,
                      at_most=False),
    ]
    # SmartNoise's PostgreSQL records carry engine "postgres" too
    out.append(_overhead(results))
    for kind, what, limit in ((False, "fresh queries per second, 8 clients", 300),
                              (True, "cached answers per second, 8 clients", 1000)):
        rates = [r["queries_per_s"] for r in results
                 if "queries_per_s" in r and bool(r.get("cached")) == kind]
        out.append(Target(what, f"≥ {limit}", f"{rates[0]:.0f}/s" if rates else "–",
                          rates[0] >= limit if rates else None))
    noise = {r["variant"]: r["median_s"] for r in results if r["engine"] == "accountant"}
    for mechanism in ("discrete_laplace", "discrete_gaussian"):
        s = noise.get(mechanism)
        out.append(Target(f"noise for 10,000 groups, {mechanism.replace('_', ' ')}", "≤ 50 ms",
                          f"{1000 * s:.0f} ms" if s is not None else "–",
                          s <= 0.050 if s is not None else None))
    out.append(_ratio_target(results, "Qrlew / dpsql HTTP, PostgreSQL (same database)",
                             ("count_all", *GROUPED, "distinct_units_where", "join_public"),
                             "postgres", "qrlew_postgres", "dpsql_http", 3.0, at_most=False,
                             rows=1_000_000))
    return out


def _overhead(results: Sequence[dict[str, Any]]) -> Target:
    """HTTP end to end minus the engine time (dpsql SQL), median over the suite, at
    1 M rows (or the largest size below), per engine."""
    parts, met = [], True
    for engine in ("duckdb", "postgres"):
        sizes = [n for n in _sizes(results, engine, "dpsql_http") if n <= 1_000_000]
        if not sizes:
            continue
        n = sizes[-1]
        gaps = []
        for r in results:
            if (r["engine"], r["rows"], r["variant"]) == (engine, n, "dpsql_http"):
                sql = _median(results, r["query"], engine, n, "dpsql_sql")
                if sql is not None:
                    gaps.append(r["median_s"] - sql)
        if gaps:
            gap = statistics.median(gaps)
            parts.append(f"{engine} {1000 * gap:.1f} ms at {_rows(n)} rows")
            met = met and gap <= 0.005
    return Target("HTTP end to end minus engine time (median over the suite)", "≤ 5 ms",
                  "; ".join(parts) or "–", met if parts else None)


def format_targets(results: Sequence[dict[str, Any]]) -> str:
    return "\n".join(t.line() for t in targets(results))


def peak_memory(results: Sequence[dict[str, Any]]) -> str:
    """The highest peak RSS (MB) per (engine, rows, variant) over the queries."""
    peaks: dict[tuple[str, int, str], float] = {}
    for r in results:
        if "peak_rss_mb" in r:
            key = (r["engine"], r["rows"], r["variant"])
            peaks[key] = max(peaks.get(key, 0.0), float(r["peak_rss_mb"]))
    lines = [f"peak RSS {engine} {_rows(rows)} {variant}: {mb:,.0f} MB"
             for (engine, rows, variant), mb in sorted(peaks.items())]
    return "\n".join(lines)


def _ms(x: float | None) -> str:
    if x is None:
        return "–"
    ms = 1000 * x
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}"


def readme_table(results: Sequence[dict[str, Any]]) -> str:
    """The README's table: medians in ms and the ratios the targets are stated in."""
    order = ("count_all", "group_count_sum", "group_avg", "distinct_units_where",
             "join_public", "quantile")
    keys = sorted({(r["engine"], r["rows"], r["query"]) for r in results
                   if r["engine"] in ("duckdb", "postgres") and r["query"] in order},
                  key=lambda k: (k[0], -k[1], order.index(k[2])))
    lines = ["| query | engine | rows | raw | floor | dpsql SQL | HTTP | dpsql/floor "
             "| SmartNoise/dpsql HTTP | Qrlew/dpsql HTTP |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for engine, rows, query in keys:
        def m(variant: str, engine: str = engine, rows: int = rows, query: str = query
              ) -> float | None:
            return _median(results, query, engine, rows, variant)

        raw, floor, dp, http = m("raw"), m("floor"), m("dpsql_sql"), m("dpsql_http")
        sn_variant = "smartnoise_postgres" if engine == "postgres" else "smartnoise_pandas"
        sn = m(sn_variant, "postgres" if engine == "postgres" else "pandas")
        qr = m("qrlew_postgres") if engine == "postgres" else None
        over = http if http is not None else dp

        def ratio(a: float | None, b: float | None) -> str:
            return f"{a / b:.2f}" if a is not None and b else "–"

        sn_text = ratio(sn, over) + (" (pandas)" if engine == "duckdb" and sn else "")
        lines.append(f"| {query} | {engine} | {_rows(rows).replace(' ', '')} | {_ms(raw)} | "
                     f"{_ms(floor)} | {_ms(dp)} | {_ms(http)} | {ratio(dp, floor)} | "
                     f"{sn_text} | {ratio(qr, over)} |")
    return "\n".join(lines)


def write_readme(results: Sequence[dict[str, Any]], readme: Path = README) -> bool:
    """Replace the table between the markers; False when the markers are missing."""
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    listed = "\n".join(f"- {t.line()}" for t in targets(results))
    readme.write_text(f"{head}{BEGIN}\n{readme_table(results)}\n\nIssue #25's targets, from "
                      f"the same run:\n\n{listed}\n{END}{tail}", encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--readme", type=Path, default=None,
                        help="rewrite this README's benchmark table from the results")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text(encoding="utf-8"))
    print(format_targets(results))
    print(peak_memory(results))
    if args.readme is not None:
        if not write_readme(results, args.readme):
            print(f"{args.readme} has no {BEGIN} … {END} markers", file=sys.stderr)
            return 1
        print(f"wrote the benchmark table of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
