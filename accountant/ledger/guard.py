"""Keeping a verified ledger verified while the proxy runs.

After start-up verification the ledger holds a :class:`Guard`: the
:class:`~accountant.ledger.state.ChainState` of every entry checked so far.
Before each charge, inside the charge's locked transaction, the guard checks
the entries appended since (by this proxy or another sharing the ledger) —
usually one or two rows, so the cost does not grow with the ledger — and
compares the totals and grants the charge is about to trust with what the
chain says. Any difference trips the guard: every later charge is refused
with ``ledger_tampered`` until an operator has looked and restarted.

What it cannot see while running: an edit to an entry it already checked
(the next start-up, or ``dpsql ledger verify``, rehashes every entry).
"""

from __future__ import annotations

import threading
from typing import Any

from accountant.errors import LedgerTampered
from accountant.ledger.chain import walk_chain
from accountant.ledger.records import Spent
from accountant.ledger.state import DATASET, ChainState, Scope


class Guard:
    """The verified state of a ledger, advanced under the ledger's write lock."""

    def __init__(self, state: ChainState) -> None:
        self.state = state
        self.tripped: str | None = None
        self._lock = threading.Lock()

    def refuse(self) -> None:
        if self.tripped is not None:
            raise LedgerTampered(_refusal(self.tripped))

    def trip(self, reason: str) -> LedgerTampered:
        self.tripped = self.tripped or reason
        return LedgerTampered(_refusal(self.tripped))

    def advance(self, conn: Any, *, latest: bool = True) -> bool:
        """Check and take in the entries appended since the last check; True when
        ``conn`` saw at least everything checked so far.

        ``latest``: ``conn`` holds the write lock, so it sees every committed
        entry, and a head behind the checked state means entries were removed. A
        read snapshot may simply be older than a charge committed since; it is
        then not judged (False), and the next charge judges.
        """
        with self._lock:
            if not latest and self.tripped is not None:
                return False  # charges are refused already; reads stay open to reviewers
            self.refuse()
            state = self.state
            head = conn.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
            if not latest and head is not None and head["seq"] < state.seq:
                return False
            if state.seq:
                row = conn.execute("SELECT hash FROM entries WHERE seq = ?",
                                   (state.seq,)).fetchone()
                if row is None or row["hash"] != state.head:
                    raise self.trip(f"entry {state.seq}, checked earlier, was removed or "
                                    f"replaced")
            rows = conn.execute("SELECT * FROM entries WHERE seq > ? ORDER BY seq",
                                (state.seq,)).fetchall()
            walk = walk_chain(rows, start_seq=state.seq + 1, prev=state.head,
                              on_row=state.apply)
            if walk.reason is not None:
                raise self.trip(walk.reason)
            if head is None or (head["seq"], head["hash"]) != (state.seq, state.head):
                raise self.trip(f"the head row names entry {head and head['seq']} but the "
                                f"chain ends at entry {state.seq}")
            return True

    def take_own(self, rows: list[dict[str, Any]]) -> None:
        """Entries this process just committed; hashed here, so taken in without
        re-reading them (skipped when the guard already read past them)."""
        with self._lock:
            for row in rows:
                if row["seq"] == self.state.seq + 1 and row["prev_hash"] == self.state.head:
                    self.state.apply(row)

    def check_totals(self, scope: Scope, stored: Spent) -> None:
        expected = self.state.total(scope)
        if stored != expected:
            who = "the dataset" if scope == DATASET else f"analyst {scope[1]!r}"
            raise self.trip(f"the running total of {who} differs from the charges in the "
                            f"chain (stored rho={stored.rho} epsilon={stored.epsilon}, chain "
                            f"says rho={expected.rho} epsilon={expected.epsilon})")

    def check_registry(self, name: str, found: tuple[str, str, bool] | None) -> None:
        if found != self.state.registry.get(name):
            raise self.trip(f"the analyst registry's row for {name!r} differs from the "
                            f"analyst entries in the chain")


def _refusal(reason: str) -> str:
    return (f"the ledger cannot be trusted, so no charge is taken: {reason}. Run "
            f"`dpsql ledger verify`, restore the ledger from a backup checked against your "
            f"last receipt, and restart the proxy")
