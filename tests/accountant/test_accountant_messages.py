"""budget_exhausted says which limit refused, what remains of each, and what an owner can do."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from accountant import Accounting, Budget, BudgetExhausted, cost_of


def refusal(ledger, analyst, eps, now=None):
    with pytest.raises(BudgetExhausted) as info:
        ledger.charge(analyst, cost_of(Accounting.PURE, eps, 0), query_id="q", sql="s",
                      detail={}, now=now)
    return info.value


@pytest.fixture
def capped(pure):
    pure.set_grant("bob", Budget.of(1, 0), None, actor="olivia", reason="seed")
    pure.set_dataset_budget(Budget.of(1.5, 1e-6), actor="olivia", reason="cap")
    pure.charge("alice", cost_of("pure", 0.75, 0), query_id="q", sql="s", detail={})
    pure.charge("bob", cost_of("pure", 0.5, 0), query_id="q", sql="s", detail={})
    return pure


def test_analyst_limit(capped):
    exc = refusal(capped, "alice", 0.3)
    assert exc.which == "analyst" and exc.code == "budget_exhausted"
    assert exc.message.startswith(
        "this query costs epsilon=0.3, delta=0 (30 % of the analyst's budget) but exceeds the "
        "analyst's budget: analyst 'alice' has epsilon=0.25, delta=1e-06 left (75 % used); "
        "the dataset-wide budget (all analysts together) has epsilon=0.25, delta=1e-06 left "
        "(83.34 % used).")
    assert "dpsql analysts budget alice" in exc.message
    assert "PATCH /v1/admin/analysts/alice/budget" in exc.message


def test_dataset_limit(capped):
    exc = refusal(capped, "bob", 0.3)
    assert exc.which == "dataset"
    assert "this query costs epsilon=0.3, delta=0 (20 % of the dataset's budget) but exceeds " \
           "the dataset-wide budget: the dataset-wide budget (all analysts together) has " \
           "epsilon=0.25, delta=1e-06 left (83.34 % used); analyst 'bob' has epsilon=0.5, " \
           "delta=0 left (50 % used)" in exc.message
    assert "`dpsql budget dataset ...`" in exc.message
    assert "PATCH /v1/admin/budget" in exc.message
    assert "all analysts together learn" in exc.message


def test_expired_grant(pure):
    june = datetime(2026, 6, 30, tzinfo=UTC)
    pure.set_grant("alice", Budget.of(1, 0), june, actor="olivia", reason="until June")
    exc = refusal(pure, "alice", 0.1, now=june)
    assert exc.which == "expired"
    assert "expired at 2026-06-30T00:00:00+00:00" in exc.message
    assert "there is no dataset-wide limit" in exc.message
    assert "with a new expiry date" in exc.message


def test_no_grant(pure):
    exc = refusal(pure, "mallory", 0.1)
    assert exc.message.startswith("analyst 'mallory' has no privacy budget grant")


def test_the_readme_worked_example_quotes_the_refusal_as_given(pure):
    """The README's dataset-wide example, replayed: its quoted refusal is the real one."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    quoted = readme.split("query is refused with `403 budget_exhausted`")[1]
    quoted = " ".join(quoted.split("```")[1].split())
    for name in ("alice", "bob", "chen"):
        pure.set_grant(name, Budget.of(3.0, 1e-6), None, actor="olivia", reason="seed")
    pure.set_dataset_budget(Budget.of(5.0, 1e-5), actor="olivia", reason="cap")
    for name, times in (("alice", 6), ("bob", 4)):
        for _ in range(times):
            pure.charge(name, cost_of("pure", 0.5, 0), query_id="q", sql="s", detail={})
    exc = refusal(pure, "bob", 0.5)
    assert exc.which == "dataset"
    assert " ".join(exc.message.split()) == quoted
