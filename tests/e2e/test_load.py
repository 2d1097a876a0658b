"""A bounded load test on loopback: 32 concurrent clients, a fixed number of
requests each. The only refusals are budget_exhausted, every answered fresh
query is charged exactly once in the ledger, spending never passes the grant,
and the ledger verifies afterwards.

The test is bound by request counts, not by wall time: on a slow machine the
clients and the server share one process and two cores, and a time-bound loop
may end before the budget is spent."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx

from .conftest import KEYS

CLIENTS = 32
REQUESTS_PER_CLIENT = 6
CACHED_SQL = "SELECT dept, COUNT(*) FROM employees GROUP BY dept"


def test_32_concurrent_clients(live_url: str) -> None:
    alice = {"Authorization": f"Bearer {KEYS['alice']}"}
    carl = {"Authorization": f"Bearer {KEYS['carl']}"}
    outcomes: Counter[str] = Counter()
    fresh_answers: list[str] = []
    lock = threading.Lock()
    with httpx.Client(base_url=live_url, headers=alice, timeout=60) as http:
        warm = http.post("/v1/query", json={"sql": CACHED_SQL, "epsilon": 0.5})
        assert warm.status_code == 200, warm.text
    failures: list[BaseException] = []

    def client(n: int) -> None:
        try:
            with httpx.Client(base_url=live_url, headers=alice, timeout=60) as http:
                for i in range(REQUESTS_PER_CLIENT):
                    # half the clients repeat one query (served from the cache),
                    # half send queries never seen before (each one charged)
                    sql = (CACHED_SQL if n % 2
                           else f"SELECT SUM(age) FROM employees WHERE age > {-(n * 1000 + i)}")
                    response = http.post("/v1/query", json={"sql": sql, "epsilon": 0.5})
                    body = response.json()
                    outcome = (str(response.status_code) if response.status_code == 200
                               else body["error"]["code"])
                    with lock:
                        outcomes[outcome] += 1
                        if outcome == "200" and not body["cached"]:
                            fresh_answers.append(body["query_id"])
        except BaseException as error:  # surfaced below; a dead thread must fail the test
            failures.append(error)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.monotonic() - started
    assert not failures, failures
    assert sum(outcomes.values()) == CLIENTS * REQUESTS_PER_CLIENT, outcomes
    assert set(outcomes) <= {"200", "budget_exhausted"}, outcomes
    # every odd client is served from the cache, free, whatever the budget
    assert outcomes["200"] >= CLIENTS // 2 * REQUESTS_PER_CLIENT
    # 96 fresh queries at ε = 0.5 cannot fit a demo grant of ε = 3
    assert outcomes["budget_exhausted"] > 0

    with httpx.Client(base_url=live_url, timeout=60) as http:
        budget = http.get("/v1/budget", headers=alice).json()
        assert budget["spent"]["epsilon"] <= budget["granted"]["epsilon"]
        charges = http.get("/v1/ledger", headers=carl,
                           params={"analyst": "alice", "kind": "charge", "limit": 1000}).json()
        charged_ids = [entry["query_id"] for entry in charges["entries"]]
        # the warm-up query plus each fresh answer, each exactly once
        assert sorted(charged_ids) == sorted([warm.json()["query_id"], *fresh_answers])
        verify = http.get("/v1/ledger/verify", headers=carl).json()
        assert verify["ok"] is True, verify
    print(f"load: {dict(outcomes)} in {elapsed:.1f}s")
