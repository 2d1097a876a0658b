"""The hash chain catches edits, deletions, swaps, insertions and truncation.

Each test edits the rows directly in the backend's database (SQLite file or
PostgreSQL), with the append-only triggers out of the way.
"""

import pytest

from accountant import Accounting, Budget, cost_of
from tests.accountant.raw import execute, fetch_row


@pytest.fixture
def filled(pure, ledger_url):
    for i in range(5):
        pure.charge(
            "alice",
            cost_of(Accounting.PURE, 0.1, 0),
            query_id=f"q{i}",
            sql=f"SELECT {i}",
            detail={"i": i},
        )
    assert pure.verify().ok
    assert pure.verify().entries == 6
    return pure


def raw(url, *statements):
    for statement in statements:
        execute(url, statement, bypass_triggers=True)


def test_untouched_ledger_verifies(filled):
    report = filled.verify()
    assert report.ok and report.first_bad is None and len(report.head) == 64
    assert report.head == filled.entries()[-1].hash


def test_edited_amount_is_caught(filled, ledger_url):
    raw(ledger_url, "UPDATE entries SET epsilon = '0.01' WHERE seq = 3")
    report = filled.verify()
    assert not report.ok and report.first_bad == 3 and "altered" in report.reason


def test_edited_sql_is_caught(filled, ledger_url):
    raw(ledger_url, "UPDATE entries SET sql = 'SELECT 42' WHERE seq = 4")
    assert filled.verify().first_bad == 4


def test_rehashed_edit_is_caught_at_the_next_link(filled, ledger_url):
    from accountant.ledger.chain import entry_hash

    row = fetch_row(ledger_url, "SELECT * FROM entries WHERE seq = 2")
    row["epsilon"] = "0.0001"
    execute(
        ledger_url,
        "UPDATE entries SET epsilon = ?, hash = ? WHERE seq = 2",
        (row["epsilon"], entry_hash(row)),
        bypass_triggers=True,
    )
    report = filled.verify()
    assert report.first_bad == 3 and "does not link" in report.reason


def test_deleted_row_is_caught(filled, ledger_url):
    raw(ledger_url, "DELETE FROM entries WHERE seq = 3")
    report = filled.verify()
    assert not report.ok and report.first_bad == 3 and "missing" in report.reason


def test_deleted_tail_is_caught(filled, ledger_url):
    raw(ledger_url, "DELETE FROM entries WHERE seq = 6")
    report = filled.verify()
    assert not report.ok and report.first_bad == 6 and "removed from the end" in report.reason


def test_swapped_rows_are_caught(filled, ledger_url):
    raw(
        ledger_url,
        "UPDATE entries SET seq = -1 WHERE seq = 3",
        "UPDATE entries SET seq = 3 WHERE seq = 4",
        "UPDATE entries SET seq = 4 WHERE seq = -1",
    )
    report = filled.verify()
    assert not report.ok and report.first_bad == 3


def test_inserted_row_is_caught(filled, ledger_url):
    raw(
        ledger_url,
        "UPDATE entries SET seq = seq + 100 WHERE seq >= 4",  # make room after 3
        "UPDATE entries SET seq = seq - 99 WHERE seq >= 100",
        "INSERT INTO entries (seq, timestamp, kind, analyst, actor, reason, query_id, sql, "
        "epsilon, delta, rho, expires, detail, prev_hash, hash, delta_add) "
        "SELECT 4, timestamp, kind, analyst, actor, reason, query_id, sql, "
        "epsilon, delta, rho, expires, detail, prev_hash, hash, delta_add "
        "FROM entries WHERE seq = 3",
    )
    report = filled.verify()
    assert not report.ok and report.first_bad == 4


def test_lowered_running_total_is_caught(filled, ledger_url):
    raw(ledger_url, "UPDATE totals SET epsilon = '0' WHERE scope = 'analyst'")
    report = filled.verify()
    assert not report.ok and "running totals" in report.reason


@pytest.fixture
def registered(filled):
    filled.register_analyst("bob", "analyst", "b" * 64, actor="olivia", reason="new hire")
    filled.set_grant("bob", Budget.of(1, 0), None, actor="olivia", reason="seed")
    assert filled.verify().ok
    return filled


def test_swapped_key_hash_in_the_registry_is_caught(registered, ledger_url):
    raw(ledger_url, "UPDATE analysts SET key_sha256 = '" + "c" * 64 + "' WHERE name = 'bob'")
    report = registered.verify()
    assert not report.ok and "analyst registry" in report.reason and "bob" in report.reason
    raw(ledger_url, "UPDATE analysts SET key_sha256 = '" + "b" * 64 + "' WHERE name = 'bob'")
    assert registered.verify().ok


def test_smuggled_analyst_is_caught(registered, ledger_url):
    raw(ledger_url, "INSERT INTO analysts VALUES ('eve', 'owner', '" + "e" * 64 + "', 0)")
    report = registered.verify()
    assert not report.ok and "eve" in report.reason


def test_edited_analyst_entry_is_caught(registered, ledger_url):
    raw(ledger_url, "UPDATE entries SET detail = replace(detail, 'analyst', 'owner') "
                    "WHERE seq = 7")
    report = registered.verify()
    assert not report.ok and report.first_bad == 7


def test_lowered_grant_is_caught(registered, ledger_url):
    raw(ledger_url, "UPDATE entries SET epsilon = '100' WHERE kind = 'grant' AND analyst = 'bob'")
    assert registered.verify().first_bad == 8
