"""The values a ledger hands back, and the budget rules shared by every backend.

The rules live here, not in a backend, so that SQLite and a later PostgreSQL
ledger take exactly the same decisions from the same totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, Literal, NamedTuple

from accountant.budget import Budget
from accountant.composition import Accounting, Cost, capacity_for, epsilon_from_rho, rho_for
from accountant.errors import InvalidParameter, Which

# owner_charge: an owner's own DP computation (the bounds assistant), charged to the
# dataset-wide budget only (owners hold no grant)
EntryKind = Literal["grant", "dataset_budget", "charge", "owner_charge", "analyst", "table"]
Role = Literal["analyst", "owner", "compliance"]
ROLES: tuple[Role, ...] = ("analyst", "owner", "compliance")


@dataclass(frozen=True)
class Spent:
    """Running totals of what charges composed: ε and δ under pure; ρ and the
    additive δ (partition selection's) under zCDP."""

    epsilon: Fraction = Fraction(0)
    delta: Fraction = Fraction(0)
    rho: Fraction = Fraction(0)
    delta_add: Fraction = Fraction(0)

    def plus(self, cost: Cost) -> Spent:
        if cost.accounting is Accounting.PURE:
            return Spent(self.epsilon + cost.epsilon, self.delta + cost.delta, self.rho,
                         self.delta_add)
        return Spent(self.epsilon, self.delta, self.rho + cost.rho,
                     self.delta_add + cost.delta_add)


@dataclass(frozen=True)
class Entry:
    """One row of the hash-chained log, as stored."""

    seq: int
    timestamp: str
    kind: EntryKind
    analyst: str | None
    actor: str | None
    reason: str | None
    query_id: str | None
    sql: str | None
    epsilon: Fraction | None
    delta: Fraction | None
    rho: Fraction | None
    expires: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str
    delta_add: Fraction | None = None  # zCDP charges with partition selection only


@dataclass(frozen=True)
class BudgetStatus:
    """An analyst's and the dataset's budgets at one instant.

    Under zCDP, spent and remaining ε are stated at the grant's δ: spent ε is
    converted from spent ρ rounded up, remaining ε from remaining ρ rounded
    down, so neither flatters the analyst. When partition selection spent an
    additive Σδ_add, only δ_B − Σδ_add is left to convert ρ: spent is stated
    as (ε at δ_B − Σδ_add, δ_B) and remaining as (ε, δ_B − Σδ_add).
    ``spent_rho``/``remaining_rho``/``spent_delta_add`` are the exact figures
    (0 under pure accounting). ``granted`` is None when the analyst never
    received a grant; dataset fields are None when there is no dataset-wide
    limit.
    """

    analyst: str
    accounting: Accounting
    granted: Budget | None
    spent: Budget
    remaining: Budget
    expires: datetime | None
    expired: bool
    spent_rho: Fraction
    remaining_rho: Fraction
    dataset_granted: Budget | None
    dataset_spent: Budget | None
    dataset_remaining: Budget | None
    dataset_remaining_rho: Fraction | None
    spent_delta_add: Fraction = Fraction(0)
    dataset_totals: Spent | None = None

    def blocked_by(self, cost: Cost) -> Which | None:
        """Which limit would refuse ``cost`` (None: it fits). Used by charge and explain."""
        if self.expired:
            return "expired"
        if self.granted is None or not _fits(
            self.accounting, cost, self.remaining, self.granted,
            Spent(rho=self.spent_rho, delta_add=self.spent_delta_add),
        ):
            return "analyst"
        if (
            self.dataset_remaining is not None
            and self.dataset_granted is not None
            and not _fits(self.accounting, cost, self.dataset_remaining, self.dataset_granted,
                          self.dataset_totals or Spent())
        ):
            return "dataset"
        return None


@dataclass(frozen=True)
class Receipt:
    """Proof that a charge was committed, and the budgets right after it."""

    seq: int
    query_id: str
    cost: Cost
    hash: str
    timestamp: str
    status: BudgetStatus


@dataclass(frozen=True)
class AnalystRecord:
    """Who may call the proxy, as the ledger's registry says now.

    ``key_sha256`` is the SHA-256 of the API key (the key itself is never
    stored). A disabled analyst stays in the registry with what it spent;
    callers authenticating a key must refuse a disabled record.
    """

    name: str
    role: Role
    key_sha256: str
    disabled: bool


class AnalystShare(NamedTuple):
    """One analyst's spend and its part of everything all analysts spent together.

    ``share`` is the analyst's composed spend (ε under pure, ρ under zCDP)
    divided by the dataset-wide composed spend; the shares add up to 1 once
    anything was spent (all are 0 before).
    """

    analyst: str
    spent: Budget
    share: Fraction


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of recomputing the hash chain: ``first_bad`` is the first seq that fails."""

    ok: bool
    entries: int
    head: str
    first_bad: int | None
    reason: str | None


def capacity(accounting: Accounting, budget: Budget) -> Fraction:
    """The ρ a budget holds under zCDP (rounded down); 0 under pure (unused)."""
    if accounting is Accounting.PURE or budget.epsilon == 0:
        return Fraction(0)
    return rho_for(budget.epsilon, budget.delta)


def check_grantable(accounting: Accounting, budget: Budget) -> None:
    """Refuse a budget the accounting cannot hold, before it reaches the log."""
    if accounting is Accounting.ZCDP and budget.delta == 0:
        # Even a revoking ε = 0 grant needs δ: spent ρ is shown as ε at the grant's δ.
        raise InvalidParameter(
            "zCDP accounting needs a budget with delta > 0 (rho-zCDP gives (epsilon, delta)-DP "
            "only for delta > 0); give the budget a small positive delta such as 1e-6"
        )


def check_analyst(name: str, role: str, key_sha256: str) -> None:
    """Refuse a registry entry that could not authenticate anyone, before it is logged."""
    if not name or name != name.strip():
        raise InvalidParameter(
            f"analyst name {name!r} must be non-empty, without leading or trailing spaces"
        )
    if role not in ROLES:
        raise InvalidParameter(
            f"analyst {name!r}: role {role!r} is not one of {', '.join(ROLES)}"
        )
    if len(key_sha256) != 64 or any(c not in "0123456789abcdef" for c in key_sha256):
        raise InvalidParameter(
            f"analyst {name!r}: the key hash must be the SHA-256 of the key as 64 lowercase "
            f"hex digits (got {len(key_sha256)} characters); the raw key is never stored"
        )


def status_from(
    *,
    analyst: str,
    accounting: Accounting,
    grant: Budget | None,
    expires: datetime | None,
    spent: Spent,
    dataset: Budget | None,
    dataset_spent: Spent,
    now: datetime,
) -> BudgetStatus:
    """Derive every displayed figure from the grant, the totals and the clock."""
    expired = expires is not None and now >= expires
    if grant is None:  # never granted, so nothing was ever spent either
        spent_b, remaining_b, remaining_rho = Budget.zero(), Budget.zero(), Fraction(0)
    else:
        spent_b, remaining_b, remaining_rho = _figures(accounting, grant, spent)
    if expired:
        remaining_b, remaining_rho = Budget.zero(), Fraction(0)
    d_spent = d_remaining = None
    d_rho: Fraction | None = None
    if dataset is not None:
        d_spent, d_remaining, d_rho = _figures(accounting, dataset, dataset_spent)
    return BudgetStatus(
        analyst=analyst,
        accounting=accounting,
        granted=grant,
        spent=spent_b,
        remaining=remaining_b,
        expires=expires,
        expired=expired,
        spent_rho=spent.rho,
        remaining_rho=remaining_rho,
        dataset_granted=dataset,
        dataset_spent=d_spent,
        dataset_remaining=d_remaining,
        dataset_remaining_rho=d_rho,
        spent_delta_add=spent.delta_add,
        dataset_totals=dataset_spent,
    )


def as_utc(moment: datetime | None) -> datetime:
    """Aware UTC datetime; a naive one is taken to be UTC already."""
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """How timestamps are stored and compared: UTC ISO 8601 to the microsecond."""
    return as_utc(moment).isoformat(timespec="microseconds")


def _figures(
    accounting: Accounting, grant: Budget, spent: Spent
) -> tuple[Budget, Budget, Fraction]:
    if accounting is Accounting.PURE:
        remaining = Budget(
            max(Fraction(0), grant.epsilon - spent.epsilon),
            max(Fraction(0), grant.delta - spent.delta),
        )
        # Spent δ stays below 1: every charge fitted under some grant's δ < 1.
        return Budget(spent.epsilon, spent.delta), remaining, Fraction(0)
    cap = capacity_for(grant.epsilon, grant.delta, spent.delta_add)
    if cap is None:
        # The additive δ alone used up the grant's δ (possible only after the grant
        # was lowered): nothing is left, and the spend is stated at δ' = δ_B on top.
        spent_eps = epsilon_from_rho(spent.rho, grant.delta, "up")
        spent_delta = spent.delta_add + (grant.delta if spent.rho > 0 else Fraction(0))
        return Budget(spent_eps, spent_delta), Budget.zero(), Fraction(0)
    conversion = grant.delta - spent.delta_add  # the δ' that converts ρ into ε
    left = max(Fraction(0), cap - spent.rho)
    spent_eps = epsilon_from_rho(spent.rho, conversion, "up")
    if spent.rho <= cap:
        # The true ε of at most ρ_B is at most ε_B; don't let the 40th digit say otherwise.
        spent_eps = min(spent_eps, grant.epsilon)
    left_eps = epsilon_from_rho(left, conversion, "down")
    return (
        Budget(spent_eps, grant.delta if spent.rho > 0 else spent.delta_add),
        Budget(left_eps, conversion if left > 0 else Fraction(0)),
        left,
    )


def dataset_fits(status: BudgetStatus, cost: Cost) -> bool:
    """True when `cost` fits the dataset-wide budget (or there is none)."""
    if status.dataset_remaining is None or status.dataset_granted is None:
        return True
    return _fits(status.accounting, cost, status.dataset_remaining, status.dataset_granted,
                 status.dataset_totals or Spent())


def _fits(
    accounting: Accounting, cost: Cost, remaining: Budget, grant: Budget, spent: Spent
) -> bool:
    """Pure: the cost fits what remains of ε and of δ. zCDP: after the charge, the
    summed additive δ stays below the grant's δ and the summed ρ within the
    capacity that the rest of δ leaves (:func:`capacity_for`)."""
    if accounting is Accounting.PURE:
        return cost.epsilon <= remaining.epsilon and cost.delta <= remaining.delta
    cap = capacity_for(grant.epsilon, grant.delta, spent.delta_add + cost.delta_add)
    return cap is not None and spent.rho + cost.rho <= cap
