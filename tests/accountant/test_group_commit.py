"""Group commit (accountant/ledger/batch.py): charges that arrive while one is
being written share the next transaction, with the guarantees of one charge.

The batch is made deterministic by holding the ledger's write lock from outside
(another SQLite connection, or another PostgreSQL session locking the head row):
the first charge waits on the lock inside its transaction while the others queue
behind it in the process; once the lock is released they go in one batch.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

import psycopg
import pytest

from accountant import Accounting, Budget, BudgetExhausted, cost_of, open_ledger

WAITING = 7  # charges queued behind the first


@contextmanager
def _write_lock_held(url: str) -> Iterator[None]:
    """Hold the ledger's write lock from outside this ledger object."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("SELECT seq FROM head WHERE id = 1 FOR UPDATE")
        yield


def _charge_concurrently(ledger: Any, url: str, who: list[str]) -> list[Any]:
    """One thread per entry of ``who``; the first takes the write transaction while the
    lock is held elsewhere, the others queue; returns each receipt or refusal."""
    outcomes: list[Any] = [None] * len(who)

    def worker(i: int) -> None:
        try:
            outcomes[i] = ledger.charge(who[i], cost_of(Accounting.PURE, Fraction(1, 10), 0),
                                        query_id=f"q{i}", sql="SELECT COUNT(*) FROM t",
                                        detail={"i": i})
        except BudgetExhausted as exc:
            outcomes[i] = exc

    with _write_lock_held(url):
        first = threading.Thread(target=worker, args=(0,))
        first.start()
        deadline = time.monotonic() + 10
        committer = None
        while committer is None or not committer._writing:  # the first is writing
            assert time.monotonic() < deadline
            committer = ledger._committer
            time.sleep(0.01)
        rest = [threading.Thread(target=worker, args=(i,)) for i in range(1, len(who))]
        for t in rest:
            t.start()
        while len(committer._queue) < len(rest):  # every other charge waits in the queue
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert all(o is None for o in outcomes)  # nothing answered before a commit
    for t in [first, *rest]:
        t.join(timeout=30)
    return outcomes


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Any]:
    opened = open_ledger(ledger_url, Accounting.PURE)
    yield opened
    opened.close()




def test_queued_charges_share_one_transaction(ledger: Any, ledger_url: str) -> None:
    for name in ("alice", "bob"):
        ledger.set_grant(name, Budget.of(1.0, 0), None, actor="olivia", reason="seed")
    before = ledger._committer.batches if ledger._committer else 0
    who = ["alice", "bob"] * ((WAITING + 1) // 2)
    outcomes = _charge_concurrently(ledger, ledger_url, who)
    # the first charge alone, then all the queued ones together
    assert ledger._committer.batches - before == 2
    seqs = sorted(o.seq for o in outcomes)
    assert len(set(seqs)) == len(who) and seqs == list(range(seqs[0], seqs[0] + len(who)))
    # durable: a fresh ledger object (a new connection) sees every charge answered
    again = open_ledger(ledger_url, Accounting.PURE)
    try:
        for name in ("alice", "bob"):
            assert again.status(name).spent.epsilon == Fraction(len(who) // 2, 10)
        assert again.verify().ok
    finally:
        again.close()


def test_a_refusal_inside_a_batch_refuses_that_charge_only(ledger: Any, ledger_url: str) -> None:
    """Room for 5 charges of 0.1 among 8 in one batch: exactly 5 pass, in order,
    each checked against the ones before it in the same transaction."""
    ledger.set_grant("alice", Budget.of(0.5, 0), None, actor="olivia", reason="seed")
    outcomes = _charge_concurrently(ledger, ledger_url, ["alice"] * (WAITING + 1))
    refused = [o for o in outcomes if isinstance(o, BudgetExhausted)]
    charged = [o for o in outcomes if not isinstance(o, BudgetExhausted)]
    assert len(charged) == 5 and len(refused) == 3
    assert {o.which for o in refused} == {"analyst"}
    assert ledger.status("alice").spent.epsilon == Fraction(1, 2)
    # each receipt shows the budget as it stood just after its own charge
    assert sorted(o.status.spent.epsilon for o in charged) == [Fraction(k, 10)
                                                                for k in range(1, 6)]
    assert ledger.verify().ok


def test_a_failed_batch_is_written_again_one_request_at_a_time() -> None:
    """A batch that raises committed nothing: each request is run again alone, so the
    error reaches the request that caused it and the others are written; a request the
    failed run had already settled is not run twice."""
    from accountant.ledger.batch import GroupCommit, Pending

    runs: list[list[str]] = []

    def run(batch: Any) -> None:
        runs.append([p.request for p in batch])
        if batch[0].request == "settled-then-raises":
            batch[0].succeed("once")
            raise RuntimeError("after the commit")
        if any(p.request == "bad" for p in batch):
            raise ValueError("bad request")
        for p in batch:
            p.succeed(p.request.upper())

    committer: GroupCommit[str] = GroupCommit(run)
    batch = [Pending(r) for r in ("a", "bad", "b")]
    committer._write(batch)
    assert runs == [["a", "bad", "b"], ["a"], ["bad"], ["b"]]
    assert [batch[0].outcome(), batch[2].outcome()] == ["A", "B"]
    with pytest.raises(ValueError, match="bad request"):
        batch[1].outcome()

    runs.clear()
    settled = [Pending("settled-then-raises"), Pending("c")]
    committer._write(settled)
    assert runs == [["settled-then-raises", "c"], ["c"]]
    assert [p.outcome() for p in settled] == ["once", "C"]
