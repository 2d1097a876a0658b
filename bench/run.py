"""``make bench``: time the query suite in each variant and write ``bench/results.json``.

Variants (see ``bench/README.md``):

    raw                the analyst's SQL run directly on the engine (no protection)
    floor              per-unit partial aggregation + clamping, no caps
    dpsql_sql          dpsql's rewritten SQL on the engine (planning timed apart)
    dpsql_http         dpsql end to end over HTTP, when ``bench.http_variant`` exists
    smartnoise_pandas  SmartNoise SQL's pandas reader, in its own virtualenv (≤ 1 M rows)
    smartnoise_postgres  SmartNoise SQL's PostgreSQL reader on the same PostgreSQL table
    qrlew_postgres     Qrlew's DP SQL (pyqrlew, own virtualenv), same PostgreSQL table, ≤ 1 M rows

Every variant but SmartNoise's runs on each engine of ``--engines`` (DuckDB and
PostgreSQL, tables loaded once by ``bench/pgdata.py``).

Runs are interleaved (each repetition visits every query and variant, in an
order rotated per repetition) after one untimed warm-up of each, so drift in
the machine's load spreads over all variants alike.

    python -m bench.run [--rows 1e6,1e7] [--reps 5] [--engines duckdb,postgres]
                        [--variants raw,floor,dpsql_sql] [--tiny | --quick]

At the end it prints each target of issue #25 next to its measured figure and
the peak memory per variant (``bench/report.py``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlglot import transpile

from proxy.config import EngineConfig, PrivacyConfig
from proxy.engines import open_engine
from rewriter import plan_query

from . import pgdata, qrlew, report, smartnoise
from .data import DATA_DIR, ensure_database, parse_sizes
from .measure import RssSampler, Timing
from .suite import QUERIES, Query, catalog, split_pending

__all__ = [
    "ENGINES", "ENGINE_VARIANTS", "VARIANTS", "Target", "duckdb_target", "main", "noise_cost",
    "aligned", "postgres_target", "run_engine_variants", "targets_for",
]

# what the proxy runs by default: the bounding diagnostics are part of the rewrite
DIAGNOSTICS = PrivacyConfig().diagnostics_share

ENGINES = ("duckdb", "postgres")
ENGINE_VARIANTS = ("raw", "floor", "dpsql_sql")
VARIANTS = (*ENGINE_VARIANTS, "dpsql_http", "smartnoise_pandas", "smartnoise_postgres",
            "qrlew_postgres")
RESULTS = Path(__file__).resolve().parent / "results.json"
TINY_ROWS = 20_000
# `make bench-quick`: every variant and target, at a size that runs in a few minutes
QUICK_ROWS, QUICK_REPS, QUICK_THROUGHPUT_S = 200_000, 2, 2.0
# SmartNoise's pandas reader holds the table in a DataFrame; the issue compares at 1 M rows
SMARTNOISE_MAX_ROWS = 1_000_000


def _http_variant() -> Any | None:
    """The HTTP runner, or None when the app cannot be imported."""
    try:
        return importlib.import_module("bench.http_variant")
    except ImportError:
        return None


@dataclass(frozen=True)
class Target:
    """One engine holding the data of one size: what every variant of a run reads."""

    engine: str  # the `engine` field of results.json: duckdb | postgres
    rows: int
    config: EngineConfig  # how dpsql reaches the data; the timed variants use the same

    @property
    def dialect(self) -> str:
        return "postgres" if self.config.kind == "postgres" else "duckdb"


def duckdb_target(path: Path, rows: int) -> Target:
    return Target("duckdb", rows, EngineConfig(kind="duckdb", database=path.resolve(),
                                               statement_timeout_s=3600))


def postgres_target(dsn: str, rows: int) -> Target:
    return Target("postgres", rows, EngineConfig(kind="postgres", dsn=dsn,
                                                 statement_timeout_s=3600))


def targets_for(rows: int, engines: Sequence[str], data_dir: Path, pg_dsn: str,
                pg_prefix: str) -> tuple[Path, list[Target]]:
    """The benchmark data of one size (built if missing) and a target per engine."""
    path = ensure_database(rows, data_dir)
    targets = []
    if "duckdb" in engines:
        targets.append(duckdb_target(path, rows))
    if "postgres" in engines:
        targets.append(postgres_target(pgdata.ensure_postgres(path, rows, pg_dsn, pg_prefix),
                                       rows))
    return path, targets


def run_engine_variants(
    target: Target, variants: Sequence[str], reps: int, http: Any | None = None,
    queries: Sequence[Query] = QUERIES,
) -> tuple[list[Timing], dict[str, float]]:
    """Time raw / floor / dpsql_sql (and dpsql_http when ``http`` is given), interleaved.

    Every variant goes through the engine dpsql itself opens for ``target``
    (sealed read-only DuckDB, or ``PostgresEngine`` on a read-only role), so
    settings are identical. The suite is written in DuckDB's dialect; raw and
    floor SQL are transpiled by sqlglot, dpsql's plan is generated, for the
    target's dialect. Also returns the median planning time per query (s). The
    HTTP variant runs in the same loop as the engine variants, so its overhead
    over dpsql_sql is read from runs made under the same machine load.
    """
    cat = catalog()
    dialect = target.dialect
    plan_times: dict[str, list[float]] = {q.name: [] for q in queries}
    sql: dict[tuple[str, str], str] = {}
    for q in queries:
        sql[q.name, "raw"] = transpile(q.sql, "duckdb", dialect)[0]
        sql[q.name, "dpsql_http"] = q.sql  # the analyst writes in the app's input dialect
        sql[q.name, "dpsql_sql"] = plan_query(q.sql, cat, diagnostics=DIAGNOSTICS).sql(dialect)
        if q.floor_sql is not None:
            sql[q.name, "floor"] = transpile(q.floor_sql, "duckdb", dialect)[0]
    for _ in range(max(reps, 5)):  # planning is fast and noisy: a few more runs
        for q in queries:
            start = time.perf_counter()
            plan_query(q.sql, cat, diagnostics=DIAGNOSTICS).sql(dialect)
            plan_times[q.name].append(time.perf_counter() - start)
    plan_s = {name: statistics.median(xs) for name, xs in plan_times.items()}

    with ExitStack() as stack:
        engine = open_engine(target.config)
        stack.callback(engine.close)
        runners: dict[str, Callable[[str], Any]] = {
            v: engine.execute for v in ENGINE_VARIANTS if v in variants
        }
        if http is not None and "dpsql_http" in variants:
            runners["dpsql_http"] = stack.enter_context(http.asker(target.config, cat))
        wanted = list(runners)
        timings = {
            (q.name, v): Timing(q.name, target.engine, target.rows, v)
            for q in queries for v in wanted if (q.name, v) in sql
        }
        for q in queries:  # warm-up: the first run of a query pays for reading the file
            for v in wanted:
                if (q.name, v) in sql:
                    runners[v](sql[q.name, v])
        for rep in range(reps):
            shift = rep % len(wanted) if wanted else 0
            for q in queries:
                for v in wanted[shift:] + wanted[:shift]:
                    if (q.name, v) not in sql:
                        continue
                    run, text = runners[v], sql[q.name, v]
                    timings[q.name, v].measure(lambda run=run, text=text: run(text))
        return list(timings.values()), plan_s


def noise_cost(groups: int = 10_000, reps: int = 5) -> list[dict[str, Any]]:
    """Time ``accountant.add_noise`` for one value per group, if the accountant imports."""
    try:
        from accountant import add_noise, gaussian_for, laplace_for
    except ImportError:
        return []
    specs = {
        "discrete_laplace": laplace_for(10, Fraction(1, 10)),
        "discrete_gaussian": gaussian_for(10, Fraction(1, 100)),
    }
    out = []
    for name, spec in specs.items():
        t = Timing(f"noise_{groups}_groups", "accountant", groups, name)
        values = [1_000] * groups
        add_noise(values, spec)  # builds and caches the OpenDP measurement
        for _ in range(reps):
            t.measure(lambda spec=spec, values=values: add_noise(values, spec))
        out.append(t.record())
    return out


def aligned(table: Sequence[Sequence[str]]) -> list[str]:
    """Rows of cells as text columns: the first left-aligned, the others right."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                  for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
        for row in table
    ]


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "–"


