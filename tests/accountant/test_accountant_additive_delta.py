"""Approximate zCDP in the ledger, on both backends: partition selection's
additive δ is summed exactly beside ρ, shrinks what ρ a grant still holds, is
refused once it would reach the grant's δ (analyst's or dataset's), and is
covered by the hash chain and by verify's recomputation of the totals."""

from fractions import Fraction

import pytest

from accountant import (
    Accounting,
    Budget,
    BudgetExhausted,
    Cost,
    InvalidParameter,
    capacity_for,
    cost_of,
    epsilon_from_rho,
    open_ledger,
    rho_for,
)
from accountant.ledger.chain import entry_hash
from tests.accountant.raw import execute, fetch_row

EPS_B, DELTA_B = Fraction(1), Fraction(1, 10**5)


@pytest.fixture
def ledger(ledger_url):
    ledger = open_ledger(ledger_url, Accounting.ZCDP)
    ledger.set_grant("alice", Budget(EPS_B, DELTA_B), None, actor="olivia", reason="seed")
    yield ledger
    ledger.close()


def selection_cost(epsilon, delta, delta_add):
    return cost_of(Accounting.ZCDP, epsilon, delta, delta_add)


def charge(ledger, cost, analyst="alice", i=0):
    return ledger.charge(analyst, cost, query_id=f"q{i}", sql=f"SELECT {i}",
                         detail={"partition_selection": {"delta": str(cost.delta_add)}})


def test_a_selection_cost_converts_only_the_rest_of_delta():
    cost = selection_cost("0.5", "1e-6", "4e-7")
    assert cost.delta_add == Fraction(4, 10**7)
    assert cost.rho == rho_for(Fraction(1, 2), Fraction(6, 10**7))
    assert cost.rho < cost_of(Accounting.ZCDP, "0.5", "1e-6").rho
    with pytest.raises(InvalidParameter, match="delta_add"):
        selection_cost("0.5", "1e-6", "1e-6")  # nothing left to convert ρ
    # pure accounting sums all of δ already: the split changes nothing there
    assert cost_of(Accounting.PURE, "0.5", "1e-6", "4e-7") == cost_of(Accounting.PURE, "0.5",
                                                                       "1e-6")
    with pytest.raises(InvalidParameter, match="rho must be 0"):
        Cost(Fraction(1), Fraction(1, 10**6), Fraction(0), Accounting.PURE, Fraction(1, 10**7))


def test_additive_delta_is_summed_exactly_and_shrinks_the_capacity(ledger):
    step = selection_cost("0.1", "2e-6", "1e-6")
    previous_capacity = capacity_for(EPS_B, DELTA_B, Fraction(0))
    for i in range(1, 4):
        status = charge(ledger, step, i=i).status
        assert status.spent_delta_add == i * Fraction(1, 10**6)
        assert status.spent_rho == i * step.rho
        capacity = rho_for(EPS_B, DELTA_B - i * Fraction(1, 10**6))
        assert capacity < previous_capacity
        previous_capacity = capacity
        assert status.remaining_rho == capacity - i * step.rho
        conversion = DELTA_B - status.spent_delta_add
        # spent: the ε of the composed ρ at the δ left to convert it (rounded up to the
        # grant's 6th digit), and the δ selection used up; remaining: the grant less that
        exact = epsilon_from_rho(status.spent_rho, conversion, "up")
        assert exact <= status.spent.epsilon < exact + Fraction(1, 10**5)
        assert status.spent.delta == status.spent_delta_add
        assert status.shown.share == exact / EPS_B
        assert status.remaining == Budget(EPS_B - status.spent.epsilon, conversion)
        # the dataset-wide totals (no dataset limit here) carry the same figures
        assert status.dataset_totals.delta_add == status.spent_delta_add
    assert ledger.verify().ok


def test_a_charge_that_fits_only_if_the_additive_delta_were_ignored_is_refused(ledger):
    # Spend 0.9e-5 of δ_B = 1e-5 additively: only 1e-6 is left to convert ρ.
    charge(ledger, selection_cost("0.01", "9.5e-6", "9e-6"))
    status = ledger.status("alice")
    spent = status.spent_rho
    shrunk = rho_for(EPS_B, DELTA_B - Fraction(9, 10**6))
    assert status.remaining_rho == shrunk - spent
    # a plain query between the shrunk capacity and the one δ_add would not touch
    plain = cost_of(Accounting.ZCDP, 1, "1e-6")
    assert spent + plain.rho > shrunk
    assert spent + plain.rho <= rho_for(EPS_B, DELTA_B)
    with pytest.raises(BudgetExhausted) as info:
        charge(ledger, plain, i=1)
    assert info.value.which == "analyst"
    # a smaller one that fits the shrunk capacity is taken
    small = cost_of(Accounting.ZCDP, "0.05", "1e-6")
    assert spent + small.rho <= shrunk
    charge(ledger, small, i=2)


def test_additive_delta_reaching_the_grant_delta_is_refused_and_records_nothing(ledger):
    charge(ledger, selection_cost("0.01", "6e-6", "5e-6"))
    charge(ledger, selection_cost("0.01", "6e-6", "4e-6"), i=1)
    before = ledger.entries()
    assert ledger.status("alice").spent_delta_add == Fraction(9, 10**6)
    # Σδ_add would become exactly δ_B: nothing is left to convert any ρ
    with pytest.raises(BudgetExhausted) as info:
        charge(ledger, selection_cost("0.0001", "2e-6", "1e-6"), i=2)
    assert info.value.code == "budget_exhausted" and info.value.which == "analyst"
    assert ledger.entries() == before
    # just below δ_B, with a tiny ρ, still fits
    charge(ledger, selection_cost("0.0001", "1e-6", "9.99e-7"), i=3)
    status = ledger.status("alice")
    assert status.spent_delta_add == Fraction(9999, 10**9)
    assert status.remaining.delta == DELTA_B - status.spent_delta_add


