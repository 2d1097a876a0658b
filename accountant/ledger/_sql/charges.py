"""The charge path of the SQL ledger: grants, the dataset budget, charges (batched
by group commit) and the budget status they are checked against.

Guarantee
---------
A charge is checked and appended in one write transaction that holds the
ledger's write lock from its first statement, so two processes can never both
read the same totals and both decide a charge fits; a caller learns its
outcome only after that transaction committed durably (:mod:`..batch` says
how the batching keeps both promises).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from accountant.budget import Budget, format_fraction
from accountant.composition import Accounting, Cost
from accountant.errors import BudgetExhausted, InvalidParameter
from accountant.ledger._sql.core import COMMITTERS_LOCK, SqlCore
from accountant.ledger._sql.schema import Conn
from accountant.ledger._sql.statements import (
    DATASET,
    add_total,
    append,
    budget_of,
    latest_dataset,
    latest_grant,
    total,
)
from accountant.ledger.base import BudgetLedger
from accountant.ledger.batch import GroupCommit, Pending
from accountant.ledger.chain import canonical_json
from accountant.ledger.messages import exhausted_message
from accountant.ledger.records import (
    AnalystShare,
    BudgetStatus,
    Receipt,
    as_utc,
    check_grantable,
    iso,
    status_from,
)

__all__ = ["SqlBudgetLedger"]


class SqlBudgetLedger(SqlCore, BudgetLedger):
    """:class:`~accountant.ledger.base.BudgetLedger` over the backend's transactions."""

    _committer: GroupCommit[_Charge] | None = None  # concurrent charges, batched

    def set_grant(
        self, analyst: str, budget: Budget, expires: datetime | None, *, actor: str, reason: str
    ) -> None:
        check_grantable(self.accounting, budget)
        expires_text = None if expires is None else iso(expires)
        wanted = (format_fraction(budget.epsilon), format_fraction(budget.delta), expires_text)
        with self._chain_write() as conn:
            latest = latest_grant(conn, analyst)
            if latest is not None and (
                latest["epsilon"], latest["delta"], latest["expires"]
            ) == wanted:
                return
            append(
                conn,
                kind="grant",
                analyst=analyst,
                actor=actor,
                reason=reason,
                epsilon=wanted[0],
                delta=wanted[1],
                expires=expires_text,
            )

    def set_dataset_budget(self, budget: Budget | None, *, actor: str, reason: str) -> None:
        if budget is not None:
            check_grantable(self.accounting, budget)
        eps = None if budget is None else format_fraction(budget.epsilon)
        dlt = None if budget is None else format_fraction(budget.delta)
        with self._chain_write() as conn:
            latest = latest_dataset(conn)
            if latest is None and budget is None:
                return
            if latest is not None and (latest["epsilon"], latest["delta"]) == (eps, dlt):
                return
            append(conn, kind="dataset_budget", actor=actor, reason=reason, epsilon=eps, delta=dlt)

    def charge(
        self,
        analyst: str,
        cost: Cost,
        *,
        query_id: str,
        sql: str,
        detail: dict[str, Any],
        now: datetime | None = None,
    ) -> Receipt:
        if cost.accounting is not self.accounting:
            raise InvalidParameter(
                f"this ledger composes {self.accounting.value} costs, got a "
                f"{cost.accounting.value} cost; build it with "
                f"cost_of({self.accounting.value!r}, ...)"
            )
        request = _Charge(analyst, cost, query_id, sql, canonical_json(detail), as_utc(now))
        receipt: Receipt = self._group_commit().submit(request)
        return receipt

    def _group_commit(self) -> GroupCommit[_Charge]:
        with COMMITTERS_LOCK:
            if self._committer is None:
                self._committer = GroupCommit(self._charge_together)
            return self._committer

    def _charge_together(self, batch: Sequence[Pending[_Charge]]) -> None:
        """Charge a batch in one transaction (see :mod:`accountant.ledger.batch`)."""
        outcomes: list[Receipt | BudgetExhausted] = []
        with self._chain_write() as conn:
            # the guard checks what the charges will trust before any is appended
            for analyst in dict.fromkeys(p.request.analyst for p in batch):
                self._check_guarded(conn, analyst)
            for pending in batch:
                outcomes.append(self._charge_one(conn, pending.request))
        # committed, and so durable: only now does any caller learn its outcome
        seqs = [o.seq for o in outcomes if isinstance(o, Receipt)]
        for pending, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Receipt):
                pending.succeed(outcome)
            else:
                pending.fail(outcome)
        if seqs:
            self._maybe_checkpoint(max(seqs))

    def _charge_one(self, conn: Conn, charge: _Charge) -> Receipt | BudgetExhausted:
        """Check one charge against the totals so far (the batch's earlier charges
        included) and append it, or return its refusal; inside the write transaction."""
        before = self._status(conn, charge.analyst, charge.moment)
        which = before.blocked_by(charge.cost)
        if which is not None:
            return BudgetExhausted(exhausted_message(before, charge.cost, which), which)
        cost = charge.cost
        seq, digest, stamp = append(
            conn,
            kind="charge",
            analyst=charge.analyst,
            actor=charge.analyst,
            query_id=charge.query_id,
            sql=charge.sql,
            epsilon=format_fraction(cost.epsilon),
            delta=format_fraction(cost.delta),
            rho=format_fraction(cost.rho),
            # NULL unless partition selection spent δ additively under zCDP, so
            # every other charge is stored (and hashed) exactly as before.
            delta_add=format_fraction(cost.delta_add) if cost.delta_add else None,
            detail=charge.detail,
            now=charge.moment,
        )
        for scope in (("analyst", charge.analyst), DATASET):
            add_total(conn, scope, cost)
        after = self._status(conn, charge.analyst, charge.moment)
        return Receipt(seq=seq, query_id=charge.query_id, cost=cost, hash=digest,
                       timestamp=stamp, status=after)

    def charge_owner(
        self, owner: str, cost: Cost, *, query_id: str, sql: str, detail: dict[str, Any],
        reason: str, now: datetime | None = None,
    ) -> BudgetStatus:
        if cost.accounting is not self.accounting:
            raise InvalidParameter(f"this ledger composes {self.accounting.value} costs")
        moment = as_utc(now)
        with self._chain_write() as conn:
            self._check_guarded(conn, owner)
            before = self._status(conn, owner, moment)
            if not before.dataset_admits(cost):
                raise BudgetExhausted(exhausted_message(before, cost, "dataset"), "dataset")
            seq, _, _ = append(
                conn, kind="owner_charge", analyst=owner, actor=owner, reason=reason,
                query_id=query_id, sql=sql, epsilon=format_fraction(cost.epsilon),
                delta=format_fraction(cost.delta), rho=format_fraction(cost.rho),
                delta_add=format_fraction(cost.delta_add) if cost.delta_add else None,
                detail=canonical_json(detail), now=moment,
            )
            add_total(conn, DATASET, cost)
            after = self._status(conn, owner, moment)
        self._maybe_checkpoint(seq)
        return after

    def status(self, analyst: str, now: datetime | None = None) -> BudgetStatus:
        with self._read() as conn:
            return self._status(conn, analyst, as_utc(now))

    def shares(self, now: datetime | None = None) -> list[AnalystShare]:
        moment = as_utc(now)
        with self._read() as conn:
            names = [
                row["name"]
                for row in conn.execute(
                    "SELECT name FROM totals WHERE scope = 'analyst' UNION "
                    "SELECT analyst FROM entries WHERE kind = 'grant' ORDER BY 1"
                ).fetchall()
            ]
            spent = total(conn, DATASET)
            whole = spent.rho if self.accounting is Accounting.ZCDP else spent.epsilon
            result = []
            for name in names:
                status = self._status(conn, name, moment)
                mine = status.spent_rho if self.accounting is Accounting.ZCDP else (
                    status.spent.epsilon
                )
                share = Fraction(0) if whole == 0 else mine / whole
                result.append(AnalystShare(name, status.spent, share))
        return result

    def _status(self, conn: Conn, analyst: str, now: datetime) -> BudgetStatus:
        grant = latest_grant(conn, analyst)
        dataset = latest_dataset(conn)
        return status_from(
            analyst=analyst,
            accounting=self.accounting,
            grant=None if grant is None else budget_of(grant),
            expires=None
            if grant is None or grant["expires"] is None
            else datetime.fromisoformat(grant["expires"]),
            spent=total(conn, ("analyst", analyst)),
            dataset=None if dataset is None or dataset["epsilon"] is None else budget_of(dataset),
            dataset_spent=total(conn, DATASET),
            now=now,
        )


@dataclass(frozen=True)
class _Charge:
    analyst: str
    cost: Cost
    query_id: str
    sql: str
    detail: str  # canonical JSON
    moment: datetime


