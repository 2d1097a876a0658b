"""Many threads in several processes charge at once: exactly the room is spent.

Every test runs on both backends (``ledger_url``): SQLite serialises writers
with its file lock, PostgreSQL with a row lock on the head row.
"""

import multiprocessing
import threading
import time
from collections import Counter
from datetime import datetime
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accountant import Accounting, Budget, BudgetExhausted, cost_of, open_ledger, rho_for

THREADS = 16
PROCESSES = 2
ATTEMPTS = 1000  # reservations tried in all, spread over every thread of every process


def hammer(url: str, tag: str, analysts: list[str], attempts: int, epsilon: Fraction):
    """Try ``attempts`` charges of ``epsilon`` from THREADS threads, thread t charging
    ``analysts[t % len(analysts)]``; return successes per analyst, refusals per limit,
    and the seconds taken."""
    ledger = open_ledger(url, Accounting.PURE)
    wins: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker(t: int) -> None:
        who = analysts[t % len(analysts)]
        mine, refused = 0, Counter()
        start.wait()
        for i in range(t, attempts, THREADS):
            try:
                ledger.charge(
                    who,
                    cost_of(Accounting.PURE, epsilon, 0),
                    query_id=f"{tag}-{t}-{i}",
                    sql="SELECT COUNT(*) FROM t",
                    detail={},
                )
            except BudgetExhausted as exc:
                refused[exc.which] += 1
            else:
                mine += 1
        with lock:
            wins[who] += mine
            refusals.update(refused)

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - began
    ledger.close()
    return dict(wins), dict(refusals), elapsed


def run_processes(url: str, analysts: list[str], epsilon: Fraction):
    """ATTEMPTS charges from PROCESSES processes × THREADS threads, all at once."""
    ctx = multiprocessing.get_context("spawn")
    per_process = ATTEMPTS // PROCESSES
    with ctx.Pool(PROCESSES) as pool:
        jobs = [
            pool.apply_async(hammer, (url, f"p{i}", analysts, per_process, epsilon))
            for i in range(PROCESSES)
        ]
        results = [job.get(timeout=300) for job in jobs]
    wins: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    for won, refused, _ in results:
        wins.update(won)
        refusals.update(refused)
    return wins, refusals, max(elapsed for _, _, elapsed in results)


def test_exactly_the_room_is_spent_across_threads_and_processes(ledger_url, backend):
    room = 600  # a grant of 1 at ε = 1/600 per charge; 1,000 are tried
    ledger = open_ledger(ledger_url, Accounting.PURE)
    ledger.set_grant("alice", Budget.of(1, 0), None, actor="olivia", reason="seed")
    wins, refusals, elapsed = run_processes(ledger_url, ["alice"], Fraction(1, room))
    print(f"\n{backend}: {ATTEMPTS} reservations in {elapsed:.2f} s "
          f"({ATTEMPTS / elapsed:.0f}/s, {room} charged)")
    assert wins["alice"] == room
    assert refusals == {"analyst": ATTEMPTS - room}
    assert ledger.status("alice").spent == Budget.of(1, 0)
    assert sum(1 for e in ledger.entries("alice") if e.kind == "charge") == room
    assert ledger.verify().ok
    ledger.close()


def test_dataset_budget_holds_under_concurrent_charges(ledger_url):
    """Three analysts with 3.0 each under a dataset budget of 5.0, charging 0.1 at a time:
    exactly 50 charges fit, however the 1,000 attempts interleave."""
    ledger = open_ledger(ledger_url, Accounting.PURE)
    analysts = ["alice", "bob", "chen"]
    for name in analysts:
        ledger.set_grant(name, Budget.of(3, 0), None, actor="olivia", reason="seed")
    ledger.set_dataset_budget(Budget.of(5, 0), actor="olivia", reason="cap")
    wins, refusals, _ = run_processes(ledger_url, analysts, Fraction(1, 10))
    assert sum(wins.values()) == 50
    assert all(wins[name] <= 30 for name in analysts)
    assert sum(refusals.values()) == ATTEMPTS - 50
    assert refusals["dataset"] > 0 and set(refusals) <= {"analyst", "dataset"}
    status = ledger.status("alice")
    assert status.dataset_spent == Budget.of(5, 0)
    assert status.dataset_remaining == Budget.zero()
    shares = ledger.shares()
    assert [s.analyst for s in shares] == analysts
    assert sum(s.share for s in shares) == 1
    assert all(s.share == Fraction(wins[s.analyst], 50) for s in shares)
    assert ledger.verify().ok
    ledger.close()