def test_the_dataset_budget_sums_additive_delta_over_analysts(ledger):
    ledger.set_grant("bob", Budget(EPS_B, DELTA_B), None, actor="olivia", reason="seed")
    ledger.set_dataset_budget(Budget(Fraction(2), Fraction(1, 10**5)), actor="olivia",
                              reason="cap")
    charge(ledger, selection_cost("0.01", "7e-6", "6e-6"))
    status = ledger.status("bob")
    assert status.dataset_totals.delta_add == Fraction(6, 10**6)
    assert status.dataset_remaining.delta == Fraction(4, 10**6)
    # bob alone could spend 5e-6 additively; together they would reach the dataset's δ
    with pytest.raises(BudgetExhausted) as info:
        charge(ledger, selection_cost("0.01", "6e-6", "5e-6"), analyst="bob", i=1)
    assert info.value.which == "dataset"
    assert ledger.status("bob").blocked_by(selection_cost("0.01", "4e-6", "3e-6")) is None
    charge(ledger, selection_cost("0.01", "4e-6", "3e-6"), analyst="bob", i=2)
    assert ledger.status("bob").dataset_totals.delta_add == Fraction(9, 10**6)


def test_pure_charges_and_plain_zcdp_charges_store_no_additive_delta(ledger, ledger_url):
    charge(ledger, cost_of(Accounting.ZCDP, "0.1", "1e-7"))
    charge(ledger, selection_cost("0.1", "1e-6", "5e-7"), i=1)
    rows = [e for e in ledger.entries() if e.kind == "charge"]
    assert [r.delta_add for r in rows] == [None, Fraction(5, 10**7)]
    stored = fetch_row(ledger_url, "SELECT delta_add FROM entries WHERE kind = 'charge' "
                                   "AND query_id = 'q0'")
    assert stored["delta_add"] is None


@pytest.fixture
def spent(ledger):
    charge(ledger, cost_of(Accounting.ZCDP, "0.1", "1e-7"))           # seq 2
    charge(ledger, selection_cost("0.1", "1e-6", "5e-7"), i=1)        # seq 3
    charge(ledger, selection_cost("0.2", "1e-6", "4e-7"), i=2)        # seq 4
    assert ledger.verify().ok
    return ledger


def test_verify_recomputes_the_additive_total(spent, ledger_url):
    execute(ledger_url, "UPDATE totals SET delta_add = '0.0000005' WHERE scope = 'analyst'")
    report = spent.verify()
    assert not report.ok and "running totals" in report.reason


def test_an_edited_additive_delta_is_caught(spent, ledger_url):
    execute(ledger_url, "UPDATE entries SET delta_add = '0.0000001' WHERE seq = 3",
            bypass_triggers=True)
    report = spent.verify()
    assert not report.ok and report.first_bad == 3 and "altered" in report.reason


def test_an_additive_delta_added_or_removed_afterwards_is_caught(spent, ledger_url):
    execute(ledger_url, "UPDATE entries SET delta_add = NULL WHERE seq = 4",
            bypass_triggers=True)
    assert spent.verify().first_bad == 4
    execute(ledger_url, "UPDATE entries SET delta_add = '0.0000004' WHERE seq = 4",
            bypass_triggers=True)
    assert spent.verify().ok
    execute(ledger_url, "UPDATE entries SET delta_add = '0' WHERE seq = 2",
            bypass_triggers=True)
    assert spent.verify().first_bad == 2


def test_a_rehashed_additive_delta_and_head_are_caught_by_the_totals(spent, ledger_url):
    # the last entry, rehashed, with the head moved along: the chain itself holds,
    # only the recomputed totals can tell
    row = fetch_row(ledger_url, "SELECT * FROM entries WHERE seq = 4")
    row["delta_add"] = "0.0000001"
    digest = entry_hash(row)
    execute(ledger_url, "UPDATE entries SET delta_add = ?, hash = ? WHERE seq = 4",
            (row["delta_add"], digest), bypass_triggers=True)
    execute(ledger_url, "UPDATE head SET hash = ? WHERE id = 1", (digest,))
    report = spent.verify()
    assert not report.ok and "running totals" in report.reason


def test_a_ledger_written_before_the_column_existed_opens_and_verifies(ledger_url):
    ledger = open_ledger(ledger_url, Accounting.ZCDP)
    ledger.set_grant("alice", Budget(EPS_B, DELTA_B), None, actor="olivia", reason="seed")
    charge(ledger, cost_of(Accounting.ZCDP, "0.1", "1e-7"))
    before = ledger.status("alice")
    ledger.close()
    for table in ("entries", "totals"):
        execute(ledger_url, f"ALTER TABLE {table} DROP COLUMN delta_add", bypass_triggers=True)
    reopened = open_ledger(ledger_url, Accounting.ZCDP)
    try:
        assert reopened.verify().ok
        assert reopened.status("alice") == before
        charge(reopened, selection_cost("0.1", "1e-6", "5e-7"), i=1)
        assert reopened.status("alice").spent_delta_add == Fraction(5, 10**7)
        assert reopened.verify().ok
    finally:
        reopened.close()
