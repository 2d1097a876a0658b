"""SIGKILL the server mid-stream: every answer a client received has a committed charge.

A real `dpsql serve` process answers a stream of distinct queries; the test
kills it with SIGKILL (no shutdown hooks, no flushing) after a random number
of answers, opens the ledger directly and checks that each query_id the
client got a 200 for is a charge entry in the ledger, and that the hash chain
verifies. Three kills, each at a random point, on the same ledger.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from accountant import Accounting, open_ledger
from proxy.demo import build_demo_database, demo_config_yaml
from tests.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
KEY = "dpsql_alice_key"
ROUNDS = 3
START_TIMEOUT_S = 30.0



@pytest.fixture
def deployment(tmp_path: Path) -> Path:
    database = tmp_path / "demo.duckdb"
    build_demo_database(database, people=500)
    keys = {"alice": KEY, "olivia": "dpsql_olivia_key", "carl": "dpsql_carl_key"}
    document = yaml.safe_load(demo_config_yaml(str(database), keys, ledger_path="ledger.db"))
    document["privacy"]["accounting"] = "pure"
    document["privacy"]["dataset_budget"] = {"epsilon": 1.0e6, "delta": 1.0e-5}
    document["analysts"]["alice"]["budget"] = {"epsilon": 1.0e6, "delta": 1.0e-6}
    config = tmp_path / "dpsql.yaml"
    config.write_text(yaml.safe_dump(document))
    return config


def serve(config: Path, port: int) -> subprocess.Popen[bytes]:
    log = config.parent / "server.log"
    with log.open("ab") as sink:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "proxy.cli", "serve", "--config", str(config),
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=sink,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the server did not start within 30 s")


def stream(port: int, first: int, answered: list[str], stop: threading.Event,
           problems: list[str]) -> None:
    """Send distinct queries one after another; record each query_id answered with 200."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10,
                      headers={"Authorization": f"Bearer {KEY}"}) as client:
        for i in range(first, first + 10_000):
            if stop.is_set():
                return
            sql = f"SELECT COUNT(*) AS n FROM employees WHERE age > -{i}"
            try:
                response = client.post("/v1/query", json={"sql": sql, "epsilon": 0.01, "delta": 0})
            except httpx.TransportError:
                return  # the server is gone
            if response.status_code != 200:
                problems.append(f"{response.status_code} {response.text}")
                return
            answered.append(response.json()["query_id"])


def test_every_released_answer_has_a_committed_charge(deployment: Path) -> None:
    rng = random.Random()
    answered: list[str] = []
    began = time.monotonic()
    for round_ in range(ROUNDS):
        port = free_port()
        process = serve(deployment, port)
        before, kill_after = len(answered), rng.randint(10, 40)
        stop, problems = threading.Event(), []
        client = threading.Thread(
            target=stream, args=(port, round_ * 10_000, answered, stop, problems), daemon=True)
        client.start()
        try:
            deadline = time.monotonic() + 30
            while len(answered) - before < kill_after and time.monotonic() < deadline:
                assert client.is_alive() or len(answered) - before >= kill_after, problems
                time.sleep(0.002)
            os.kill(process.pid, signal.SIGKILL)  # mid-stream: a request is usually in flight
        finally:
            process.kill()
            process.wait(timeout=10)
            stop.set()
            client.join(timeout=15)
        assert len(answered) - before >= kill_after, "the client stalled before the kill"
        ledger = open_ledger(f"sqlite:///{deployment.parent / 'ledger.db'}", Accounting.PURE)
        try:
            charged = {e.query_id for e in ledger.entries("alice") if e.kind == "charge"}
            missing = [q for q in answered if q not in charged]
            assert not missing, f"answers released without a committed charge: {missing}"
            report = ledger.verify()
            assert report.ok, report.reason
        finally:
            ledger.close()
    print(f"\n{len(answered)} answers over {ROUNDS} kills in {time.monotonic() - began:.1f} s")
