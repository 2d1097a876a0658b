"""`dpsql analysts|budget|ledger`: thin commands over the ledger, exit codes 0/1/2,
data on stdout, `code: message` on stderr."""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction

import pytest

from accountant import Accounting, Budget, cost_of, open_ledger
from proxy.auth import hash_key
from tests.accountant.conftest import postgres_url
from tests.pg import require_postgres, throwaway_database


def ledger_of(deployment, accounting=Accounting.PURE):
    return open_ledger(deployment.ledger_url, accounting)


def charge(ledger, who, eps):
    ledger.charge(who, cost_of(ledger.accounting, eps, 0), query_id=f"q-{who}-{eps}",
                  sql="SELECT COUNT(*) FROM employees", detail={})


def test_add_prints_the_key_once_and_stores_only_its_hash(deployment):
    done = deployment.run("analysts", "add", "bob", "--role", "analyst", "--epsilon", "2",
                          "--expires", "2027-06-30")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert key.startswith("dpsql_") and "\n" not in key
    assert "shown once" in done.stderr and key not in done.stderr
    ledger = ledger_of(deployment)
    record = ledger.analyst_by_key_hash(hash_key(key))
    assert (record.name, record.role, record.disabled) == ("bob", "analyst", False)
    status = ledger.status("bob")
    assert status.granted == Budget.of(2, 0) and status.expires.isoformat().startswith("2027-07-01")
    assert key.encode() not in (deployment.config.parent / "ledger.db").read_bytes()
    created = ledger.latest_entry("analyst", analyst="bob")
    assert (created.actor, created.reason) == ("cli:olivia", "created with the CLI")
    # the config's analysts were recorded first, as a starting server does
    assert {r.name for r in ledger.analysts()} == {"alice", "bob", "carl", "olivia"}

    again = deployment.run("analysts", "add", "bob", "--role", "owner")
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.startswith("analyst_exists: an analyst named 'bob' exists")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["analysts", "add", "dan", "--role", "analyst"], "an analyst needs a budget"),
        (["analysts", "add", "dan", "--role", "root"], "invalid choice"),
        (["analysts", "budget", "alice", "--epsilon", "lots", "--reason", "r"], "lots"),
        (["analysts", "budget", "alice", "--epsilon", "1"], "--reason"),
        (["ledger", "export", "--since", "yesterday"], "not an ISO date"),
        (["ledger", "export", "--format", "summary", "--since", "2026-01-01"], "csv and json"),
        (["budget", "dataset", "--epsilon", "1", "--delta", "0"], "--reason"),
    ],
)
def test_usage_errors_exit_2(deployment, args, expected):
    done = deployment.run(*args)
    assert done.returncode == 2 and expected in done.stderr and done.stdout == ""


def test_list_disable_and_enable(deployment):
    assert deployment.run("analysts", "disable", "alice").returncode == 0
    listing = deployment.run("analysts", "list")
    assert listing.returncode == 0
    rows = {line.split()[0]: line.split() for line in listing.stdout.splitlines()[1:]}
    assert rows["alice"][1:3] == ["analyst", "disabled"] and rows["olivia"][2] == "enabled"
    assert ledger_of(deployment).analyst_by_key_hash(hash_key("dpsql_alice_key")).disabled
    assert deployment.run("analysts", "enable", "alice").returncode == 0
    assert not ledger_of(deployment).analysts()[0].disabled
    missing = deployment.run("analysts", "disable", "zoe")
    assert missing.returncode == 1 and missing.stderr.startswith("invalid_parameter: ")


