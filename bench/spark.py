"""Spark against DuckDB, and many stateless proxies in front of one Spark engine.

Part 1 (``--rows``, default 1e7): the benchmark's ``visits`` data (bench/data.py) as
the DuckDB file dpsql opens read-only, and the same rows as Parquet read by Spark
local mode (``local[2]``, this machine's two cores). Every suite query in three
variants on each engine — ``raw`` (the analyst's SQL, transpiled by sqlglot),
``floor`` (per-unit partial aggregation with clamping, no caps) and ``dpsql`` (the
rewritten SQL, keyed-hash bounding on Spark) — through each engine's own dpsql
Engine; median of ``--reps`` runs after a warm-up; Spark/DuckDB ratios printed.

Part 2 (``--proxies``, default 1,2,4): one Spark Connect server (``local[2]``), one
PostgreSQL ledger, and N ``dpsql serve`` processes (separate processes, no state
shared but the ledger), driven by ``--clients`` concurrent HTTP clients spread over
the proxies for ``--seconds``; answered queries per second, and the CPU each party
used (the Spark JVM, the proxies, PostgreSQL) to say which one saturated.

    python -m bench.spark --rows 1e7 --proxies 1,2,4
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from .data import DATA_DIR, ensure_database, parse_sizes
from .suite import QUERIES, catalog

__all__ = ["connect_server", "parquet_copy", "proxies", "spark_home"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "spark.json"
CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
KEY = "dpsql_bench_spark_key"


def spark_home() -> Path:
    """The Spark the pip wheel ships: jars, bin/spark-submit, sbin/start-connect-server.sh."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _probe(url: str) -> None:
    """One query through a Connect session, leaving this process as it was: creating
    a remote session sets SPARK_CONNECT_MODE_ENABLED in os.environ for good, after
    which every local-master session this process opens fails (PySparkRuntimeError)."""
    from pyspark.sql import SparkSession

    before = {k: os.environ.get(k) for k in _CONNECT_ENV}
    try:
        session = SparkSession.builder.remote(url).create()
        try:
            session.sql("SELECT 1").collect()
        finally:
            session.stop()
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_CONNECT_ENV = ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE", "SPARK_LOCAL_REMOTE")


