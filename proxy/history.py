"""Spend over time: the ledger's charges replayed in order, each point showing what was
spent so far the way every other front end shows a budget (accountant.presentation).

Spending is cumulative exposure: the composed total only grows, so the series never goes
down. Every point is stated against the grant as it stands *now* (the share of today's
grant that the charges up to that point take), so that a series reads on one scale even
when an owner raised the grant in between; the grant's own history is in the ledger's
`grant` entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from accountant import Budget
from accountant.composition import Accounting, Cost
from accountant.ledger.records import Entry, Spent
from accountant.presentation import present

from .schemas import Spend, SpendHistory, SpendPoint

__all__ = ["spend_history"]


def _cost(entry: Entry, accounting: Accounting) -> Cost:
    zero = Fraction(0)
    return Cost(entry.epsilon or zero, entry.delta or zero, entry.rho or zero, accounting,
                entry.delta_add or zero)


def spend_history(entries: Iterable[Entry], accounting: Accounting, grant: Budget | None,
                  *, analyst: str | None, kinds: tuple[str, ...] = ("charge",)) -> SpendHistory:
    """The running spend after each charge among `entries` (already filtered to the scope:
    one analyst's charges, or every charge for the dataset)."""
    totals = Spent()
    points = []
    for entry in entries:
        if entry.kind not in kinds:
            continue
        cost = _cost(entry, accounting)
        totals = totals.plus(cost)
        spent = share = None
        if grant is not None:
            shown = present(accounting, grant, totals)
            spent = Spend(epsilon=float(shown.spent.epsilon), delta=float(shown.spent.delta))
            share = None if shown.share_shown is None else float(shown.share_shown)
        elif accounting is Accounting.PURE:
            spent = Spend(epsilon=float(totals.epsilon), delta=float(totals.delta))
        points.append(SpendPoint(
            seq=entry.seq, timestamp=entry.timestamp, query_id=entry.query_id,
            analyst=entry.analyst,
            charged=Spend(epsilon=float(cost.epsilon), delta=float(cost.delta)),
            spent=spent, share_used=share))
    return SpendHistory(
        analyst=analyst, accounting=accounting.value,
        granted=None if grant is None else Spend(epsilon=float(grant.epsilon),
                                                 delta=float(grant.delta)),
        points=points)