operations = st.lists(
    st.one_of(
        st.tuples(st.just("charge"), st.fractions(min_value=Fraction(1, 100), max_value=1)),
        st.tuples(st.just("grant"), st.fractions(min_value=0, max_value=2)),
    ),
    max_size=25,
)


@pytest.mark.parametrize("accounting", [Accounting.PURE, Accounting.ZCDP])
def test_spent_never_decreases_and_never_exceeds_the_grant(ledger_url, accounting):
    ledger = open_ledger(ledger_url, accounting)
    examples = iter(range(10**6))

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(operations)
    def run(ops):
        who = f"analyst{next(examples)}"  # a fresh analyst per example, one ledger per test
        delta = Fraction(1, 10**6)
        ledger.set_grant(who, Budget(Fraction(1), delta), None, actor="o", reason="r")
        last = ledger.status(who)
        for op, amount in ops:
            if op == "grant":
                ledger.set_grant(who, Budget(amount, delta), None, actor="o", reason="r")
            else:
                try:
                    ledger.charge(
                        who,
                        cost_of(accounting, amount, delta if accounting is Accounting.ZCDP else 0),
                        query_id="q",
                        sql="s",
                        detail={},
                        now=datetime(2026, 1, 1),
                    )
                except BudgetExhausted:
                    pass
                else:
                    now = ledger.status(who)
                    if accounting is Accounting.PURE:
                        assert now.spent.epsilon <= now.granted.epsilon
                    else:
                        assert now.spent_rho <= rho_for(now.granted.epsilon, delta)
                        assert now.spent.epsilon <= now.granted.epsilon
            now = ledger.status(who)
            assert now.spent.epsilon >= last.spent.epsilon
            assert now.spent_rho >= last.spent_rho
            last = now

    run()
    assert ledger.verify().ok
    ledger.close()


def test_concurrent_attempts_and_answers_are_all_written_in_batches(ledger_url):
    """Every request records an attempt and a fresh one stores its answer; concurrent
    ones share a transaction (group commit), the attempts still one unbroken hash
    chain, each call returning once its batch committed."""
    ledger = open_ledger(ledger_url, Accounting.PURE)
    per_thread = 40
    returned: list[int] = []
    lock = threading.Lock()

    def worker(t: int) -> None:
        for i in range(per_thread):
            attempt = ledger.record_attempt(analyst=f"a{t % 3}", endpoint="/v1/query",
                                            outcome="cached", sql=f"SELECT {t}, {i}",
                                            query_id=f"q-{t}-{i}")
            ledger.store_answer(f"a{t % 3}", f"key-{t}-{i}", f"q-{t}-{i}", {"n": i})
            with lock:
                returned.append(attempt.seq)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    stored = ledger.attempts()
    assert sorted(returned) == [a.seq for a in stored] == list(range(1, THREADS * per_thread + 1))
    assert len({a.sql for a in stored}) == THREADS * per_thread  # each recorded once
    assert all(ledger.cached_answer(f"a{t % 3}", f"key-{t}-{i}") == {"n": i}
               for t in range(THREADS) for i in range(per_thread))
    # 2 writes per iteration (an attempt, an answer); some of them shared a transaction
    assert ledger._side_committer.batches < 2 * THREADS * per_thread
    assert ledger.verify().ok
    ledger.close()
