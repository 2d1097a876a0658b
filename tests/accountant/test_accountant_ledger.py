"""Both ledger backends: exact spending, limits, expiry, persistence and the cache."""
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from accountant import (
    Accounting,
    Budget,
    BudgetExhausted,
    InvalidParameter,
    cost_of,
    epsilon_from_rho,
    open_ledger,
    rho_for,
)
from tests.accountant.raw import execute

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def charge(ledger, eps, delta=0, analyst="alice", now=None, accounting=Accounting.PURE):
    return ledger.charge(
        analyst,
        cost_of(accounting, eps, delta),
        query_id="q",
        sql="SELECT 1",
        detail={"mechanisms": [{"kind": "discrete_laplace", "scale": "10"}]},
        now=now,
    )


def test_ten_tenths_fit_one_exactly(pure):
    for _ in range(10):
        receipt = charge(pure, 0.1)
    assert receipt.status.spent == Budget.of(1, 0)
    assert receipt.status.remaining == Budget.of(0, 1e-6)
    with pytest.raises(BudgetExhausted) as info:
        charge(pure, 0.1)
    assert info.value.which == "analyst"


def test_a_thousand_thousandths_fit_one_exactly(pure):
    for _ in range(1000):
        charge(pure, 0.001)
    assert pure.status("alice").remaining.epsilon == 0
    with pytest.raises(BudgetExhausted):
        charge(pure, 0.001)


def test_delta_is_composed_too(pure):
    charge(pure, 0.1, 1e-6)
    with pytest.raises(BudgetExhausted, match="analyst's budget") as info:
        charge(pure, 0.1, 1e-9)
    assert info.value.code == "budget_exhausted"


def test_refusal_says_what_remains_and_what_to_do(pure):
    charge(pure, 0.75)
    with pytest.raises(BudgetExhausted) as info:
        charge(pure, 0.5)
    msg = info.value.message
    assert "epsilon=0.25" in msg and "no dataset-wide limit" in msg
    assert "dpsql analysts budget alice" in msg
    assert len(pure.entries("alice")) == 2  # the refused charge left no trace


def test_dataset_budget_limits_all_analysts_together(pure):
    pure.set_grant("bob", Budget.of(1.0, 0), None, actor="olivia", reason="seed")
    pure.set_dataset_budget(Budget.of(1.5, 1e-6), actor="olivia", reason="cap")
    charge(pure, 1.0, analyst="alice")
    charge(pure, 0.5, analyst="bob")
    with pytest.raises(BudgetExhausted) as info:
        charge(pure, 0.1, analyst="bob")
    assert info.value.which == "dataset"
    assert "dataset-wide budget" in info.value.message
    status = pure.status("bob")
    assert status.remaining == Budget.of(0.5, 0)
    assert status.dataset_remaining == Budget.of(0, 1e-6)
    pure.set_dataset_budget(None, actor="olivia", reason="lifted")
    charge(pure, 0.1, analyst="bob")
    assert pure.status("bob").dataset_granted is None


def test_revoking_a_zcdp_grant_keeps_spent(zcdp):
    receipt = charge(zcdp, 0.5, 1e-7, accounting=Accounting.ZCDP)
    zcdp.set_grant("alice", Budget.of(0, 1e-6), None, actor="olivia", reason="revoke")
    status = zcdp.status("alice")
    assert status.spent_rho == receipt.status.spent_rho and status.spent.epsilon > 0
    assert status.remaining == Budget.zero() and status.shown.share is None  # 0 has no share
    with pytest.raises(BudgetExhausted):
        charge(zcdp, 0.01, 1e-7, accounting=Accounting.ZCDP)


def test_unknown_analyst_has_no_grant(pure):
    with pytest.raises(BudgetExhausted, match="has no privacy budget grant") as info:
        charge(pure, 0.1, analyst="mallory")
    assert info.value.which == "analyst"
    assert pure.status("mallory").granted is None


def test_expired_grant_spends_nothing_more_and_keeps_what_was_spent(pure):
    pure.set_grant("alice", Budget.of(1.0, 0), T0, actor="olivia", reason="until new year")
    charge(pure, 0.25, now=T0 - timedelta(seconds=1))
    with pytest.raises(BudgetExhausted, match="expired") as info:
        charge(pure, 0.25, now=T0)
    assert info.value.which == "expired"
    status = pure.status("alice", now=T0 + timedelta(days=1))
    assert status.expired and status.remaining == Budget.zero()
    assert status.spent.epsilon == Fraction(1, 4)
    pure.set_grant(
        "alice", Budget.of(1.0, 0), T0 + timedelta(days=30), actor="olivia", reason="extended"
    )
    charge(pure, 0.25, now=T0 + timedelta(days=1))
    assert pure.status("alice", now=T0 + timedelta(days=1)).remaining.epsilon == Fraction(1, 2)


def test_identical_grant_is_not_recorded_twice(pure):
    before = len(pure.entries())
    pure.set_grant("alice", Budget.of(1.0, 1e-6), None, actor="config", reason="start-up")
    pure.set_dataset_budget(None, actor="config", reason="start-up")
    assert len(pure.entries()) == before
    pure.set_grant("alice", Budget.of(2.0, 1e-6), None, actor="olivia", reason="more")
    assert len(pure.entries()) == before + 1


