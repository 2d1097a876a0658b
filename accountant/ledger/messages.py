"""Wording of budget refusals: which limit, what is left of each, what an owner can do."""

from __future__ import annotations

from fractions import Fraction

from accountant.budget import Budget
from accountant.composition import Cost
from accountant.errors import Which
from accountant.ledger.records import BudgetStatus
from accountant.presentation import Shown, share_text


def exhausted_message(status: BudgetStatus, cost: Cost, which: Which) -> str:
    """A refusal that says which limit, what the query would take of it, how much
    remains of both (figures and shares as :mod:`accountant.presentation` shows
    them), and the fix."""
    who = status.analyst
    mine, theirs = status.share_of(cost)
    taken = {"analyst": mine, "dataset": theirs}.get(which)
    asked = f"this query costs {_pair(cost.epsilon, cost.delta)}"
    if taken is not None:
        asked += f" ({share_text(taken)} of the {which}'s budget)"
    analyst_left = f"analyst {who!r} has {_budget(status.remaining)} left{_used(status.shown)}"
    if status.dataset_remaining is None:
        dataset_left = "there is no dataset-wide limit"
    else:
        dataset_left = (
            f"the dataset-wide budget (all analysts together) has "
            f"{_budget(status.dataset_remaining)} left{_used(status.dataset_shown)}"
        )
    raise_grant = (
        f"a data owner can raise the grant with `dpsql analysts budget {who} ...` "
        f"or PATCH /v1/admin/analysts/{who}/budget"
    )
    if which == "expired":
        when = status.expires.isoformat() if status.expires else "?"
        return (
            f"the budget grant of analyst {who!r} expired at {when}; nothing more can be "
            f"spent on it. {dataset_left}. To continue, {raise_grant} with a new expiry date."
        )
    if which == "analyst" and status.granted is None:
        return (
            f"analyst {who!r} has no privacy budget grant; {asked}. To allow queries, "
            f"{raise_grant}."
        )
    if which == "analyst":
        return (
            f"{asked} but exceeds the analyst's budget: {analyst_left}; {dataset_left}. "
            f"Ask for a smaller epsilon/delta, or {raise_grant}."
        )
    return (
        f"{asked} but exceeds the dataset-wide budget: {dataset_left}; {analyst_left}. "
        f"A data owner can raise the dataset-wide budget with `dpsql budget dataset ...`, "
        f"PATCH /v1/admin/budget or privacy.dataset_budget in the configuration; note that "
        f"it bounds what all analysts together learn."
    )


def _used(shown: Shown | None) -> str:
    return "" if shown is None else f" ({share_text(shown.share)} used)"


def _budget(b: Budget) -> str:
    return _pair(b.epsilon, b.delta)


def _pair(epsilon: Fraction, delta: Fraction) -> str:
    return f"epsilon={float(epsilon):.6g}, delta={float(delta):.6g}"