def test_budget_raise_is_ledgered_with_who_and_why_and_never_lowers_spent(deployment):
    deployment.run("analysts", "list")
    assert deployment.run("analysts", "disable", "carl").returncode == 0  # seeds the ledger
    ledger = ledger_of(deployment)
    charge(ledger, "alice", 2.5)
    done = deployment.run("analysts", "budget", "alice", "--epsilon", "4", "--delta", "1e-6",
                          "--reason", "Q3 report", user="olivia")
    assert done.returncode == 0, done.stderr
    assert "ε=4" in done.stdout and "ε=2.5" in done.stdout and "ε=1.5" in done.stdout
    grant = ledger.latest_entry("grant", analyst="alice")
    assert (grant.actor, grant.reason, grant.epsilon) == ("cli:olivia", "Q3 report", 4)
    lowered = deployment.run("analysts", "budget", "alice", "--epsilon", "1", "--delta", "1e-6",
                             "--reason", "cut")
    assert lowered.returncode == 0
    status = ledger.status("alice")
    assert status.spent.epsilon == Fraction(5, 2) and status.remaining.epsilon == 0
    unknown = deployment.run("analysts", "budget", "zoe", "--epsilon", "1", "--reason", "r")
    assert unknown.returncode == 1 and unknown.stderr.startswith("not_found: ")


def test_dataset_budget_and_shares(deployment):
    assert deployment.run("analysts", "add", "bob", "--role", "analyst",
                          "--epsilon", "3").returncode == 0
    ledger = ledger_of(deployment)
    charge(ledger, "alice", 3)
    charge(ledger, "bob", 1)
    done = deployment.run("budget", "dataset", "--epsilon", "8", "--delta", "1e-5",
                          "--reason", "second study approved")
    assert done.returncode == 0, done.stderr
    entry = ledger.latest_entry("dataset_budget")
    assert (entry.actor, entry.reason, entry.epsilon) == ("cli:olivia", "second study approved", 8)
    shown = deployment.run("budget", "show")
    assert shown.returncode == 0
    rows = {line.split()[0]: line for line in shown.stdout.splitlines()[1:]}
    assert set(rows) == {"alice", "bob", "(dataset)"}  # owners and compliance hold no budget
    assert rows["alice"].rstrip().endswith("75.0%") and rows["bob"].rstrip().endswith("25.0%")
    assert "ε=8 δ=1e-05" in rows["(dataset)"] and "ε=4 δ=0" in rows["(dataset)"]
    assert "ε=4 δ=1e-05" in rows["(dataset)"]  # remaining: granted − spent
    assert " 50% " in rows["(dataset)"]  # the share of the dataset-wide budget used
    summary = deployment.run("ledger", "export", "--format", "summary", "--analyst", "bob")
    assert summary.returncode == 0 and len(summary.stdout.splitlines()) == 2
    assert "25.0%" in summary.stdout


