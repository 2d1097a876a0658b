"""The analyst registry in the ledger (shared by proxies) and each analyst's share."""

import hashlib
from fractions import Fraction

import pytest

from accountant import AnalystRecord, Budget, InvalidParameter, cost_of

ALICE = hashlib.sha256(b"dpsql_alice").hexdigest()
ALICE2 = hashlib.sha256(b"dpsql_alice_rotated").hexdigest()
BOB = hashlib.sha256(b"dpsql_bob").hexdigest()


def analyst_entries(ledger):
    return [e for e in ledger.entries() if e.kind == "analyst"]


def test_register_is_ledgered_and_idempotent(pure):
    pure.register_analyst("alice", "analyst", ALICE, actor="dpsql.yaml", reason="config seed")
    pure.register_analyst("alice", "analyst", ALICE, actor="dpsql.yaml", reason="config seed")
    assert pure.analysts() == [AnalystRecord("alice", "analyst", ALICE, False)]
    [entry] = analyst_entries(pure)
    assert entry.analyst == "alice" and entry.actor == "dpsql.yaml"
    assert entry.reason == "config seed"
    assert entry.detail == {"event": "register", "role": "analyst", "key_sha256": ALICE,
                            "disabled": False}
    assert pure.verify().ok


def test_new_key_hash_is_a_rotation(pure):
    pure.register_analyst("alice", "analyst", ALICE, actor="olivia", reason="new")
    pure.register_analyst("alice", "analyst", ALICE2, actor="olivia", reason="key leaked")
    assert [e.detail["event"] for e in analyst_entries(pure)] == ["register", "rotate_key"]
    assert pure.analyst_by_key_hash(ALICE) is None
    assert pure.analyst_by_key_hash(ALICE2).name == "alice"
    pure.register_analyst("alice", "owner", ALICE2, actor="olivia", reason="promoted")
    assert analyst_entries(pure)[-1].detail["event"] == "change_role"
    assert pure.analyst_by_key_hash(ALICE2.upper()).role == "owner"
    assert pure.verify().ok


def test_disable_and_enable(pure):
    pure.register_analyst("alice", "analyst", ALICE, actor="olivia", reason="new")
    pure.set_analyst_disabled("alice", True, actor="olivia", reason="left the team")
    pure.set_analyst_disabled("alice", True, actor="olivia", reason="again")
    assert pure.analyst_by_key_hash(ALICE).disabled
    # a config seed at the next start must not quietly re-enable the analyst
    pure.register_analyst("alice", "analyst", ALICE, actor="dpsql.yaml", reason="config seed")
    assert pure.analysts()[0].disabled
    pure.register_analyst("alice", "analyst", ALICE2, actor="olivia", reason="rotate")
    assert pure.analysts()[0].disabled
    pure.set_analyst_disabled("alice", False, actor="olivia", reason="back")
    assert [e.detail["event"] for e in analyst_entries(pure)] == [
        "register", "disable", "rotate_key", "enable"]
    assert pure.verify().ok


def test_keys_are_never_stored_raw(pure, ledger_url):
    pure.register_analyst("alice", "analyst", ALICE, actor="olivia", reason="new")
    assert all("dpsql_alice" not in str(e) for e in pure.entries())


@pytest.mark.parametrize(
    ("name", "role", "digest", "match"),
    [
        ("", "analyst", ALICE, "non-empty"),
        ("alice", "admin", ALICE, "role 'admin'"),
        ("alice", "analyst", "dpsql_alice_raw_key", "64 lowercase hex"),
        ("alice", "analyst", ALICE.upper(), "64 lowercase hex"),
    ],
)
def test_bad_registrations_are_refused_before_the_log(pure, name, role, digest, match):
    before = len(pure.entries())
    with pytest.raises(InvalidParameter, match=match):
        pure.register_analyst(name, role, digest, actor="olivia", reason="r")
    assert len(pure.entries()) == before


def test_a_key_hash_belongs_to_one_analyst(pure):
    pure.register_analyst("alice", "analyst", ALICE, actor="olivia", reason="new")
    with pytest.raises(InvalidParameter, match="already belongs to 'alice'"):
        pure.register_analyst("bob", "analyst", ALICE, actor="olivia", reason="new")
    with pytest.raises(InvalidParameter, match="no analyst 'bob'"):
        pure.set_analyst_disabled("bob", True, actor="olivia", reason="r")


def test_owner_raises_a_grant_with_who_and_why(pure):
    pure.charge("alice", cost_of("pure", 0.75, 0), query_id="q", sql="s", detail={})
    pure.set_grant("alice", Budget.of(2, 1e-6), None, actor="olivia", reason="quarterly report")
    grant = [e for e in pure.entries("alice") if e.kind == "grant"][-1]
    assert (grant.actor, grant.reason, grant.epsilon) == ("olivia", "quarterly report", 2)
    status = pure.status("alice")
    assert status.spent.epsilon == Fraction(3, 4) and status.remaining.epsilon == Fraction(5, 4)


def test_shares_of_the_dataset_total(pure):
    pure.set_grant("bob", Budget.of(1, 0), None, actor="olivia", reason="seed")
    pure.set_grant("chen", Budget.of(1, 0), None, actor="olivia", reason="seed")
    assert [tuple(s) for s in pure.shares()] == [
        ("alice", Budget.zero(), 0), ("bob", Budget.zero(), 0), ("chen", Budget.zero(), 0)]
    for who, eps in [("alice", 0.3), ("bob", 0.1), ("alice", 0.2)]:
        pure.charge(who, cost_of("pure", eps, 0), query_id="q", sql="s", detail={})
    (a, a_spent, a_share), (b, _, b_share), (c, _, c_share) = pure.shares()
    assert (a, a_spent, a_share) == ("alice", Budget.of(0.5, 0), Fraction(5, 6))
    assert (b, b_share, c, c_share) == ("bob", Fraction(1, 6), "chen", 0)


def test_zcdp_shares_compose_rho(zcdp):
    zcdp.set_grant("bob", Budget.of(1, 1e-6), None, actor="olivia", reason="seed")
    for who in ("alice", "bob", "bob"):
        zcdp.charge(who, cost_of("zcdp", 0.1, 1e-7), query_id="q", sql="s", detail={})
    shares = {s.analyst: s for s in zcdp.shares()}
    assert shares["alice"].share == Fraction(1, 3) and shares["bob"].share == Fraction(2, 3)
    assert shares["bob"].spent == zcdp.status("bob").spent
