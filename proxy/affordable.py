"""How many more queries like this one fit: the ledger's own admission rule
(`BudgetStatus.blocked_by`, both the analyst's and the dataset's budgets) applied to n
charges composed together, so that "about K more" is what the ledger would admit."""

from __future__ import annotations

from accountant import Cost
from accountant.ledger.records import BudgetStatus

__all__ = ["MAX_AFFORDABLE", "affordable"]

MAX_AFFORDABLE = 1_000_000


def _times(cost: Cost, n: int) -> Cost:
    return Cost(cost.epsilon * n, cost.delta * n, cost.rho * n, cost.accounting,
                cost.delta_add * n)


def affordable(status: BudgetStatus, cost: Cost) -> int:
    """How many queries at `cost` fit both remaining budgets, by the ledger's own rule
    (`BudgetStatus.blocked_by`) applied to n charges composed together."""
    if status.blocked_by(cost) is not None:
        return 0
    if cost.epsilon == 0 and cost.delta == 0:
        return MAX_AFFORDABLE
    fits, over = 1, 2
    while over <= MAX_AFFORDABLE and status.blocked_by(_times(cost, over)) is None:
        fits, over = over, over * 2
    if over > MAX_AFFORDABLE:
        return MAX_AFFORDABLE if status.blocked_by(_times(cost, MAX_AFFORDABLE)) is None else \
            _search(status, cost, fits, MAX_AFFORDABLE + 1)
    return _search(status, cost, fits, over)


def _search(status: BudgetStatus, cost: Cost, fits: int, over: int) -> int:
    while over - fits > 1:
        middle = (fits + over) // 2
        if status.blocked_by(_times(cost, middle)) is None:
            fits = middle
        else:
            over = middle
    return fits
