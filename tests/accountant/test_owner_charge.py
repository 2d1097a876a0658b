"""An owner's own DP computation (the bounds assistant) is charged to the dataset-wide
budget only, atomically, and the chain's recomputed totals include it (both backends)."""

from __future__ import annotations

import pytest

from accountant import Budget, BudgetExhausted, cost_of


def _owner_charge(ledger, eps):  # type: ignore[no-untyped-def]
    return ledger.charge_owner("olivia", cost_of(ledger.accounting, eps, 0), query_id="q_s",
                               sql="suggest visits", detail={"assistant": "suggest"},
                               reason="setting up visits")


def test_an_owner_charge_counts_against_the_dataset_only(pure) -> None:  # type: ignore[no-untyped-def]
    pure.set_dataset_budget(Budget.of(2, 1e-6), actor="olivia", reason="cap")
    status = _owner_charge(pure, 1.5)
    assert status.dataset_remaining == Budget.of(0.5, 1e-6)
    assert pure.status("alice").spent == Budget.of(0, 0)  # no analyst pays for it
    with pytest.raises(BudgetExhausted) as info:
        _owner_charge(pure, 1)
    assert info.value.which == "dataset"
    (entry,) = [e for e in pure.entries(None) if e.kind == "owner_charge"]
    assert (entry.analyst, entry.actor, entry.reason) == ("olivia", "olivia", "setting up visits")
    report = pure.verify()
    assert report.ok, report.reason


def test_without_a_dataset_budget_an_owner_charge_is_recorded(pure) -> None:  # type: ignore[no-untyped-def]
    _owner_charge(pure, 3)
    pure.set_dataset_budget(Budget.of(10, 1e-6), actor="olivia", reason="cap later")
    assert pure.status("alice").dataset_spent == Budget.of(3, 0)  # it was counted all along
    assert pure.verify().ok
