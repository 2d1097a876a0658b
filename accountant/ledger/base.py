"""What every ledger backend provides, as small interfaces a caller can ask for alone.

:class:`Ledger` is the whole of it, what :func:`~accountant.ledger.open_ledger`
returns; a caller that needs one side only may ask for that side:

==================== ======================================================
:class:`BudgetLedger` grants, the dataset budget, charges and what is left
:class:`AnalystRegistry` who may connect: roles, key hashes, disabled analysts
:class:`AnswerCache`  the first answer to a repeated query, served again free
:class:`TableLog`     each table's metadata as owners last recorded it
:class:`AuditTrail`   the entries and the attempts log, read back for reviewers
:class:`TamperEvidence` verification, the run-time guard and signed checkpoints
==================== ======================================================

A backend stores the hash-chained entries, keeps running totals next to them
and takes each charge in one atomic, durable step. The budget rules themselves
(:mod:`accountant.ledger.records`) are shared, so backends differ only in how
they lock and store.
"""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Any

from accountant.budget import Budget
from accountant.composition import Accounting, Cost
from accountant.ledger.attempts import Attempt
from accountant.ledger.checkpoints import Checkpoint, Notary
from accountant.ledger.records import (
    AnalystRecord,
    AnalystShare,
    BudgetStatus,
    Entry,
    Receipt,
    VerifyReport,
)

__all__ = [
    "AnalystRegistry",
    "AnswerCache",
    "AuditTrail",
    "BudgetLedger",
    "Ledger",
    "TableLog",
    "TamperEvidence",
]


class BudgetLedger(abc.ABC):
    """Grants and charges: the only side that spends privacy.

    Invariants: a charge is committed before ``charge`` returns; nothing is
    ever refunded or lowered; an analyst's composed spend never exceeds the
    grant in force when each charge was taken, nor does all analysts' spend
    exceed the dataset budget, even with many processes charging at once.
    """

    accounting: Accounting

    @abc.abstractmethod
    def set_grant(
        self, analyst: str, budget: Budget, expires: datetime | None, *, actor: str, reason: str
    ) -> None:
        """Record the analyst's grant; a no-op when it equals the latest one."""

    @abc.abstractmethod
    def set_dataset_budget(self, budget: Budget | None, *, actor: str, reason: str) -> None:
        """Record the dataset-wide limit (None: no limit); a no-op when unchanged."""

    @abc.abstractmethod
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
        """Check both budgets and append the charge in one atomic, durable step.

        Raises BudgetExhausted (``which`` = analyst, dataset or expired) and
        records nothing when the charge does not fit.
        """

    @abc.abstractmethod
    def charge_owner(
        self, owner: str, cost: Cost, *, query_id: str, sql: str, detail: dict[str, Any],
        reason: str, now: datetime | None = None,
    ) -> BudgetStatus:
        """Charge an owner's own DP computation (the bounds assistant) to the
        dataset-wide budget alone, atomically, as an ``owner_charge`` entry; raise
        BudgetExhausted("dataset") when it does not fit. Returns the status after."""

    @abc.abstractmethod
    def status(self, analyst: str, now: datetime | None = None) -> BudgetStatus:
        """Granted, spent and remaining budgets for the analyst and the dataset."""

    @abc.abstractmethod
    def shares(self, now: datetime | None = None) -> list[AnalystShare]:
        """Each analyst with a grant or a charge: spent, and share of the dataset-wide spend."""


class AnalystRegistry(abc.ABC):
    """Who may connect: each analyst's role, the SHA-256 of its key, and whether
    it is disabled. Every change is a ledger entry, so the registry is as
    tamper-evident as the charges."""

    @abc.abstractmethod
    def register_analyst(
        self, name: str, role: str, key_sha256: str, *, actor: str, reason: str
    ) -> None:
        """Add an analyst (role and the SHA-256 of its key) to the shared registry.

        A no-op when identical; a new key hash is recorded as a key rotation, a
        new role as a role change. A hash held by another analyst is refused.
        """

    @abc.abstractmethod
    def set_analyst_disabled(self, name: str, disabled: bool, *, actor: str, reason: str) -> None:
        """Disable (or re-enable) a registered analyst; a no-op when unchanged."""

    @abc.abstractmethod
    def analysts(self) -> list[AnalystRecord]:
        """The registry as it stands, by name."""

    @abc.abstractmethod
    def analyst_by_key_hash(self, sha256_hex: str) -> AnalystRecord | None:
        """The analyst holding this key hash, disabled or not (the caller refuses disabled)."""


