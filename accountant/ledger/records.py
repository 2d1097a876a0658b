"""The values a ledger hands back, and the budget rules shared by every backend.

The rules live here, not in a backend, so that SQLite and a later PostgreSQL
ledger take exactly the same decisions from the same totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, Literal, NamedTuple, cast

from accountant.budget import Budget
from accountant.composition import Accounting, Cost, capacity_for, rho_for
from accountant.errors import InvalidParameter, Which
from accountant.presentation import Shown, admits, charge_share, expired, present, share_used

# owner_charge: an owner's own DP computation (the bounds assistant), charged to the
# dataset-wide budget only (owners hold no grant)
EntryKind = Literal["grant", "dataset_budget", "charge", "owner_charge", "analyst", "table"]
ENTRY_KINDS: tuple[EntryKind, ...] = ("grant", "dataset_budget", "charge", "owner_charge",
                                      "analyst", "table")
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

    def minus(self, cost: Cost) -> Spent:
        """The totals before ``cost`` was added (for the share a charge took)."""
        if cost.accounting is Accounting.PURE:
            return Spent(self.epsilon - cost.epsilon, self.delta - cost.delta, self.rho,
                         self.delta_add)
        return Spent(self.epsilon, self.delta, self.rho - cost.rho,
                     self.delta_add - cost.delta_add)


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

    ``spent`` and ``remaining`` are the figures people see
    (:mod:`accountant.presentation`): they add up to the grant, spent rounded
    up and remaining down; under zCDP spent ε is the ε of the composed ρ at
    the δ the grant has left, and spent δ the additive δ of partition
    selection. ``shown``/``dataset_shown`` carry the shares; admission is
    share ≤ 1 for both (:meth:`blocked_by`). ``spent_rho``/``remaining_rho``/
    ``spent_delta_add`` are the exact figures (0 under pure accounting).
    ``granted`` is None when the analyst never received a grant; dataset
    fields are None when there is no dataset-wide limit.
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
    totals: Spent = Spent()
    shown: Shown | None = None
    dataset_shown: Shown | None = None

    def blocked_by(self, cost: Cost) -> Which | None:
        """Which limit would refuse ``cost`` (None: it fits): the share after it
        exceeds 1. The one test the ledger's charge and ``explain`` both use."""
        if self.expired:
            return "expired"
        if self.granted is None or not admits(
            self.accounting, self.granted, self.totals.plus(cost)
        ):
            return "analyst"
        if self.dataset_granted is not None and not admits(
            self.accounting, self.dataset_granted, (self.dataset_totals or Spent()).plus(cost)
        ):
            return "dataset"
        return None

    def dataset_admits(self, cost: Cost) -> bool:
        """True when `cost` fits the dataset-wide budget (or there is none): the test
        of an owner's charge, which no analyst grant limits."""
        return self.dataset_granted is None or admits(
            self.accounting, self.dataset_granted, (self.dataset_totals or Spent()).plus(cost))

    def share_of(self, cost: Cost) -> tuple[Fraction | None, Fraction | None]:
        """The part of the analyst's and of the dataset's grant ``cost`` would take from
        here (rounded up; None without a grant, or where no share can be stated)."""
        return self._delta_share(cost, +1)

    def share_taken(self, cost: Cost) -> tuple[Fraction | None, Fraction | None]:
        """The same for a status read right after ``cost`` was charged (a receipt's)."""
        return self._delta_share(cost, -1)

    def _delta_share(self, cost: Cost, sign: int) -> tuple[Fraction | None, Fraction | None]:
        def part(grant: Budget | None, totals: Spent) -> Fraction | None:
            if grant is None:
                return None
            other = totals.plus(cost) if sign > 0 else totals.minus(cost)
            low, high = (totals, other) if sign > 0 else (other, totals)
            return charge_share(share_used(self.accounting, grant, low),
                                share_used(self.accounting, grant, high))
        theirs = None
        if self.dataset_granted is not None:
            theirs = part(self.dataset_granted, self.dataset_totals or Spent())
        return part(self.granted, self.totals), theirs


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
    """Outcome of recomputing the hash chain and everything derived from it.

    ``entries`` is how many entries the ledger holds, ``checked`` how many
    verified before the walk stopped, ``first_bad`` the first seq that fails
    (None when the problem is not one entry's); ``head`` the hash of the last
    entry that verified. ``attempts``/``attempts_head`` the same for the
    attempts log; ``checkpoints`` how many signed checkpoints were checked.
    """

    ok: bool
    entries: int
    head: str
    first_bad: int | None
    reason: str | None
    checked: int = 0
    attempts: int = 0
    attempts_head: str = "0" * 64
    checkpoints: int = 0


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


def check_analyst(name: str, role: str, key_sha256: str) -> Role:
    """Refuse a registry entry that could not authenticate anyone, before it is logged;
    the role, checked."""
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
    return cast(Role, role)


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
    is_expired = expires is not None and now >= expires
    shown: Shown | None = None
    if grant is None:  # never granted, so nothing was ever spent either
        spent_b, remaining_b, remaining_rho = Budget.zero(), Budget.zero(), Fraction(0)
    else:
        shown = present(accounting, grant, spent)
        if is_expired:
            shown = expired(shown)
        spent_b, remaining_b = shown.spent, shown.remaining
        remaining_rho = Fraction(0) if is_expired else _room(accounting, grant, spent)
    d_spent = d_remaining = None
    d_rho: Fraction | None = None
    d_shown: Shown | None = None
    if dataset is not None:
        d_shown = present(accounting, dataset, dataset_spent)
        d_spent, d_remaining = d_shown.spent, d_shown.remaining
        d_rho = _room(accounting, dataset, dataset_spent)
    return BudgetStatus(
        analyst=analyst,
        accounting=accounting,
        granted=grant,
        spent=spent_b,
        remaining=remaining_b,
        expires=expires,
        expired=is_expired,
        spent_rho=spent.rho,
        remaining_rho=remaining_rho,
        dataset_granted=dataset,
        dataset_spent=d_spent,
        dataset_remaining=d_remaining,
        dataset_remaining_rho=d_rho,
        spent_delta_add=spent.delta_add,
        dataset_totals=dataset_spent,
        totals=spent,
        shown=shown,
        dataset_shown=d_shown,
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


def _room(accounting: Accounting, grant: Budget, spent: Spent) -> Fraction:
    """The ρ left under zCDP (exact, 0 once nothing fits); 0 under pure (unused)."""
    if accounting is Accounting.PURE:
        return Fraction(0)
    cap = capacity_for(grant.epsilon, grant.delta, spent.delta_add)
    return Fraction(0) if cap is None else max(Fraction(0), cap - spent.rho)
