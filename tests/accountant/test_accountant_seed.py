"""Seeding from dpsql.yaml applies the file's edits but keeps owners' run-time changes."""

from datetime import UTC, datetime

from accountant import Budget
from accountant.ledger import Declared, seed_ledger

KEY = "a" * 64
ROTATED = "b" * 64
JUNE = datetime(2027, 6, 30, tzinfo=UTC)


def declared(epsilon=3, key=KEY, expires=None):
    return [Declared("alice", "analyst", key, Budget.of(epsilon, 1e-6), expires)]


def test_seeding_twice_records_once(pure):
    seed_ledger(pure, declared(), Budget.of(5, 1e-5))
    before = len(pure.entries())
    seed_ledger(pure, declared(), Budget.of(5, 1e-5))
    assert len(pure.entries()) == before
    assert pure.analyst_by_key_hash(KEY).name == "alice"
    assert pure.status("alice").granted == Budget.of(3, 1e-6)


def test_run_time_changes_survive_a_restart(pure):
    seed_ledger(pure, declared(), Budget.of(5, 1e-5))
    pure.set_grant("alice", Budget.of(4, 1e-6), None, actor="cli:olivia", reason="more")
    pure.set_dataset_budget(Budget.of(8, 1e-5), actor="cli:olivia", reason="more")
    pure.register_analyst("alice", "analyst", ROTATED, actor="cli:olivia", reason="leaked")
    seed_ledger(pure, declared(), Budget.of(5, 1e-5))  # the next start, file unchanged
    status = pure.status("alice")
    assert status.granted == Budget.of(4, 1e-6) and status.dataset_granted == Budget.of(8, 1e-5)
    assert pure.analyst_by_key_hash(KEY) is None  # the leaked key stays dead
    assert pure.analyst_by_key_hash(ROTATED).name == "alice"


def test_an_edited_file_takes_effect(pure):
    seed_ledger(pure, declared(), Budget.of(5, 1e-5))
    pure.set_grant("alice", Budget.of(4, 1e-6), None, actor="cli:olivia", reason="more")
    seed_ledger(pure, declared(epsilon=6, expires=JUNE), None)
    status = pure.status("alice", now=datetime(2027, 1, 1, tzinfo=UTC))
    assert status.granted == Budget.of(6, 1e-6) and status.expires == JUNE
    assert status.dataset_granted is None
    assert pure.latest_entry("grant", analyst="alice").actor == "dpsql.yaml"
    assert pure.verify().ok