class AnswerCache(abc.ABC):
    """Answers already released, by analyst and query key: asking again returns
    the same noisy answer at no further cost. Outside the hash chain: a lost
    answer only means a repeated query is charged again."""

    @abc.abstractmethod
    def store_answer(
        self, analyst: str, cache_key: str, query_id: str, answer: dict[str, Any]
    ) -> None:
        """Remember the first answer to a repeated query; later ones are ignored."""

    @abc.abstractmethod
    def cached_answer(self, analyst: str, cache_key: str) -> dict[str, Any] | None:
        """The answer stored for this analyst and key, if any."""


class TableLog(abc.ABC):
    """Each table's metadata, recorded as ``table`` entries in the chain: the
    catalog every proxy sharing the ledger plans against, with its history."""

    @abc.abstractmethod
    def set_table(
        self, name: str, metadata: dict[str, Any] | None, *, actor: str, reason: str,
        note: dict[str, Any] | None = None,
    ) -> bool:
        """Record a table's metadata (None: withdrawn); False when unchanged.

        ``note`` is kept beside the metadata in the entry, e.g. which bounds a
        change loosened, so a reviewer sees it without diffing JSON.
        """

    @abc.abstractmethod
    def tables(self, actor: str | None = None) -> tuple[int, dict[str, dict[str, Any]]]:
        """The latest metadata of every table, and the seq of the newest table
        entry (a version: a proxy rebuilds its catalog when it moves). With
        ``actor``, what that actor last said of each table."""


class AuditTrail(abc.ABC):
    """What happened, for a reviewer: the chain's entries read back, and the
    attempts log of every request's outcome (refusals included)."""

    @abc.abstractmethod
    def entries(
        self,
        analyst: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Entry]:
        """Entries in seq order, optionally for one analyst and a time window [since, until)."""

    @abc.abstractmethod
    def latest_entry(
        self, kind: str, *, analyst: str | None = None, actor: str | None = None
    ) -> Entry | None:
        """The last entry of ``kind`` (for one analyst; by one actor), if any."""

    @abc.abstractmethod
    def record_attempt(
        self, *, analyst: str, endpoint: str, outcome: str, sql: str,
        code: str | None = None, query_id: str | None = None,
        epsilon: str | None = None, delta: str | None = None, now: datetime | None = None,
    ) -> Attempt:
        """Append one request's outcome to the attempts log (not forced to disk)."""

    @abc.abstractmethod
    def attempts(
        self,
        analyst: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        outcome: str | None = None,
        code: str | None = None,
    ) -> list[Attempt]:
        """Attempts in order, optionally filtered."""


class TamperEvidence(abc.ABC):
    """Proof that the ledger is what it was: recomputing the hash chains, a guard
    that re-checks what each charge trusts, and checkpoints signed by a notary."""

    @abc.abstractmethod
    def verify(
        self,
        notary: Notary | None = None,
        *,
        expect_entries: int | None = None,
        expect_head: str | None = None,
    ) -> VerifyReport:
        """Recompute the chain, the derived tables and the attempts log; with
        ``notary``, check every signed checkpoint (the database's and its file's);
        check what a reviewer's receipt says; report the first problem. Without a
        notary the checkpoints are not checked (``checkpoints`` counts them anyway)."""

    @abc.abstractmethod
    def use_notary(self, notary: Notary, every_entries: int) -> None:
        """Sign checkpoints with ``notary``: at start, then every ``every_entries`` entries."""

    @abc.abstractmethod
    def start_guarded(self) -> VerifyReport:
        """Verify (raising LedgerTampered on any problem), then check before every
        charge that the totals and grants it trusts are what the chain says."""

    @abc.abstractmethod
    def head(self) -> tuple[int, str, int, str]:
        """(entries, head hash, attempts, attempts head hash) as they stand."""

    @abc.abstractmethod
    def checkpoint(self, now: datetime | None = None, *, if_moved: bool = False
                   ) -> Checkpoint | None:
        """Sign where the chain and the attempts log stand, in the ledger and the file
        (with ``if_moved``: None, signing nothing, when neither moved since the last)."""

    @abc.abstractmethod
    def checkpoints(self) -> list[Checkpoint]:
        """The checkpoints the ledger database holds, oldest first."""


class Ledger(BudgetLedger, AnalystRegistry, AnswerCache, TableLog, AuditTrail, TamperEvidence):
    """A durable, append-only, tamper-evident record of grants and charges: every
    interface above, over one store.

    Invariants every backend keeps: a charge is committed before ``charge``
    returns; nothing is ever refunded or lowered; an analyst's composed spend
    never exceeds the grant in force when each charge was taken, nor does all
    analysts' spend exceed the dataset budget, even with many processes
    charging at once.
    """

    @abc.abstractmethod
    def close(self) -> None:
        """Release resources; the ledger must not be used afterwards."""
