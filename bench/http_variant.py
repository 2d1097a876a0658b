"""The ``dpsql_http`` variant: dpsql end to end over real HTTP.

Starts the real app (``proxy.app.create_app``) under uvicorn on a loopback port
in a background thread of this process, with a ``dpsql.yaml`` written to a
temporary folder (the benchmark's metadata, a fresh SQLite ledger, a budget too
large to run out), and times ``POST /v1/query`` from an httpx client with
keep-alive: parse, rewrite, charge, run, noise, respond.

Each request asks for a slightly different ε, so the answer cache (same SQL, ε,
δ → same answer, free) never serves a timed request.
"""

from __future__ import annotations

import hashlib
import secrets
import socket
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
import uvicorn
import yaml

from proxy.app import create_app
from proxy.config import EngineConfig, load_config
from rewriter import Catalog

from .measure import Timing
from .suite import Query

__all__ = ["asker", "engine_section", "run", "serve", "throughput"]

_EPSILON = 0.5
_BUDGET_EPSILON = 1_000_000.0


def engine_section(target: Path | EngineConfig) -> dict[str, Any]:
    """The ``engine:`` section for a DuckDB file or any engine configuration."""
    if isinstance(target, Path):
        target = EngineConfig(kind="duckdb", database=target.resolve(), statement_timeout_s=600)
    return target.model_dump(mode="json", exclude_none=True)


def _document(
    target: Path | EngineConfig, ledger: Path, catalog: Catalog, key: str
) -> dict[str, Any]:
    tables = {name: t.model_dump(mode="json", exclude_defaults=True)
              for name, t in catalog.tables.items()}
    return {
        "engine": engine_section(target),
        "ledger": {"url": f"sqlite:///{ledger}"},
        "privacy": {
            # pure: the join groups by a public column through partition selection,
            # which zCDP accounting does not answer yet
            "accounting": "pure",
            "default_query_epsilon": 0.1,
            "default_query_delta": 1.0e-7,
            "max_query_epsilon": 1.0,
            "max_query_delta": 1.0e-6,
            "dataset_budget": {"epsilon": _BUDGET_EPSILON, "delta": 0.5},
        },
        "tables": tables,
        "analysts": {
            "bench": {
                "role": "analyst",
                "api_key_sha256": hashlib.sha256(key.encode()).hexdigest(),
                "budget": {"epsilon": _BUDGET_EPSILON, "delta": 0.5},
            }
        },
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(target: Path | EngineConfig, catalog: Catalog) -> Iterator[httpx.Client]:
    """Run the app on a loopback port; yield a client already authenticated.

    ``target`` is a DuckDB file or an ``engine:`` configuration (e.g. postgres).
    """
    key = "bench_" + secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="dpsql-bench-") as tmp:
        config_path = Path(tmp) / "dpsql.yaml"
        document = _document(target, Path(tmp) / "ledger.db", catalog, key)
        config_path.write_text(yaml.safe_dump(document), encoding="utf-8")
        app = create_app(load_config(config_path))
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
            lifespan="on",
        ))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the dpsql app did not start; see the log above")
            time.sleep(0.01)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600,
                              headers={"Authorization": f"Bearer {key}"}) as client:
                yield client
        finally:
            server.should_exit = True
            thread.join(timeout=30)


class _Epsilons:
    """Distinct ε per request (thread-safe), so no answer comes from the cache."""

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def next(self) -> float:
        with self._lock:
            self._n += 1
            return _EPSILON + self._n * 1e-6


def _ask(client: httpx.Client, sql: str, epsilon: float) -> None:
    response = client.post("/v1/query", json={"sql": sql, "epsilon": epsilon})
    if response.status_code != 200:
        raise RuntimeError(f"POST /v1/query -> {response.status_code}: {response.text[:300]}")


@contextmanager
def asker(
    target: Path | EngineConfig, catalog: Catalog
) -> Iterator[Callable[[str], None]]:
    """A running app and a function that asks it one query (fresh ε each time)."""
    eps = _Epsilons()
    with serve(target, catalog) as client:
        yield lambda sql: _ask(client, sql, eps.next())


def run(
    database: Path, rows: int, queries: Sequence[Query], catalog: Catalog, reps: int
) -> list[dict[str, Any]]:
    """Time each query end to end; one ``results.json`` record per query."""
    eps = _Epsilons()
    timings = {q.name: Timing(q.name, "duckdb", rows, "dpsql_http") for q in queries}
    with serve(database, catalog) as client:
        for q in queries:
            _ask(client, q.sql, eps.next())
        for _ in range(reps):
            for q in queries:
                timings[q.name].measure(lambda q=q: _ask(client, q.sql, eps.next()))
    return [t.record() for t in timings.values()]


# One client process: `threads` keep-alive clients asking until the deadline; prints
# how many answers it got. Clients run outside the server's process, as real ones do,
# so their own Python work does not compete with the server for its interpreter lock.
_CLIENT = """
import sys, threading, time, httpx
base, key, sql, seconds, threads, cached, first = sys.argv[1:8]
seconds, threads, first = float(seconds), int(threads), int(first)
counts = [0] * threads
def work(t):
    n = 0
    with httpx.Client(base_url=base, timeout=600,
                      headers={"Authorization": "Bearer " + key}) as c:
        while time.monotonic() < stop:
            eps = 0.5 if cached == "1" else 0.5 + (first + t * 10**6 + n) * 1e-12
            r = c.post("/v1/query", json={"sql": sql, "epsilon": eps})
            if r.status_code != 200:
                raise SystemExit(f"POST /v1/query -> {r.status_code}: {r.text[:300]}")
            n += 1
    counts[t] = n
began = time.monotonic()
stop = began + seconds
ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print(sum(counts), time.monotonic() - began)
"""


def throughput(
    database: Path, catalog: Catalog, sql: str, clients: int = 8, seconds: float = 3.0,
    cached: bool = False, processes: int = 2,
) -> dict[str, Any]:
    """Queries per second answered with ``clients`` concurrent keep-alive clients,
    spread over ``processes`` client processes.

    ``cached``: every request repeats the first one (same SQL and ε), so each is
    answered from the answer cache, free: the throughput of repeated questions.
    Otherwise each asks a fresh ε, so each is planned, charged, run and noised.
    """
    with serve(database, catalog) as first:
        _ask(first, sql, _EPSILON)
        key = str(first.headers["Authorization"]).removeprefix("Bearer ")
        per = [clients // processes + (i < clients % processes) for i in range(processes)]
        start = time.monotonic()
        running = [
            subprocess.Popen(
                [sys.executable, "-c", _CLIENT, str(first.base_url), key, sql, str(seconds),
                 str(n), "1" if cached else "0", str(i * 10**9)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i, n in enumerate(per) if n
        ]
        total, rate = 0, 0.0
        for proc in running:
            out, err = proc.communicate(timeout=seconds + 600)
            if proc.returncode != 0:
                raise RuntimeError(f"a throughput client failed: {err.strip()[-300:]}")
            count, window = out.split()
            # each process times its own window (from its clients' start, not its
            # interpreter's): the rates add up
            total, rate = total + int(count), rate + int(count) / float(window)
        elapsed = time.monotonic() - start
    return {"query": sql, "clients": clients, "queries": total, "seconds": elapsed,
            "queries_per_s": rate, "cached": cached}