@contextmanager
def connect_server(folder: Path, *, master: str = "local[2]", memory: str = "1g",
                   port: int | None = None, start_timeout_s: float = 120
                   ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Spark Connect server in the foreground of a child process (spark-submit of
    the connect server class, as sbin/start-connect-server.sh does without its pid
    files); yields (sc:// URL, process) once it answers, stops it afterwards."""

    port = port or _free_port()
    log = folder / "spark-connect.log"
    env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1"}
    command = [str(spark_home() / "bin" / "spark-submit"), "--class", CONNECT_CLASS,
               "--name", "dpsql-connect", "--master", master, "--driver-memory", memory,
               "--conf", f"spark.connect.grpc.binding.port={port}",
               "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
               "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=8",
               "--conf", f"spark.local.dir={folder}",
               "--conf", f"spark.sql.warehouse.dir={folder / 'warehouse'}", "spark-internal"]
    with log.open("ab") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    url = f"sc://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the Spark Connect server exited: {log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
                _probe(url)
                break
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    raise RuntimeError("the Spark Connect server did not answer in time") from None
                time.sleep(0.5)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def parquet_copy(database: Path, folder: Path) -> dict[str, dict[str, str]]:
    """Every table of a DuckDB file as Parquet (reused while newer than the file);
    the `engine.sources` section that registers them."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    sources = {}
    with duckdb.connect(str(database), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = 'main'").fetchall()]
        for name in names:
            path = folder / f"{name}.parquet"
            if not path.exists() or path.stat().st_mtime < database.stat().st_mtime:
                con.execute(f"COPY \"{name}\" TO '{path}' (FORMAT parquet)")
            sources[name] = {"path": str(path), "format": "parquet"}
    return sources


# --- part 1: Spark local mode against DuckDB -----------------------------------------


def _time(run: Callable[[], Any], reps: int) -> dict[str, float]:
    run()  # warm-up: JIT, file cache, plan cache
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}


def engines_compared(rows: int, reps: int, data_dir: Path,
                     only: Sequence[str] = ()) -> dict[str, Any]:
    import sqlglot

    from proxy.config import SparkSource
    from proxy.engines import DuckDBEngine
    from proxy.engines.spark import SparkEngine
    from rewriter import plan_query

    database = ensure_database(rows, data_dir)
    sources = parquet_copy(database, data_dir / f"visits_{rows}_parquet")
    duck = DuckDBEngine(database, statement_timeout_s=3600)
    spark = SparkEngine(sources={n: SparkSource.model_validate(s) for n, s in sources.items()},
                        master="local[2]", statement_timeout_s=3600,
                        conf={"spark.driver.memory": "2g", "spark.sql.shuffle.partitions": "8",
                              "spark.sql.warehouse.dir": str(data_dir / "spark-warehouse")})
    cat = catalog()
    out: dict[str, Any] = {}
    try:
        for query in QUERIES:
            if only and query.name not in only:
                continue
            plan = plan_query(query.sql, cat)
            variants: dict[str, Callable[[str], str]] = {
                "raw": lambda d, q=query: sqlglot.transpile(q.sql, write=d)[0],
                "floor": lambda d, q=query: sqlglot.transpile(q.floor_sql or q.sql, write=d)[0],
                "dpsql": lambda d, p=plan: p.sql(d),
            }
            out[query.name] = {}
            for variant, sql_for in variants.items():
                for name, engine in (("duckdb", duck), ("spark", spark)):
                    timing = _time(lambda e=engine, s=sql_for: e.execute(s(e.dialect)), reps)
                    out[query.name][f"{name}_{variant}"] = timing
                    print(f"  {query.name:<22} {variant:<6} {name:<7} "
                          f"{timing['median_ms']:9.1f} ms", file=sys.stderr, flush=True)
    finally:
        duck.close()
        spark.close()
    return out


def _ratio_table(results: dict[str, Any]) -> list[str]:
    header = ["query", "variant", "duckdb ms", "spark ms", "spark/duckdb"]
    lines = [header]
    for query, cells in results.items():
        for variant in ("raw", "floor", "dpsql"):
            d = cells[f"duckdb_{variant}"]["median_ms"]
            s = cells[f"spark_{variant}"]["median_ms"]
            lines.append([query, variant, f"{d:.1f}", f"{s:.1f}", f"{s / d:.1f}x"])
        for engine in ("duckdb", "spark"):
            f = cells[f"{engine}_floor"]["median_ms"]
            p = cells[f"{engine}_dpsql"]["median_ms"]
            lines.append([query, f"dpsql/floor on {engine}", "", "", f"{p / f:.2f}x"])
    return _aligned(lines)


def _aligned(table: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            for row in table]


# --- part 2: N stateless proxies, one Spark Connect server, one PostgreSQL ledger ----------


def deployment(folder: Path, connect_url: str, sources: dict[str, Any], ledger_url: str,
               key_file: Path, *, epsilon: float, checkpoints: Path) -> Path:
    """One proxy's dpsql.yaml: the benchmark's tables on the Spark Connect server,
    the shared ledger, one analyst whose budget holds `epsilon`. Every proxy of a
    deployment names the same signing key and checkpoint file (the ledger's)."""
    tables = {name: t.model_dump(mode="json", exclude_defaults=True)
              for name, t in catalog().tables.items()}
    document = {
        "engine": {"kind": "spark", "connect_url": connect_url, "sources": sources,
                   "statement_timeout_s": 600},
        "ledger": {"url": ledger_url, "checkpoints": {"key_file": str(key_file),
                                                      "file": str(checkpoints)}},
        "privacy": {"accounting": "pure", "max_query_epsilon": 10.0,
                    "dataset_budget": {"epsilon": max(epsilon, 1.0) * 10, "delta": 1e-3}},
        "tables": tables,
        "analysts": {"alice": {"role": "analyst",
                               "api_key_sha256": hashlib.sha256(KEY.encode()).hexdigest(),
                               "budget": {"epsilon": epsilon, "delta": 1e-6}}},
    }
    path = folder / "dpsql.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@contextmanager
def proxies(configs: Sequence[Path], start_timeout_s: float = 180
            ) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """One `dpsql serve` process per config, each on its own port; yields (url, process)."""
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for config in configs:
            port = _free_port()
            log = config.parent / "serve.log"
            with log.open("ab") as sink:
                process = subprocess.Popen(
                    [sys.executable, "-m", "proxy.cli", "serve", "--config", str(config),
                     "--host", "127.0.0.1", "--port", str(port)],
                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=sink)
            started.append((f"http://127.0.0.1:{port}", process))
        deadline = time.monotonic() + start_timeout_s
        for (url, process), config in zip(started, configs, strict=True):
            while True:
                if process.poll() is not None:
                    log = (config.parent / "serve.log").read_text()[-3000:]
                    raise RuntimeError(f"a proxy exited: {log}")
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("a proxy did not start in time")
                time.sleep(0.2)
        yield started
    finally:
        for _, process in started:
            process.terminate()
        for _, process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of the processes and their children so far (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    return total


def _descendants(pid: int) -> list[int]:
    out = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in children:
        out += _descendants(int(child))
    return out


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def drive(urls: Sequence[str], clients: int, seconds: float, first: int = 0
          ) -> tuple[int, int, list[float]]:
    """`clients` threads, spread over `urls`, each sending distinct queries (a new
    WHERE literal each: the answer cache never serves one) for `seconds`; returns
    (answered, refused, latencies in ms)."""
    answered, refused, latencies = [0], [0], []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        url = urls[k % len(urls)]
        with httpx.Client(base_url=url, timeout=600,
                          headers={"Authorization": f"Bearer {KEY}"}) as http:
            i = first + k * 1_000_000
            while time.monotonic() < stop:
                i += 1
                sql = f"SELECT city, COUNT(*) AS n FROM visits WHERE amount > -{i} GROUP BY city"
                start = time.perf_counter()
                response = http.post("/v1/query", json={"sql": sql, "epsilon": 0.001})
                ms = (time.perf_counter() - start) * 1000
                with lock:
                    if response.status_code == 200:
                        answered[0] += 1
                        latencies.append(ms)
                    else:
                        refused[0] += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answered[0], refused[0], latencies


def scaling(rows: int, counts: Sequence[int], clients: int, seconds: float,
            data_dir: Path) -> list[dict[str, Any]]:
    from accountant.ledger.checkpoints import load_key
    from tests.accountant.conftest import postgres_url
    from tests.pg import throwaway_database

    database = ensure_database(rows, data_dir)
    sources = parquet_copy(database, data_dir / f"visits_{rows}_parquet")
    out = []
    with tempfile.TemporaryDirectory(prefix="dpsql-spark-bench-") as tmp:
        folder = Path(tmp)
        key = folder / "signing.key"
        load_key(key, create=True)
        with connect_server(folder, memory="2g") as (url, server):
            for n in counts:
                with throwaway_database("dpsql_bench_scale") as (admin_dsn, _):
                    configs = []
                    for i in range(n):
                        sub = folder / f"n{n}_p{i}"
                        sub.mkdir()
                        configs.append(deployment(
                            sub, url, sources, postgres_url(admin_dsn), key, epsilon=1e6,
                            checkpoints=folder / f"n{n}_checkpoints.jsonl"))
                    with proxies(configs) as started:
                        urls = [u for u, _ in started]
                        drive(urls, min(clients, 2 * n), 5)  # warm-up every proxy
                        groups = {"spark": _descendants(server.pid),
                                  "proxies": [p.pid for _, p in started],
                                  "postgres": _postgres_pids()}
                        before = {k: cpu_seconds(v) for k, v in groups.items()}
                        wall = time.monotonic()
                        answered, refused, latencies = drive(urls, clients, seconds, 10**9)
                        wall = time.monotonic() - wall
                        used = {k: (cpu_seconds(v) - before[k]) / wall for k, v in groups.items()}
                row = {"proxies": n, "clients": clients, "seconds": round(wall, 1),
                       "answered": answered, "refused": refused,
                       "queries_per_s": round(answered / wall, 2),
                       "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
                       "cpu_cores": {k: round(v, 2) for k, v in used.items()}}
                print(f"  N={n}: {row['queries_per_s']} q/s, cpu {row['cpu_cores']}",
                      file=sys.stderr, flush=True)
                out.append(row)
    return out


def _scaling_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [["proxies", "q/s", "p50 ms", "spark cores", "proxy cores", "postgres cores"]]
    for r in rows:
        c = r["cpu_cores"]
        lines.append([str(r["proxies"]), f"{r['queries_per_s']:.2f}", f"{r['p50_ms']}",
                      f"{c['spark']:.2f}", f"{c['proxies']:.2f}", f"{c['postgres']:.2f}"])
    return _aligned(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spark",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=parse_sizes, default=parse_sizes("1e7"))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--proxies", default="1,2,4")
    parser.add_argument("--scaling-rows", type=parse_sizes, default=parse_sizes("1e6"))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--skip-engines", action="store_true")
    parser.add_argument("--queries", default="", help="comma-separated suite names (all)")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--note", default="", help="what else ran on the machine")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count(),
                                          "load_average_at_start": os.getloadavg()},
                              "note": args.note}
    if args.out.exists():
        report = {**json.loads(args.out.read_text()), **report}
    if not args.skip_engines:
        report.setdefault("engines", {})
        only = [q for q in args.queries.split(",") if q]
        for rows in args.rows:
            print(f"Spark local[2] vs DuckDB, {rows:,} rows", file=sys.stderr)
            measured = engines_compared(rows, args.reps, args.data_dir, only)
            report["engines"][str(rows)] = {**report["engines"].get(str(rows), {}), **measured}
    if not args.skip_scaling:
        counts = [int(x) for x in args.proxies.split(",")]
        rows = args.scaling_rows[0]
        print(f"proxies in front of one Spark Connect server, {rows:,} rows", file=sys.stderr)
        report["scaling"] = {"rows": rows, "runs": scaling(rows, counts, args.clients,
                                                           args.seconds, args.data_dir)}
    report["machine"]["load_average_at_end"] = os.getloadavg()
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for rows, results in report.get("engines", {}).items():
        print(f"\nSpark local[2] vs DuckDB, {int(rows):,} rows (median ms of {args.reps})")
        print("\n".join(_ratio_table(results)))
    if "scaling" in report:
        print(f"\nN stateless proxies, one Spark Connect server (local[2]), one PostgreSQL "
              f"ledger; {args.clients} clients, {report['scaling']['rows']:,} rows")
        print("\n".join(_scaling_table(report["scaling"]["runs"])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