def _ms(x: float | None) -> str:
    return f"{1000 * x:.1f}" if x is not None else "–"


# SmartNoise's reader compared with each engine's rows of the table
_SMARTNOISE_FOR = {"duckdb": "smartnoise_pandas", "postgres": "smartnoise_postgres"}


def format_table(
    results: list[dict[str, Any]], plan_ms: dict[str, float],
    queries: Sequence[Query] = QUERIES, refused: Sequence[Query] = (),
) -> str:
    """Medians (ms) and the ratios the issue's targets are stated in, per engine.

    http-sql is the end-to-end overhead over the engine (target ≤ 5 ms);
    sn/dpsql is SmartNoise over dpsql end to end (over dpsql's SQL when the
    HTTP variant did not run): its pandas reader on the DuckDB rows (target ≥ 10
    at 1 M rows), its PostgreSQL reader on the postgres rows.
    """
    sn_med = {(r["query"], r["rows"], r["variant"]): r["median_s"] for r in results
              if r["variant"].startswith("smartnoise")}
    engine_med = {(r["query"], r["engine"], r["rows"], r["variant"]): r["median_s"]
                  for r in results}
    order = [q.name for q in queries]
    engines = [e for e in ENGINES if any(r["engine"] == e for r in results)]
    keys = sorted({(r["query"], r["engine"], r["rows"]) for r in results
                   if r["query"] in order and r["engine"] in engines},
                  key=lambda k: (engines.index(k[1]), k[2], order.index(k[0])))
    header = ("query", "engine", "rows", "raw ms", "floor ms", "dpsql ms", "plan ms", "http ms",
              "http-sql ms", "sn ms", "dpsql/floor", "dpsql/raw", "floor/raw", "sn/dpsql")
    table = [header]
    for name, engine, rows in keys:
        raw, floor, dp, http = (
            engine_med.get((name, engine, rows, v))
            for v in ("raw", "floor", "dpsql_sql", "dpsql_http")
        )
        sn = sn_med.get((name, rows, _SMARTNOISE_FOR[engine]))
        overhead = http - dp if http is not None and dp is not None else None
        table.append((
            name, engine, str(rows), _ms(raw), _ms(floor), _ms(dp),
            f"{1000 * plan_ms[name]:.2f}", _ms(http), _ms(overhead), _ms(sn),
            _ratio(dp, floor), _ratio(dp, raw), _ratio(floor, raw),
            _ratio(sn, http if http is not None else dp),
        ))
    lines = aligned(table)
    for r in results:
        if "queries_per_s" in r:
            kind = "cached answers" if r.get("cached") else "fresh queries"
            lines.append(f"throughput ({kind}): {r['query']} on {r['rows']} rows, 8 clients "
                         f"over HTTP: {r['queries_per_s']:.0f} queries/s")
        if r["engine"] == "accountant":
            lines.append(f"noise: {r['rows']} values, {r['variant']}: {_ms(r['median_s'])} ms")
    for q in refused:
        lines.append(f"{q.name}: {q.note}")
    return "\n".join(lines)


