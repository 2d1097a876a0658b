"""Signed checkpoints make a truncated tail visible; start-up refuses a ledger that
does not verify; the guard refuses charges once a derived table disagrees.

Each attack edits the backend's database directly (SQLite file or PostgreSQL),
triggers out of the way, as someone with write access to it would; the key and
the checkpoint file stay out of the attacker's reach, as the README asks.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from fractions import Fraction

import pytest

from accountant import Accounting, Budget, cost_of, open_ledger
from accountant.errors import LedgerTampered
from accountant.ledger.chain import entry_hash
from accountant.ledger.checkpoints import Notary, load_key
from tests.accountant.raw import execute, fetch_row

PURE = cost_of(Accounting.PURE, 0.1, 0)


def raw(url, *statements):
    for statement in statements:
        execute(url, statement, bypass_triggers=True)


@pytest.fixture
def notary(tmp_path):
    return Notary(load_key(tmp_path / "ledger.key", create=True), tmp_path / "checkpoints")


def charge(ledger, n, start=0):
    for i in range(start, start + n):
        ledger.charge("alice", PURE, query_id=f"q{i}", sql=f"SELECT {i}", detail={})


@pytest.fixture
def signed(pure, notary):
    """Grant (1) + 3 charges, a start-up checkpoint at 4, 2 more charges (6 entries)."""
    charge(pure, 3)
    pure.use_notary(notary, every_entries=1000)
    pure.start_guarded()
    charge(pure, 2, start=3)
    assert pure.verify(notary).ok
    return pure


def reopened(url, notary):
    ledger = open_ledger(url, Accounting.PURE)
    ledger.use_notary(notary, every_entries=1000)
    return ledger


def refused_at_start(url, notary, match):
    """What a proxy starting on this ledger does: refuse it, naming the problem."""
    ledger = reopened(url, notary)
    try:
        with pytest.raises(LedgerTampered, match=match) as refused:
            ledger.start_guarded()
    finally:
        ledger.close()
    return refused.value


def truncate_to(url, seq):
    """Delete every entry after ``seq`` and rewrite the head and totals to match."""
    row = fetch_row(url, f"SELECT hash FROM entries WHERE seq = {seq}")
    raw(url, f"DELETE FROM entries WHERE seq > {seq}",
        f"UPDATE head SET seq = {seq}, hash = '{row['hash']}'",
        f"UPDATE totals SET epsilon = '{(seq - 1) / 10}'")


def test_truncated_tail_with_head_and_totals_rewritten_is_caught(signed, ledger_url, notary):
    signed.checkpoint()  # covers all 6
    truncate_to(ledger_url, 5)
    assert signed.verify().ok  # the chain alone looks whole: what the attacker hoped
    report = signed.verify(notary)
    assert not report.ok and "truncated" in report.reason and "entries 6–6" in report.reason
    assert report.entries == 5
    refused_at_start(ledger_url, notary, "truncated")


def test_truncation_is_caught_from_the_file_after_the_database_checkpoints_go(
        signed, ledger_url, notary):
    signed.checkpoint()
    truncate_to(ledger_url, 4)
    raw(ledger_url, "DELETE FROM checkpoints")
    report = signed.verify(notary)
    assert not report.ok and "truncated" in report.reason and str(notary.file) in report.reason


def test_truncation_at_the_last_checkpoint_is_caught_by_the_receipt(signed, ledger_url, notary):
    receipt = signed.checkpoint()  # a reviewer keeps it: 6 entries
    assert receipt.entries == 6
    truncate_to(ledger_url, 4)  # 4 is the start-up checkpoint: checkpoints still agree
    execute(ledger_url, "DELETE FROM checkpoints WHERE body = ?", (receipt.text(),))
    notary.file.write_text("".join(
        line + "\n" for line in notary.file.read_text().splitlines()
        if json.loads(line)["checkpoint"]["entries"] != 6))
    assert signed.verify(notary).ok  # what the attacker hoped
    report = signed.verify(notary, expect_entries=6, expect_head=receipt.head)
    assert not report.ok and "your receipt says 6" in report.reason
    report = signed.verify(notary, expect_head=receipt.head)
    assert not report.ok and "no entry hashes to" in report.reason


def test_rewritten_history_does_not_match_the_checkpoint(signed, ledger_url, notary):
    """Rehash every entry from 2 on after lowering a charge: the chain links again,
    but entry 4 is no longer what the start-up checkpoint signed."""
    for seq in range(2, 7):
        row = fetch_row(ledger_url, f"SELECT * FROM entries WHERE seq = {seq}")
        if seq == 2:
            row["epsilon"] = "0.01"
        else:
            row["prev_hash"] = fetch_row(
                ledger_url, f"SELECT hash FROM entries WHERE seq = {seq - 1}")["hash"]
        execute(ledger_url, "UPDATE entries SET epsilon = ?, prev_hash = ?, hash = ? "
                            "WHERE seq = ?",
                (row["epsilon"], row["prev_hash"], entry_hash(row), seq), bypass_triggers=True)
    last = fetch_row(ledger_url, "SELECT hash FROM entries WHERE seq = 6")["hash"]
    raw(ledger_url, f"UPDATE head SET hash = '{last}'", "UPDATE totals SET epsilon = '0.41'")
    report = signed.verify(notary)
    assert not report.ok and "entry 4 is not the one" in report.reason


def test_forged_checkpoint_is_caught(signed, ledger_url, notary, tmp_path):
    forger = Notary(load_key(tmp_path / "other.key", create=True), None)
    fake = forger.sign(entries=6, head="f" * 64, attempts=0, attempts_head="0" * 64,
                       now=datetime.now(UTC))
    execute(ledger_url, "INSERT INTO checkpoints (body, signature) VALUES (?, ?)",
            (fake.text(), fake.signature))
    report = signed.verify(notary)
    assert not report.ok and "forged" in report.reason
    refused_at_start(ledger_url, notary, "forged")


def test_edited_checkpoint_file_or_a_missing_one_is_caught(signed, notary):
    lines = notary.file.read_text().splitlines()
    edited = json.loads(lines[0])
    edited["checkpoint"]["entries"] = 3
    notary.file.write_text(json.dumps(edited) + "\n")
    report = signed.verify(notary)
    assert not report.ok and "forged or altered" in report.reason
    notary.file.write_text("not json\n")
    assert "line 1 of the checkpoint file" in signed.verify(notary).reason
    notary.file.unlink()
    assert "is missing or empty" in signed.verify(notary).reason


@pytest.mark.parametrize("attack, expected", [
    (["UPDATE entries SET epsilon = '0.01' WHERE seq = 3"], "entry 3 was altered"),
    (["DELETE FROM entries WHERE seq = 3"], "entry 3 is missing"),
    (["UPDATE entries SET seq = -1 WHERE seq = 3", "UPDATE entries SET seq = 3 WHERE seq = 4",
      "UPDATE entries SET seq = 4 WHERE seq = -1"], "entry 3 does not link"),
    (["UPDATE totals SET epsilon = '0' WHERE scope = 'analyst'"], "running totals differ"),
    (["UPDATE analysts SET role = 'owner'"], "analyst registry differs"),
    (["UPDATE attempts SET outcome = 'answered' WHERE seq = 1"], "attempt 1 was altered"),
    (["DELETE FROM attempts WHERE seq = 2"], "attempts log does not verify"),
])
def test_start_up_refuses_a_tampered_ledger(pure, ledger_url, notary, attack, expected):
    pure.register_analyst("alice", "analyst", "a" * 64, actor="olivia", reason="seed")
    charge(pure, 4)
    for outcome in ("refused", "blocked"):
        pure.record_attempt(analyst="alice", endpoint="/v1/query", outcome=outcome,
                            sql="SELECT name FROM employees", code="unsupported_query")
    pure.use_notary(notary, 1000)
    pure.start_guarded()
    raw(ledger_url, *attack)
    report = pure.verify(notary)
    assert not report.ok and expected in report.reason
    refused = refused_at_start(ledger_url, notary, expected)
    assert refused.code == "ledger_tampered"
    assert "dpsql ledger verify" in refused.message


def test_failed_verify_reports_size_and_where_it_stopped(filled_ledger, ledger_url):
    raw(ledger_url, "UPDATE entries SET sql = 'SELECT 42' WHERE seq = 4")
    report = filled_ledger.verify()
    assert (report.ok, report.entries, report.checked, report.first_bad) == (False, 6, 3, 4)


@pytest.fixture
def filled_ledger(pure):
    charge(pure, 5)
    return pure


def test_edited_totals_while_running_refuse_every_later_charge(signed, ledger_url):
    raw(ledger_url, "UPDATE totals SET epsilon = '0'")
    with pytest.raises(LedgerTampered, match="running total of analyst 'alice'"):
        charge(signed, 1, start=10)
    raw(ledger_url, "UPDATE totals SET epsilon = '0.5'")  # put back: still refused
    with pytest.raises(LedgerTampered, match="no charge is taken"):
        charge(signed, 1, start=11)
    assert len(signed.entries()) == 6  # nothing was charged
    with pytest.raises(LedgerTampered):  # nor granted, registered or signed
        signed.set_grant("alice", Budget.of(5, 0), None, actor="olivia", reason="more")
    with pytest.raises(LedgerTampered):
        signed.checkpoint()
    assert signed.status("alice").spent.epsilon == Fraction(1, 2)  # reads stay open


def test_deleted_tail_while_running_refuses_charges(signed, ledger_url):
    truncate_to(ledger_url, 5)
    with pytest.raises(LedgerTampered, match="entry 6, checked earlier"):
        charge(signed, 1, start=10)


def test_swapped_key_hash_while_running_lets_nobody_in(signed, ledger_url):
    signed.register_analyst("bob", "analyst", "b" * 64, actor="olivia", reason="hire")
    raw(ledger_url, "UPDATE analysts SET key_sha256 = '" + "e" * 64 + "' WHERE name = 'bob'")
    with pytest.raises(LedgerTampered, match="registry's row for 'bob'"):
        signed.analyst_by_key_hash("e" * 64)


def test_guard_follows_entries_from_another_proxy(signed, ledger_url, notary):
    other = reopened(ledger_url, notary)
    try:
        other.start_guarded()
        charge(other, 3, start=20)
        charge(signed, 1, start=30)  # sees the other's charges, checks and counts them
        assert signed.status("alice").spent.epsilon == other.status("alice").spent.epsilon
        assert signed.verify(notary).ok
    finally:
        other.close()


def test_checkpoint_every_n_entries(pure, notary):
    pure.use_notary(notary, every_entries=2)
    pure.start_guarded()  # signs at 1
    charge(pure, 4)
    assert [cp.entries for cp in pure.checkpoints()] == [1, 3, 5]
    assert len(notary.file.read_text().splitlines()) == 3
    assert pure.checkpoint(if_moved=True) is None  # nothing moved since 5


# -- a large ledger resumes from its latest signed chain state ------------------------


@pytest.fixture
def anchored(signed, notary, ledger_url):
    """`signed`, with a checkpoint carrying the chain state at 6 and two charges after."""
    signed.checkpoint()
    charge(signed, 2, start=6)
    return signed


def start_anchored(url, notary):
    ledger = reopened(url, notary)
    return ledger, ledger.start_guarded(full_check_below=0)


def test_start_up_resumes_from_the_signed_state(anchored, ledger_url, notary):
    ledger, report = start_anchored(ledger_url, notary)
    try:
        assert report.ok and (report.entries, report.checked) == (8, 2)  # only 7 and 8 rehashed
        assert ledger.wait_for_full_check(timeout=30) is None
        charge(ledger, 1, start=40)
        assert ledger.status("alice").spent.epsilon == anchored.status("alice").spent.epsilon
        assert ledger.verify(notary).ok
    finally:
        ledger.close()


@pytest.mark.parametrize("attack, expected", [
    (["UPDATE totals SET epsilon = '0.1'"], "running totals differ"),
    (["DELETE FROM entries WHERE seq = 3"], "number 5 instead of 6"),
    (["DELETE FROM entries WHERE seq > 6", "UPDATE totals SET epsilon = '0.5'"],
     "the recorded head is entry 8 but the chain ends at entry 6"),
    (["UPDATE entries SET epsilon = '0.01' WHERE seq = 7"], "entry 7 was altered"),
])
def test_resumed_start_up_refuses_a_tampered_ledger(anchored, ledger_url, notary, attack,
                                                    expected):
    raw(ledger_url, *attack)
    ledger = reopened(ledger_url, notary)
    try:
        with pytest.raises(LedgerTampered, match=expected):
            ledger.start_guarded(full_check_below=0)
    finally:
        ledger.close()


def test_forged_chain_state_is_not_resumed_from(anchored, ledger_url, notary):
    """Lowering the spend in the stored state (and the totals to match) breaks the
    state's signed digest, so start-up walks the whole chain and finds the totals."""
    row = fetch_row(ledger_url, "SELECT body, state FROM checkpoints WHERE state IS NOT NULL "
                                "ORDER BY length(state) DESC LIMIT 1")
    state = json.loads(row["state"])
    state["totals"] = [[*t[:2], "0", *t[3:]] for t in state["totals"]]
    execute(ledger_url, "UPDATE checkpoints SET state = ?", (json.dumps(state),))
    raw(ledger_url, "UPDATE totals SET epsilon = '0.2'")
    ledger = reopened(ledger_url, notary)
    try:
        with pytest.raises(LedgerTampered, match="running totals differ"):
            ledger.start_guarded(full_check_below=0)
    finally:
        ledger.close()


def test_an_old_edit_found_in_the_background_refuses_charges(anchored, ledger_url, notary):
    raw(ledger_url, "UPDATE entries SET sql = 'SELECT 42' WHERE seq = 3")  # below the anchor
    ledger, report = start_anchored(ledger_url, notary)
    try:
        assert report.ok  # resumed at 6: entry 3 is not rehashed before serving
        found = ledger.wait_for_full_check(timeout=30)
        assert found is not None and "entry 3 was altered" in found
        with pytest.raises(LedgerTampered, match="background check of the whole chain"):
            charge(ledger, 1, start=50)
    finally:
        ledger.close()
