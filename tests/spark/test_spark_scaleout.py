"""Several stateless proxies (separate `dpsql serve` processes) in front of one Spark
Connect server, sharing one PostgreSQL ledger: a race of concurrent queries across the
processes spends the analyst's budget exactly, never more.

The budget holds ten queries at ε = 0.1 (pure accounting, exact decimals); 36 distinct
queries race for it from three processes at once. Exactly ten are answered, every other
one is refused with `budget_exhausted`, and every proxy then reports ε = 1 spent."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from accountant.ledger.checkpoints import load_key
from bench.data import ensure_database
from bench.spark import KEY, connect_server, deployment, parquet_copy, proxies
from proxy.engines.spark import SparkEngine
from tests.accountant.conftest import postgres_url
from tests.pg import require_postgres, throwaway_database
from tests.sparkutil import MASTER, TEST_CONF, require_spark

PROXIES, THREADS, EACH = 3, 4, 3


@pytest.fixture(scope="module")
def connect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_spark()
    with connect_server(tmp_path_factory.mktemp("connect"), memory="768m") as (url, _):
        yield url


@pytest.mark.slow
def test_no_overspend_across_proxy_processes(connect: str, tmp_path: Path) -> None:
    require_postgres()
    sources = parquet_copy(ensure_database(2000, tmp_path / "data"), tmp_path / "parquet")
    # the proxies share the signing key and the checkpoint file, as they share the ledger
    key, checkpoints = tmp_path / "signing.key", tmp_path / "checkpoints.jsonl"
    load_key(key, create=True)
    with throwaway_database("dpsql_scaleout") as (admin_dsn, _):
        configs = []
        for i in range(PROXIES):
            folder = tmp_path / f"proxy{i}"
            folder.mkdir()
            configs.append(deployment(folder, connect, sources, postgres_url(admin_dsn), key,
                                      epsilon=1.0, checkpoints=checkpoints))
        with proxies(configs) as started:
            urls = [url for url, _ in started]
            outcomes: list[tuple[int, str]] = []
            lock = threading.Lock()
            barrier = threading.Barrier(PROXIES * THREADS)

            def race(k: int) -> None:
                with httpx.Client(base_url=urls[k % PROXIES], timeout=300,
                                  headers={"Authorization": f"Bearer {KEY}"}) as http:
                    barrier.wait()
                    for j in range(EACH):
                        sql = f"SELECT COUNT(*) AS n FROM visits WHERE amount > -{k * 100 + j}"
                        response = http.post("/v1/query", json={"sql": sql, "epsilon": 0.1})
                        body: dict[str, Any] = response.json()
                        code = "answer" if response.status_code == 200 else body["error"]["code"]
                        with lock:
                            outcomes.append((response.status_code, code))

            threads = [threading.Thread(target=race, args=(k,)) for k in range(PROXIES * THREADS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            counts = Counter(code for _, code in outcomes)
            assert counts == {"answer": 10, "budget_exhausted": PROXIES * THREADS * EACH - 10}, \
                counts
            for url in urls:
                budget = httpx.get(f"{url}/v1/budget",
                                   headers={"Authorization": f"Bearer {KEY}"}).json()
                assert budget["spent"]["epsilon"] == 1.0 and budget["remaining"]["epsilon"] == 0


@pytest.mark.slow
def test_the_servers_probe_leaves_this_process_able_to_open_a_local_master(
        connect: str, tmp_path: Path) -> None:
    """Creating a Connect session marks the whole process as Connect mode; the probe
    undoes that, or every later local-master engine here fails to open."""
    assert "SPARK_CONNECT_MODE_ENABLED" not in os.environ
    engine = SparkEngine(sources={}, master=MASTER, conf=TEST_CONF, statement_timeout_s=30)
    try:
        assert engine.execute("SELECT 1 AS one").rows == [(1,)]
    finally:
        engine.close()