def test_export_csv_and_json_filter_by_analyst_and_time(deployment):
    assert deployment.run("analysts", "disable", "carl").returncode == 0
    ledger = ledger_of(deployment)
    charge(ledger, "alice", 0.1)
    as_json = deployment.run("ledger", "export", "--format", "json", "--analyst", "alice")
    assert as_json.returncode == 0
    records = json.loads(as_json.stdout)
    assert [r["kind"] for r in records] == ["analyst", "grant", "charge"]
    assert records[-1]["epsilon"] == "0.1" and records[-1]["sql"].startswith("SELECT COUNT")
    as_csv = deployment.run("ledger", "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == len(ledger.entries()) and rows[0]["seq"] == "1"
    assert rows[-1]["hash"] == ledger.verify().head
    assert json.loads(rows[0]["detail"])["event"] == "register"
    future = deployment.run("ledger", "export", "--since", "2100-01-01")
    assert future.returncode == 0 and json.loads(future.stdout) == []
    past = deployment.run("ledger", "export", "--until", "2000-01-01", "--format", "csv")
    assert past.stdout.strip().count("\n") == 0  # the header only


def test_verify_names_the_first_bad_entry(deployment):
    import sqlite3

    assert deployment.run("analysts", "disable", "carl").returncode == 0
    ok = deployment.run("ledger", "verify")
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True
    conn = sqlite3.connect(deployment.config.parent / "ledger.db", isolation_level=None)
    conn.execute("DROP TRIGGER entries_append_only_update")
    conn.execute("UPDATE entries SET epsilon = '30' WHERE seq = 2")
    conn.close()
    bad = deployment.run("ledger", "verify")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["first_bad"] == 2
    assert bad.stderr.startswith("ledger_tampered: entry 2: entry 2 was altered")


def test_refusals_are_code_and_message(make_deployment):
    deployment = make_deployment(accounting="zcdp")
    done = deployment.run("analysts", "add", "dan", "--role", "analyst", "--epsilon", "1")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("invalid_parameter: zCDP accounting needs a budget with delta")
    listing = deployment.run("analysts", "list")
    assert "dan" not in listing.stdout  # the refused budget added nobody


def test_postgres_ledger(make_deployment):
    require_postgres()
    with throwaway_database("dpsql_cli") as (admin_dsn, _):
        deployment = make_deployment(ledger_url=postgres_url(admin_dsn))
        done = deployment.run("analysts", "add", "bob", "--role", "analyst", "--epsilon", "1")
        assert done.returncode == 0, done.stderr
        ledger = ledger_of(deployment)
        try:
            assert ledger.analyst_by_key_hash(hash_key(done.stdout.strip())).name == "bob"
            charge(ledger, "bob", 0.5)
            shown = deployment.run("budget", "show")
            assert "bob" in shown.stdout and "100.0%" in shown.stdout
            assert deployment.run("ledger", "verify").returncode == 0
        finally:
            ledger.close()


def test_export_kind_attempts_receipt_and_verify_against_it(deployment):
    assert deployment.run("analysts", "disable", "carl").returncode == 0  # seeds, signs
    ledger = ledger_of(deployment)
    charge(ledger, "alice", 0.1)
    ledger.record_attempt(analyst="alice", endpoint="/v1/query", outcome="refused",
                          code="unsupported_query", sql="SELECT salary FROM employees")
    ledger.record_attempt(analyst="alice", endpoint="/v1/query", outcome="answered",
                          sql="SELECT COUNT(*) FROM employees", query_id="q-alice-0.1",
                          epsilon="0.1", delta="0")
    charges = json.loads(deployment.run("ledger", "export", "--kind", "charge").stdout)
    assert [r["kind"] for r in charges] == ["charge"]
    tried = deployment.run("ledger", "attempts", "--format", "csv", "--code",
                           "unsupported_query")
    rows = list(csv.DictReader(io.StringIO(tried.stdout)))
    assert [(r["analyst"], r["outcome"], r["sql"]) for r in rows] == [
        ("alice", "refused", "SELECT salary FROM employees")]
    assert len(json.loads(deployment.run("ledger", "attempts").stdout)) == 2

    receipt = deployment.run("ledger", "receipt")
    assert receipt.returncode == 0, receipt.stderr
    signed = json.loads(receipt.stdout)
    entries, head = signed["checkpoint"]["entries"], signed["checkpoint"]["head"]
    assert entries == len(ledger.entries()) and "--expect-head" in receipt.stderr
    ok = deployment.run("ledger", "verify", "--expect-entries", str(entries),
                        "--expect-head", head)
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert (report["entries"], report["checked"], report["attempts"]) == (entries, entries, 2)
    assert report["checkpoints"] >= 2  # in the database and in the file
    short = deployment.run("ledger", "verify", "--expect-entries", str(entries + 1))
    assert short.returncode == 1 and "your receipt says" in short.stderr
    ledger.close()


@pytest.mark.parametrize(("args", "expected"), [
    (["ledger", "export", "--kind", "bogus"], "--kind: 'bogus' is not one of grant"),
    (["ledger", "attempts", "--outcome", "denied"], "--outcome: 'denied' is not one of"),
    (["ledger", "verify", "--expect-head", "abc"], "is not a head hash"),
])
def test_filters_that_would_mislead_are_usage_errors(deployment, args, expected):
    done = deployment.run(*args)
    assert done.returncode == 2 and expected in done.stderr and done.stdout == ""


def test_unknown_analyst_is_refused_not_an_empty_export(deployment):
    assert deployment.run("analysts", "disable", "carl").returncode == 0
    for command in ("export", "attempts"):
        done = deployment.run("ledger", command, "--analyst", "alcie")
        assert done.returncode == 1 and done.stdout == ""
        assert "there is no analyst 'alcie' in the ledger; known: alice" in done.stderr