def test_lowering_a_grant_never_lowers_spent(pure):
    charge(pure, 0.75)
    pure.set_grant("alice", Budget.of(0.5, 1e-6), None, actor="olivia", reason="cut")
    status = pure.status("alice")
    assert status.spent.epsilon == Fraction(3, 4)
    assert status.remaining.epsilon == 0
    with pytest.raises(BudgetExhausted):
        charge(pure, 0.01)


def test_restart_keeps_grants_and_charges(ledger_url, pure):
    charge(pure, 0.3)
    pure.close()
    reopened = open_ledger(ledger_url, Accounting.PURE)
    assert reopened.status("alice").spent.epsilon == Fraction(3, 10)
    assert reopened.verify().ok
    charge(reopened, 0.7)
    with pytest.raises(BudgetExhausted):
        charge(reopened, 0.1)
    reopened.close()


def test_reopening_with_another_accounting_is_refused(ledger_url, pure):
    with pytest.raises(InvalidParameter, match="cannot be mixed"):
        open_ledger(ledger_url, Accounting.ZCDP)


def test_cost_must_match_the_ledger_accounting(pure):
    with pytest.raises(InvalidParameter, match="composes pure costs"):
        pure.charge("alice", cost_of("zcdp", 0.1, 1e-7), query_id="q", sql="s", detail={})


@pytest.mark.parametrize(
    "url", ["sqlite:///", "sqlite:///:memory:", "ledger.db"]
)
def test_unsupported_urls(url):
    with pytest.raises(InvalidParameter, match="ledger.url"):
        open_ledger(url, Accounting.PURE)


def test_zcdp_spends_rho_and_reports_epsilon_conservatively(zcdp):
    delta = Fraction(1, 10**6)
    capacity = rho_for(Fraction(1), delta)
    receipt = charge(zcdp, 0.1, 1e-7, accounting=Accounting.ZCDP)
    status = receipt.status
    assert status.spent_rho == cost_of("zcdp", 0.1, 1e-7).rho
    assert status.remaining_rho == capacity - status.spent_rho
    # spent: the ε of the composed ρ at the grant's δ, rounded up to the grant's 6th digit
    exact = epsilon_from_rho(status.spent_rho, delta, "up")
    assert exact <= status.spent.epsilon < exact + Fraction(1, 10**5)
    assert status.shown.share == exact  # of a grant of ε = 1
    # what people see adds up: remaining is the grant less spent as shown
    assert status.spent.epsilon + status.remaining.epsilon == 1
    assert status.remaining.epsilon < epsilon_from_rho(status.remaining_rho, delta, "down")
    n = 1
    while True:
        try:
            charge(zcdp, 0.1, 1e-7, accounting=Accounting.ZCDP)
            n += 1
        except BudgetExhausted:
            break
    assert n * cost_of("zcdp", 0.1, 1e-7).rho <= capacity
    assert (n + 1) * cost_of("zcdp", 0.1, 1e-7).rho > capacity
    assert n > 10  # zCDP composes many small queries into far less than pure would


def test_zcdp_grant_needs_delta(zcdp):
    with pytest.raises(InvalidParameter, match="delta > 0"):
        zcdp.set_grant("bob", Budget.of(1, 0), None, actor="o", reason="r")
    with pytest.raises(InvalidParameter, match="delta > 0"):
        zcdp.set_grant("bob", Budget.of(0, 0), None, actor="o", reason="revoke")
    with pytest.raises(InvalidParameter, match="delta > 0"):
        zcdp.set_dataset_budget(Budget.of(1, 0), actor="o", reason="r")


def test_answer_cache_keeps_the_first_answer(pure):
    assert pure.cached_answer("alice", "k") is None
    pure.store_answer("alice", "k", "q1", {"rows": [[1]]})
    pure.store_answer("alice", "k", "q2", {"rows": [[2]]})
    assert pure.cached_answer("alice", "k") == {"rows": [[1]]}
    assert pure.cached_answer("bob", "k") is None
    assert pure.verify().ok


def test_entries_filter_and_parse_exact_amounts(pure):
    charge(pure, 0.1, now=T0)
    charge(pure, 0.2, now=T0 + timedelta(days=2))
    pure.set_grant("bob", Budget.of(1, 0), None, actor="olivia", reason="seed")
    alice = pure.entries("alice")
    assert [e.kind for e in alice] == ["grant", "charge", "charge"]
    assert alice[1].epsilon == Fraction(1, 10) and alice[1].sql == "SELECT 1"
    assert alice[1].detail == {"mechanisms": [{"kind": "discrete_laplace", "scale": "10"}]}
    window = pure.entries(since=T0, until=T0 + timedelta(days=1))
    assert [e.epsilon for e in window] == [Fraction(1, 10)]
    assert pure.entries()[-1].analyst == "bob"


def test_entries_are_append_only_in_the_database(ledger_url, pure):
    charge(pure, 0.1)
    with pytest.raises(Exception, match="append-only"):
        execute(ledger_url, "UPDATE entries SET epsilon = '0' WHERE kind = 'charge'")
    with pytest.raises(Exception, match="append-only"):
        execute(ledger_url, "DELETE FROM entries")
    if ledger_url.startswith("postgresql"):
        with pytest.raises(Exception, match="append-only"):
            execute(ledger_url, "TRUNCATE entries")
    assert pure.verify().ok and len(pure.entries()) == 2


def test_unreachable_postgres_is_a_clear_error():
    with pytest.raises(InvalidParameter, match="cannot open the PostgreSQL ledger"):
        open_ledger("postgresql://nobody:secret@127.0.0.1:1/none", Accounting.PURE)
