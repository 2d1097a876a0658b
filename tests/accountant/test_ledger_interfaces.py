"""The ledger's small interfaces: the composite is exactly their union, each SQL
backend is an instance of every one, and each is served by its own SQL part."""

import abc
import inspect

import pytest

import accountant
from accountant import Accounting, Budget, cost_of, open_ledger
from accountant import ledger as ledger_package
from accountant.ledger import (
    AnalystRegistry,
    AnswerCache,
    AuditTrail,
    BudgetLedger,
    Ledger,
    TableLog,
    TamperEvidence,
)
from accountant.ledger._sql import (
    SqlAnalystRegistry,
    SqlAnswerCache,
    SqlAuditTrail,
    SqlBudgetLedger,
    SqlLedger,
    SqlTableLog,
    SqlTamperEvidence,
)

# each interface and the SQL part that implements it
PARTS = {
    BudgetLedger: SqlBudgetLedger,
    AnalystRegistry: SqlAnalystRegistry,
    AnswerCache: SqlAnswerCache,
    TableLog: SqlTableLog,
    AuditTrail: SqlAuditTrail,
    TamperEvidence: SqlTamperEvidence,
}
INTERFACES = list(PARTS)


def _abstract(cls: type) -> set[str]:
    return set(getattr(cls, "__abstractmethods__", ()))


def test_the_composite_is_every_interface_and_nothing_else():
    for interface in INTERFACES:
        assert issubclass(Ledger, interface), interface.__name__
        assert _abstract(interface), f"{interface.__name__} promises nothing"
    # every operation of Ledger belongs to exactly one interface (close is the composite's)
    seen: dict[str, str] = {}
    for interface in INTERFACES:
        for name in _abstract(interface):
            assert name not in seen, f"{name} is in both {seen[name]} and {interface.__name__}"
            seen[name] = interface.__name__
    assert _abstract(Ledger) == set(seen) | {"close"}


def test_every_operation_states_its_contract():
    for interface in [*INTERFACES, Ledger]:
        assert (interface.__doc__ or "").strip(), interface.__name__
        for name in _abstract(interface) & set(vars(interface)):
            assert (getattr(interface, name).__doc__ or "").strip(), f"{interface.__name__}.{name}"


def test_the_interfaces_are_exported_and_documented():
    described = " ".join((ledger_package.__doc__ or "").split())
    for interface in [*INTERFACES, Ledger]:
        name = interface.__name__
        assert getattr(accountant, name) is interface and name in accountant.__all__
        assert getattr(ledger_package, name) is interface and name in ledger_package.__all__
        assert f":class:`{name}`" in described, f"accountant.ledger's docstring omits {name}"


@pytest.mark.parametrize("interface", INTERFACES, ids=lambda i: i.__name__)
def test_each_sql_part_implements_its_interface_alone(interface):
    part = PARTS[interface]
    assert issubclass(part, interface)
    for other in INTERFACES:
        if other is not interface:
            assert not issubclass(part, other), f"{part.__name__} is also {other.__name__}"
    # the part leaves nothing of its interface abstract: only the backend's transactions
    # and the hooks other parts fill in remain
    assert not _abstract(interface) & _abstract(part), part.__name__


def test_the_sql_ledger_is_composed_of_one_part_per_interface():
    assert issubclass(SqlLedger, Ledger)
    for interface, part in PARTS.items():
        assert issubclass(SqlLedger, part)
        for name in _abstract(interface):
            # the operation SqlLedger runs is the one its interface's part defines
            owner = next(c for c in SqlLedger.__mro__ if name in vars(c))
            assert owner is part, f"{name} comes from {owner.__name__}, not {part.__name__}"
    assert _abstract(SqlLedger) == {"_read", "_write", "_write_answer", "close"}


def test_each_backend_is_every_interface(ledger_url):
    opened = open_ledger(ledger_url, Accounting.PURE)
    try:
        assert isinstance(opened, SqlLedger) and isinstance(opened, Ledger)
        assert not inspect.isabstract(type(opened))
        for interface in INTERFACES:
            assert isinstance(opened, interface), interface.__name__
        # and each side works through its narrow type: a charge through BudgetLedger
        # shows in the AuditTrail and is covered by TamperEvidence
        budget: BudgetLedger = opened
        trail: AuditTrail = opened
        evidence: TamperEvidence = opened
        budget.set_grant("alice", Budget.of(1.0, 0), None, actor="olivia", reason="seed")
        receipt = budget.charge("alice", cost_of(Accounting.PURE, 0.25, 0), query_id="q1",
                                sql="SELECT COUNT(*) FROM t", detail={})
        assert trail.latest_entry("charge", analyst="alice").seq == receipt.seq
        entries, head, _, _ = evidence.head()
        assert (entries, head) == (receipt.seq, receipt.hash)
        assert evidence.verify().ok
    finally:
        opened.close()


def test_abc_is_the_interfaces_only_base():
    # small interfaces stay independent: none builds on another
    for interface in INTERFACES:
        assert interface.__bases__ == (abc.ABC,), interface.__name__
