"""Tamper evidence in the SQL ledger: verifying the chain, starting the run-time
guard, and signing checkpoints (in the ``checkpoints`` table and the notary's file).

The checks themselves live in :mod:`accountant.ledger.verification` and
:mod:`accountant.ledger.guard`; this part runs them over the backend's
transactions and keeps the notary's schedule.
"""

from __future__ import annotations

import threading
from datetime import datetime

from accountant.errors import InvalidParameter, LedgerTampered
from accountant.ledger._sql.core import SqlCore
from accountant.ledger.base import TamperEvidence
from accountant.ledger.checkpoints import Checkpoint, Notary
from accountant.ledger.guard import Guard
from accountant.ledger.records import VerifyReport, as_utc
from accountant.ledger.state import ChainState, state_digest
from accountant.ledger.verification import stored_checkpoint, verify_from_anchor, verify_whole

__all__ = ["FULL_CHECK_BELOW", "SqlTamperEvidence"]

# Below this many entries start-up rehashes the whole chain before serving (a few seconds).
FULL_CHECK_BELOW = 100_000


class SqlTamperEvidence(SqlCore, TamperEvidence):
    """:class:`~accountant.ledger.base.TamperEvidence` over the backend's transactions."""

    _notary: Notary | None = None
    _checkpoint_every = 0
    _checkpointed_at = 0
    _last_signed: tuple[int, str, int, str] | None = None
    _full_check: threading.Thread | None = None

    def verify(
        self,
        notary: Notary | None = None,
        *,
        expect_entries: int | None = None,
        expect_head: str | None = None,
    ) -> VerifyReport:
        return self._verify(notary, expect_entries, expect_head)[0]

    def _verify(
        self, notary: Notary | None, expect_entries: int | None, expect_head: str | None
    ) -> tuple[VerifyReport, ChainState]:
        with self._read() as conn:
            return verify_whole(conn, self._stream, self.accounting, notary,
                                expect_entries, expect_head)

    def use_notary(self, notary: Notary, every_entries: int) -> None:
        """Sign a checkpoint at :meth:`start_guarded`, then every ``every_entries`` charges."""
        self._notary, self._checkpoint_every = notary, every_entries

    def start_guarded(self, *, full_check_below: int = FULL_CHECK_BELOW) -> VerifyReport:
        """Verify, refuse (LedgerTampered) on any problem, then keep checking what
        each charge relies on (:mod:`.guard`).

        A ledger of fewer than ``full_check_below`` entries is verified whole. A
        larger one resumes from its latest checkpoint that carries a signed chain
        state: every checkpoint is checked, no entry up to the anchor is missing,
        the entries after it are rehashed and the derived tables compared with
        the signed state plus those entries; then the whole chain is rehashed in
        the background, and a problem found there refuses every later charge.
        """
        report, state = None, None
        if self._entry_count() >= full_check_below:
            report, state = self._verify_anchored()
        if report is None or state is None:
            report, state = self._verify(self._notary, None, None)
        if not report.ok:
            where = f"entry {report.first_bad}: " if report.first_bad else ""
            raise LedgerTampered(
                f"the ledger {self.where} does not verify, so the proxy will not use it: "
                f"{where}{report.reason}. Run `dpsql ledger verify` for the full report and "
                f"restore the ledger from a backup checked against your last receipt"
            )
        self._guard = Guard(state)
        if self._notary is not None:
            self.checkpoint()
        if report.checked < report.entries:  # anchored: the rest is checked meanwhile
            self._full_check = threading.Thread(target=self._check_in_background,
                                                name="dpsql-ledger-check", daemon=True)
            self._full_check.start()
        return report

    def wait_for_full_check(self, timeout: float | None = None) -> str | None:
        """Wait for the background rehash (if any); the problem it found, if any."""
        if self._full_check is not None:
            self._full_check.join(timeout)
        return None if self._guard is None else self._guard.tripped

    def _check_in_background(self) -> None:
        try:
            report = self.verify(self._notary)
        except Exception:  # noqa: BLE001 - closed while checking; the next start checks
            return
        if not report.ok and self._guard is not None:
            where = f"entry {report.first_bad}: " if report.first_bad else ""
            self._guard.trip(f"the background check of the whole chain found {where}"
                             f"{report.reason}")

    def _entry_count(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT seq FROM head WHERE id = 1").fetchone()["seq"])

    def _verify_anchored(self) -> tuple[VerifyReport | None, ChainState | None]:
        if self._notary is None:
            return None, None
        with self._read() as conn:
            return verify_from_anchor(conn, self._stream, self.accounting, self._notary)

    def head(self) -> tuple[int, str, int, str]:
        with self._read() as conn:
            head = conn.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
            a_head = conn.execute("SELECT seq, hash FROM attempts_head WHERE id = 1").fetchone()
        return head["seq"], head["hash"], a_head["seq"], a_head["hash"]

    def checkpoint(self, now: datetime | None = None, *, if_moved: bool = False
                   ) -> Checkpoint | None:
        """Sign where the chain and the attempts log stand; keep it in both places.
        With ``if_moved``, only when either moved since this process last signed."""
        if self._notary is None:
            raise InvalidParameter("no signing key is configured for checkpoints "
                                   "(ledger.checkpoints in dpsql.yaml)")
        with self._write() as conn:
            head = conn.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
            a_head = conn.execute("SELECT seq, hash FROM attempts_head WHERE id = 1").fetchone()
            where = (head["seq"], head["hash"], a_head["seq"], a_head["hash"])
            if if_moved and where == self._last_signed:
                return None
            state = None
            if self._guard is not None:
                # a tampered ledger is not signed; a verified one is, with its state
                self._guard.advance(conn)
                state = self._guard.state.to_json()
            cp = self._notary.sign(entries=head["seq"], head=head["hash"],
                                   attempts=a_head["seq"], attempts_head=a_head["hash"],
                                   now=as_utc(now),
                                   state_sha256=None if state is None else state_digest(state))
            conn.execute("INSERT INTO checkpoints (body, signature, state) VALUES (?, ?, ?) "
                         "ON CONFLICT DO NOTHING", (cp.text(), cp.signature, state))
        self._notary.append(cp)
        self._checkpointed_at, self._last_signed = cp.entries, where
        return cp

    def checkpoints(self) -> list[Checkpoint]:
        with self._read() as conn:
            rows = conn.execute("SELECT body, signature FROM checkpoints").fetchall()
        return sorted((stored_checkpoint(r) for r in rows),
                      key=lambda cp: (cp.entries, cp.body["time"]))

    def _maybe_checkpoint(self, seq: int) -> None:
        if (self._notary is not None and self._checkpoint_every
                and seq - self._checkpointed_at >= self._checkpoint_every):
            self.checkpoint()