def _engine_runs(
    target: Target, path: Path, variants: Sequence[str], reps: int, http: Any | None,
    queries: Sequence[Query], skipped: list[str],
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Every variant on one engine at one size, SmartNoise's reader for it included."""
    timings, plans = run_engine_variants(target, variants, reps, http, queries)
    results = [t.record() for t in timings]
    if target.engine == "postgres" and "qrlew_postgres" in variants:
        results += _qrlew_runs(target, reps, queries, skipped)
    sn = "smartnoise_postgres" if target.engine == "postgres" else "smartnoise_pandas"
    if sn not in variants or not smartnoise.available(target.engine):
        return results, plans
    if sn == "smartnoise_pandas" and target.rows > SMARTNOISE_MAX_ROWS:
        skipped.append(f"smartnoise_pandas at {target.rows} rows: pandas reader run "
                       f"up to {SMARTNOISE_MAX_ROWS} rows only")
        return results, plans
    dsn = target.config.dsn if target.engine == "postgres" else None
    try:
        results += smartnoise.run(path, target.rows, reps, queries, dsn=dsn)
    except smartnoise.SmartNoiseFailed as exc:
        skipped.append(f"{sn} at {target.rows} rows: {exc}")
    return results, plans


def _qrlew_runs(target: Target, reps: int, queries: Sequence[Query],
                skipped: list[str]) -> list[dict[str, Any]]:
    """Qrlew's rewrite and run on the same PostgreSQL database, up to 1 M rows."""
    if not qrlew.available():
        skipped.append(f"qrlew_postgres: {qrlew.VENV} is missing or lacks pyqrlew "
                       "(python -m bench.qrlew --install)")
        return []
    if target.rows > qrlew.MAX_ROWS:
        skipped.append(f"qrlew_postgres at {target.rows} rows: compared up to "
                       f"{qrlew.MAX_ROWS} rows only")
        return []
    assert target.config.dsn is not None
    try:
        return qrlew.run(target.config.dsn, target.rows, reps, queries)
    except qrlew.QrlewFailed as exc:
        skipped.append(f"qrlew_postgres at {target.rows} rows: {exc}")
        return []


def _throughputs(http: Any, data_dir: Path, seconds: float) -> list[dict[str, Any]]:
    """8 clients over HTTP on the small table: fresh questions (each planned, charged,
    run and noised) and repeated ones (each from the answer cache)."""
    small = next(q for q in QUERIES if q.name == "count_all")
    out = []
    for cached in (False, True):
        with RssSampler() as rss:
            tput = http.throughput(ensure_database(TINY_ROWS, data_dir), catalog(), small.sql,
                                   clients=8, seconds=seconds, cached=cached)
        per_query = tput["seconds"] / max(tput["queries"], 1)
        out.append({
            "query": f"throughput_{small.name}", "engine": "duckdb", "rows": TINY_ROWS,
            "variant": "dpsql_http_8_clients" + ("_cached" if cached else ""),
            "median_s": per_query, "min_s": per_query, "max_s": per_query,
            "peak_rss_mb": round(rss.peak_mb, 1), "reps": tput["queries"],
            "queries_per_s": tput["queries_per_s"], "cached": cached,
        })
    return out


def _key(record: dict[str, Any]) -> tuple[Any, ...]:
    return (record["query"], record["engine"], record["rows"], record["variant"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=parse_sizes, default=None,
                        help="comma-separated sizes, e.g. 1e6,1e7 (default)")
    parser.add_argument("--reps", type=int, default=None, help="timed repetitions (default 5)")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help=f"comma-separated subset of {','.join(ENGINES)} (default: both; "
                        "postgres is skipped with a message when the server is unreachable)")
    parser.add_argument("--pg-dsn", default=pgdata.ADMIN_DSN,
                        help="PostgreSQL admin DSN used to create the benchmark databases "
                        "(default $DPSQL_BENCH_PG or the local server as postgres)")
    parser.add_argument("--pg-prefix", default=pgdata.PREFIX,
                        help="PostgreSQL databases are <prefix>_<rows>, the reader <prefix>_reader")
    parser.add_argument("--variants", default=None,
                        help=f"comma-separated subset of {','.join(VARIANTS)} "
                        "(default: all available)")
    parser.add_argument("--tiny", action="store_true",
                        help=f"{TINY_ROWS} rows, 1 repetition: the smoke test inside `make test`")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ROWS} rows, {QUICK_REPS} repetitions, every variant: "
                        "`make bench-quick`, a few minutes")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--queries", default=None,
                        help="comma-separated subset of the suite's query names (default: all)")
    parser.add_argument("--append", action="store_true",
                        help="merge into --out: records of the same (query, engine, rows, "
                        "variant) are replaced, others kept (e.g. 10 M rows on one engine "
                        "after a 1 M run of both)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)

    sizes = args.rows or ([TINY_ROWS] if args.tiny else [QUICK_ROWS] if args.quick
                          else parse_sizes("1e6,1e7"))
    reps = args.reps or (1 if args.tiny else QUICK_REPS if args.quick else 5)
    engines = args.engines.split(",")
    if set(engines) - set(ENGINES):
        parser.error(f"--engines {args.engines}: choose from {','.join(ENGINES)}")
    variants = args.variants.split(",") if args.variants else list(VARIANTS)
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {','.join(VARIANTS)}")

    skipped: list[str] = []
    if "postgres" in engines:
        reason = pgdata.unreachable_reason(args.pg_dsn)
        if reason is not None:
            engines.remove("postgres")
            print(f"bench: PostgreSQL is not reachable ({reason}); skipping the postgres "
                  "variants. Start it, or pass --engines duckdb.", file=sys.stderr)
    http = _http_variant() if "dpsql_http" in variants else None
    if "dpsql_http" in variants and http is None:
        skipped.append("dpsql_http: bench.http_variant (or the app it starts) does not import")
    for kind, variant in (("pandas", "smartnoise_pandas"), ("postgres", "smartnoise_postgres")):
        if variant in variants and (kind == "pandas" or "postgres" in engines) \
                and not smartnoise.available(kind):
            skipped.append(f"{variant}: {smartnoise.VENV} is missing or lacks its packages "
                           "(python -m bench.smartnoise --install)")

    now_planned, refused = split_pending(catalog())
    queries = (*QUERIES, *now_planned)
    if args.queries:
        wanted = args.queries.split(",")
        unknown_queries = set(wanted) - {q.name for q in queries}
        if unknown_queries:
            parser.error(f"unknown queries {sorted(unknown_queries)}")
        queries = tuple(q for q in queries if q.name in wanted)
    results: list[dict[str, Any]] = []
    plan_s: dict[str, list[float]] = {}
    for rows in sizes:
        path, targets = targets_for(rows, engines, args.data_dir, args.pg_dsn, args.pg_prefix)
        for target in targets:
            records, plans = _engine_runs(target, path, variants, reps, http, queries, skipped)
            results += records
            for name, s in plans.items():
                plan_s.setdefault(name, []).append(s)
    results += noise_cost(reps=reps)
    if http is not None:
        results += _throughputs(http, args.data_dir,
                                1.0 if args.tiny else QUICK_THROUGHPUT_S if args.quick else 5.0)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.append and args.out.exists():
        ours = {_key(r) for r in results}
        kept = [r for r in json.loads(args.out.read_text(encoding="utf-8"))
                if _key(r) not in ours]
        results = kept + results
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    plan_ms = {k: statistics.median(v) for k, v in plan_s.items()}
    print(format_table(results, plan_ms, queries, refused))
    print(report.peak_memory(results))
    print("issue #25's targets:")
    print(report.format_targets(results))
    for s in skipped:
        print(f"skipped {s}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
