"""What every part of the SQL ledger stands on: the backend's transactions, the
chain write that the run-time guard watches, and the guard's check before a charge.

A backend provides :meth:`SqlCore._write` (a transaction that holds the
ledger's write lock from its first statement, so check-and-charge is one
atomic step, and that commits durably on exit), :meth:`SqlCore._write_answer`
and :meth:`SqlCore._read` (a transaction that sees one consistent snapshot).
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from accountant.composition import Accounting
from accountant.errors import InvalidParameter
from accountant.ledger._sql.schema import Conn
from accountant.ledger._sql.statements import (
    APPENDED,
    DATASET,
    latest_dataset,
    latest_grant,
    total,
)
from accountant.ledger.batch import GroupCommit, Pending
from accountant.ledger.chain import GENESIS
from accountant.ledger.guard import Guard

__all__ = ["SqlCore"]

# guards the lazy creation of each ledger object's group commits (charges, side writes):
# created on first use, so the backends' __init__ stay their own
COMMITTERS_LOCK = threading.Lock()


class SqlCore(abc.ABC):
    """The transactions, the accounting and the guard the SQL ledger's parts share."""

    accounting: Accounting
    #: Names the store in messages ("the ledger /var/dpsql/ledger.db").
    where: str
    #: Appended to the read of a head row that a transaction then updates.
    _LOCK_ROW = ""
    _guard: Guard | None = None

    @abc.abstractmethod
    def _write(self) -> AbstractContextManager[Conn]:
        """A transaction holding the write lock from its start; commits (durably) on exit."""

    @abc.abstractmethod
    def _write_answer(self) -> AbstractContextManager[Conn]:
        """A transaction for the answer cache only: outside the hash chain, so it
        takes no chain lock, and committed without waiting for the disk.

        Charges are forced to disk before an answer leaves; a cached answer lost
        to a power cut only means a repeated query is charged again, which costs
        budget, never privacy. Skipping that second flush halves the disk waits
        of every answered query.
        """

    @abc.abstractmethod
    def _read(self) -> AbstractContextManager[Conn]:
        """A read-only transaction over one consistent snapshot."""

    _side_committer: GroupCommit[Callable[[Conn], Any]] | None = None

    def _side_write(self, write: Callable[[Conn], Any]) -> Any:
        """Run ``write(conn)`` in a :meth:`_write_answer` transaction shared with the
        answer-side writes (cached answers, attempts) of other threads waiting at the
        same moment: every request makes one or two, and each in its own transaction
        queued on the write lock. Returns ``write``'s result once the batch committed.
        The writes of a batch run one after the other, each seeing the ones before."""
        with COMMITTERS_LOCK:
            if self._side_committer is None:
                self._side_committer = GroupCommit(self._side_batch)
            committer = self._side_committer
        return committer.submit(write)

    def _side_batch(self, batch: Sequence[Pending[Callable[[Conn], Any]]]) -> None:
        with self._write_answer() as conn:
            results = [pending.request(conn) for pending in batch]
        for pending, result in zip(batch, results, strict=True):  # committed
            pending.succeed(result)

    @abc.abstractmethod
    def _maybe_checkpoint(self, seq: int) -> None:
        """After charges committed up to ``seq``: sign a checkpoint if one is due."""

    def _initialise(self) -> None:
        """Create the head row, fix the accounting, and refuse a mismatch (tables exist)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO head (id, seq, hash) VALUES (1, 0, ?) ON CONFLICT DO NOTHING",
                (GENESIS,),
            )
            conn.execute(
                "INSERT INTO attempts_head (id, seq, hash) VALUES (1, 0, ?) "
                "ON CONFLICT DO NOTHING",
                (GENESIS,),
            )
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('accounting', ?) ON CONFLICT DO NOTHING",
                (self.accounting.value,),
            )
            stored = conn.execute("SELECT value FROM meta WHERE key = 'accounting'").fetchone()
        if stored["value"] != self.accounting.value:
            raise InvalidParameter(
                f"the ledger {self.where} composes charges under {stored['value']!r} accounting "
                f"but {self.accounting.value!r} was configured; epsilon sums and rho sums "
                f"cannot be mixed, so set privacy.accounting back to {stored['value']!r} or "
                f"start a new ledger"
            )

    @contextmanager
    def _chain_write(self) -> Iterator[Conn]:
        """A write that may append entries; once committed, the guard takes them in
        (they were hashed here), so deleting them later is caught while running."""
        if self._guard is not None:
            self._guard.refuse()  # nothing is added to a ledger found tampered with
        appended: list[dict[str, Any]] = []
        token = APPENDED.set(appended)
        try:
            with self._write() as conn:
                yield conn
        finally:
            APPENDED.reset(token)
        if self._guard is not None:
            self._guard.take_own(appended)

    def _check_guarded(self, conn: Conn, analyst: str) -> None:
        """Inside a charge: the totals and grants about to be trusted are the chain's."""
        guard = self._guard
        if guard is None:
            return
        guard.advance(conn)
        for scope in (("analyst", analyst), DATASET):
            guard.check_totals(scope, total(conn, scope))
        grant = latest_grant(conn, analyst)
        found = None if grant is None else (grant["epsilon"], grant["delta"], grant["expires"])
        dataset = latest_dataset(conn)
        if found != guard.state.grants.get(analyst) or (
            None if dataset is None else (dataset["epsilon"], dataset["delta"])
        ) != guard.state.dataset:
            raise guard.trip(f"the grant of {analyst!r} or the dataset budget read for this "
                             f"charge differs from the chain as checked")

    def _stream(self, conn: Conn, query: str, params: Sequence[Any] = ()
                ) -> Iterable[dict[str, Any]]:
        """Rows one at a time, without holding them all in memory."""
        return conn.execute(query, params)  # type: ignore[return-value]
