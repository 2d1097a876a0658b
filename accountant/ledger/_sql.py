"""The ledger logic both SQL backends share; a backend supplies only connections and locks.

A backend subclasses :class:`SqlLedger` and provides :meth:`SqlLedger._write`
(a transaction that holds the ledger's write lock from its first statement,
so check-and-charge is one atomic step, and that commits durably on exit) and
:meth:`SqlLedger._read` (a transaction that sees one consistent snapshot).
Everything else — the tables, the queries, the hash chain, the budget rules —
is written once here in the SQL SQLite and PostgreSQL both accept, with ``?``
placeholders (the PostgreSQL backend translates them).
"""

from __future__ import annotations

import abc
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Protocol

from accountant.budget import Budget, format_fraction, to_fraction
from accountant.composition import Accounting, Cost
from accountant.errors import BudgetExhausted, InvalidParameter, LedgerTampered
from accountant.ledger.attempts import (
    OUTCOMES,
    Attempt,
    attempt_from_row,
    attempt_hash,
)
from accountant.ledger.base import Ledger
from accountant.ledger.batch import GroupCommit, Pending
from accountant.ledger.chain import (
    GENESIS,
    canonical_json,
    entry_from_row,
    entry_hash,
)
from accountant.ledger.checkpoints import Checkpoint, Notary
from accountant.ledger.guard import Guard
from accountant.ledger.messages import exhausted_message
from accountant.ledger.records import (
    AnalystRecord,
    AnalystShare,
    BudgetStatus,
    Entry,
    Receipt,
    Spent,
    VerifyReport,
    as_utc,
    check_analyst,
    check_grantable,
    iso,
    status_from,
)
from accountant.ledger.state import ChainState, spent_of, state_digest
from accountant.ledger.verification import stored_checkpoint, verify_from_anchor, verify_whole

_DATASET = ("dataset", "")
# Below this many entries start-up rehashes the whole chain before serving (a few seconds).
FULL_CHECK_BELOW = 100_000
# The entries appended by the current write transaction (see SqlLedger._chain_write).
_APPENDED: ContextVar[list[dict[str, Any]] | None] = ContextVar("dpsql_appended", default=None)

# The tables every backend keeps; ``{int}`` is the backend's 64-bit integer type.
TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq {int} PRIMARY KEY, timestamp TEXT NOT NULL, kind TEXT NOT NULL,
    analyst TEXT, actor TEXT, reason TEXT, query_id TEXT, sql TEXT,
    epsilon TEXT, delta TEXT, rho TEXT, expires TEXT, detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL, delta_add TEXT
);
CREATE INDEX IF NOT EXISTS entries_by_analyst ON entries (analyst, kind, seq);
CREATE INDEX IF NOT EXISTS entries_by_kind ON entries (kind, seq);
CREATE TABLE IF NOT EXISTS head (
    id {int} PRIMARY KEY CHECK (id = 1), seq {int} NOT NULL, hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS totals (
    scope TEXT NOT NULL, name TEXT NOT NULL,
    epsilon TEXT NOT NULL, delta TEXT NOT NULL, rho TEXT NOT NULL,
    delta_add TEXT NOT NULL DEFAULT '0',
    PRIMARY KEY (scope, name)
);
CREATE TABLE IF NOT EXISTS answers (
    analyst TEXT NOT NULL, cache_key TEXT NOT NULL, query_id TEXT NOT NULL,
    answer TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY (analyst, cache_key)
);
CREATE TABLE IF NOT EXISTS analysts (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, key_sha256 TEXT NOT NULL UNIQUE,
    disabled {int} NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    body TEXT PRIMARY KEY, signature TEXT NOT NULL, state TEXT
);
CREATE TABLE IF NOT EXISTS attempts (
    seq {int} PRIMARY KEY, timestamp TEXT NOT NULL, analyst TEXT NOT NULL,
    endpoint TEXT NOT NULL, outcome TEXT NOT NULL, code TEXT, query_id TEXT,
    sql TEXT NOT NULL, epsilon TEXT, delta TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_analyst ON attempts (analyst, seq);
CREATE TABLE IF NOT EXISTS attempts_head (
    id {int} PRIMARY KEY CHECK (id = 1), seq {int} NOT NULL, hash TEXT NOT NULL
);
"""

# Columns added after the first ledgers were written: (table, column, definition).
# Backends add them to an existing ledger when it opens; NULL / '0' reads as "none",
# which is what every older row meant.
ADDED_COLUMNS = (
    ("entries", "delta_add", "TEXT"),
    ("totals", "delta_add", "TEXT NOT NULL DEFAULT '0'"),
)


class Rows(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    """What the shared code needs of a connection: ``execute`` with ``?`` placeholders,
    returning rows as dicts."""

    def execute(self, query: str, params: Sequence[Any] = ()) -> Rows: ...


class SqlLedger(Ledger):
    """Every :class:`Ledger` operation over a :class:`Conn`; see the module docstring."""

    #: Names the store in messages ("the ledger /var/dpsql/ledger.db").
    where: str
    #: Appended to the read of a head row that a transaction then updates.
    _LOCK_ROW = ""
    _guard: Guard | None = None
    _notary: Notary | None = None
    _checkpoint_every = 0
    _checkpointed_at = 0
    _last_signed: tuple[int, str, int, str] | None = None
    _full_check: threading.Thread | None = None
    _committer: GroupCommit[_Charge] | None = None  # concurrent charges, batched

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

    # -- grants and charges ---------------------------------------------------

    def set_grant(
        self, analyst: str, budget: Budget, expires: datetime | None, *, actor: str, reason: str
    ) -> None:
        check_grantable(self.accounting, budget)
        expires_text = None if expires is None else iso(expires)
        wanted = (format_fraction(budget.epsilon), format_fraction(budget.delta), expires_text)
        with self._chain_write() as conn:
            latest = _latest_grant(conn, analyst)
            if latest is not None and (
                latest["epsilon"], latest["delta"], latest["expires"]
            ) == wanted:
                return
            _append(
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
            latest = _latest_dataset(conn)
            if latest is None and budget is None:
                return
            if latest is not None and (latest["epsilon"], latest["delta"]) == (eps, dlt):
                return
            _append(conn, kind="dataset_budget", actor=actor, reason=reason, epsilon=eps, delta=dlt)

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
        with _COMMITTERS_LOCK:  # created on first use: backends' __init__ stay their own
            if self._committer is None:
                self._committer = GroupCommit(self._charge_batch)
            return self._committer

    def _charge_batch(self, batch: Sequence[Pending[_Charge]]) -> None:
        """Charge a batch in one transaction (see :mod:`accountant.ledger.batch`); if
        it fails other than by a refusal, charge each alone."""
        try:
            self._charge_together(batch)
        except Exception:
            if len(batch) == 1:
                raise
            for pending in batch:  # nothing of the batch was committed
                try:
                    self._charge_together([pending])
                except Exception as exc:  # noqa: BLE001 - this charge's own outcome
                    pending.fail(exc)

    def _charge_together(self, batch: Sequence[Pending[_Charge]]) -> None:
        outcomes: list[Receipt | BudgetExhausted] = []
        with self._chain_write() as conn:
            # the guard checks what the charges will trust before any is appended
            for analyst in dict.fromkeys(p.request.analyst for p in batch):
                self._check_guarded(conn, analyst)
            for pending in batch:
                outcomes.append(_charge_one(self, conn, pending.request))
        # committed, and so durable: only now does any caller learn its outcome
        seqs = [o.seq for o in outcomes if isinstance(o, Receipt)]
        for pending, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Receipt):
                pending.succeed(outcome)
            else:
                pending.fail(outcome)
        if seqs:
            self._maybe_checkpoint(max(seqs))

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
            seq, _, _ = _append(
                conn, kind="owner_charge", analyst=owner, actor=owner, reason=reason,
                query_id=query_id, sql=sql, epsilon=format_fraction(cost.epsilon),
                delta=format_fraction(cost.delta), rho=format_fraction(cost.rho),
                delta_add=format_fraction(cost.delta_add) if cost.delta_add else None,
                detail=canonical_json(detail), now=moment,
            )
            _add_total(conn, _DATASET, cost)
            after = self._status(conn, owner, moment)
        self._maybe_checkpoint(seq)
        return after

    # -- analysts -------------------------------------------------------------

    def register_analyst(
        self, name: str, role: str, key_sha256: str, *, actor: str, reason: str
    ) -> None:
        role = check_analyst(name, role, key_sha256)
        with self._chain_write() as conn:
            holder = conn.execute(
                "SELECT name FROM analysts WHERE key_sha256 = ?", (key_sha256,)
            ).fetchone()
            if holder is not None and holder["name"] != name:
                raise InvalidParameter(
                    f"analyst {name!r}: this key hash already belongs to {holder['name']!r}; "
                    f"every analyst needs its own key (make one with `dpsql keygen`)"
                )
            current = _analyst(conn, name)
            if current is None:
                event, disabled = "register", False
            elif (current.role, current.key_sha256) == (role, key_sha256):
                return
            else:
                event = "rotate_key" if current.key_sha256 != key_sha256 else "change_role"
                disabled = current.disabled
            _record_analyst(
                conn, AnalystRecord(name, role, key_sha256, disabled), event, actor, reason
            )

    def set_analyst_disabled(self, name: str, disabled: bool, *, actor: str, reason: str) -> None:
        with self._chain_write() as conn:
            current = _analyst(conn, name)
            if current is None:
                raise InvalidParameter(
                    f"there is no analyst {name!r} in the ledger; `dpsql analysts list` "
                    f"shows who is registered"
                )
            if current.disabled == disabled:
                return
            event = "disable" if disabled else "enable"
            record = AnalystRecord(current.name, current.role, current.key_sha256, disabled)
            _record_analyst(conn, record, event, actor, reason)

    def analysts(self) -> list[AnalystRecord]:
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM analysts ORDER BY name").fetchall()
        return [_analyst_record(row) for row in rows]

    def analyst_by_key_hash(self, sha256_hex: str) -> AnalystRecord | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM analysts WHERE key_sha256 = ?", (sha256_hex.lower(),)
            ).fetchone()
            if row is not None and self._guard is not None:
                # a registry edit (a swapped key hash, a role raised) must not let anyone in
                record = _analyst_record(row)
                if self._guard.advance(conn, latest=False):
                    self._guard.check_registry(
                        record.name, (record.role, record.key_sha256, record.disabled))
        return None if row is None else _analyst_record(row)

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
            whole = _composed(self.accounting, _total(conn, _DATASET))
            result = []
            for name in names:
                status = self._status(conn, name, moment)
                mine = status.spent_rho if self.accounting is Accounting.ZCDP else (
                    status.spent.epsilon
                )
                share = Fraction(0) if whole == 0 else mine / whole
                result.append(AnalystShare(name, status.spent, share))
        return result

    # -- answers, reads and verification --------------------------------------

    def store_answer(
        self, analyst: str, cache_key: str, query_id: str, answer: dict[str, Any]
    ) -> None:
        with self._write_answer() as conn:
            conn.execute(
                "INSERT INTO answers (analyst, cache_key, query_id, answer, created) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (analyst, cache_key, query_id, canonical_json(answer), iso(as_utc(None))),
            )

    def status(self, analyst: str, now: datetime | None = None) -> BudgetStatus:
        with self._read() as conn:
            return self._status(conn, analyst, as_utc(now))

    def cached_answer(self, analyst: str, cache_key: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT answer FROM answers WHERE analyst = ? AND cache_key = ?",
                (analyst, cache_key),
            ).fetchone()
        return None if row is None else dict(json.loads(row["answer"]))

    def entries(
        self,
        analyst: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Entry]:
        where, params = _filters({"analyst": analyst}, since, until)
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM entries" + where + " ORDER BY seq", params)
            return [entry_from_row(row) for row in rows.fetchall()]

    def latest_entry(
        self, kind: str, *, analyst: str | None = None, actor: str | None = None
    ) -> Entry | None:
        clauses, params = ["kind = ?"], [kind]
        for column, value in (("analyst", analyst), ("actor", actor)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM entries WHERE " + " AND ".join(clauses)
                + " ORDER BY seq DESC LIMIT 1",
                params,
            ).fetchone()
        return None if row is None else entry_from_row(row)

    # -- table metadata -------------------------------------------------------

    def set_table(
        self, name: str, metadata: dict[str, Any] | None, *, actor: str, reason: str,
        note: dict[str, Any] | None = None,
    ) -> bool:
        with self._chain_write() as conn:
            current = _tables(conn)[1].get(name)
            if current == metadata:
                return False
            detail = {"table": name, "metadata": metadata, **({"note": note} if note else {})}
            _append(conn, kind="table", actor=actor, reason=reason,
                    detail=canonical_json(detail))
        return True

    def tables(self, actor: str | None = None) -> tuple[int, dict[str, dict[str, Any]]]:
        with self._read() as conn:
            return _tables(conn, actor)

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

    # -- trust: checkpoints and the guard ------------------------------------

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

    @contextmanager
    def _chain_write(self) -> Iterator[Conn]:
        """A write that may append entries; once committed, the guard takes them in
        (they were hashed here), so deleting them later is caught while running."""
        if self._guard is not None:
            self._guard.refuse()  # nothing is added to a ledger found tampered with
        appended: list[dict[str, Any]] = []
        token = _APPENDED.set(appended)
        try:
            with self._write() as conn:
                yield conn
        finally:
            _APPENDED.reset(token)
        if self._guard is not None:
            self._guard.take_own(appended)

    def _check_guarded(self, conn: Conn, analyst: str) -> None:
        """Inside a charge: the totals and grants about to be trusted are the chain's."""
        guard = self._guard
        if guard is None:
            return
        guard.advance(conn)
        for scope in (("analyst", analyst), _DATASET):
            guard.check_totals(scope, _total(conn, scope))
        grant = _latest_grant(conn, analyst)
        found = None if grant is None else (grant["epsilon"], grant["delta"], grant["expires"])
        dataset = _latest_dataset(conn)
        if found != guard.state.grants.get(analyst) or (
            None if dataset is None else (dataset["epsilon"], dataset["delta"])
        ) != guard.state.dataset:
            raise guard.trip(f"the grant of {analyst!r} or the dataset budget read for this "
                             f"charge differs from the chain as checked")

    def _maybe_checkpoint(self, seq: int) -> None:
        if (self._notary is not None and self._checkpoint_every
                and seq - self._checkpointed_at >= self._checkpoint_every):
            self.checkpoint()

    def _stream(self, conn: Conn, query: str, params: Sequence[Any] = ()
                ) -> Iterable[dict[str, Any]]:
        """Rows one at a time, without holding them all in memory."""
        return conn.execute(query, params)  # type: ignore[return-value]

    # -- the attempts log -----------------------------------------------------

    def record_attempt(
        self, *, analyst: str, endpoint: str, outcome: str, sql: str,
        code: str | None = None, query_id: str | None = None,
        epsilon: str | None = None, delta: str | None = None, now: datetime | None = None,
    ) -> Attempt:
        if outcome not in OUTCOMES:
            raise InvalidParameter(f"attempt outcome {outcome!r} is not one of "
                                   f"{', '.join(OUTCOMES)}")
        with self._write_answer() as conn:
            head = conn.execute(
                "SELECT seq, hash FROM attempts_head WHERE id = 1" + self._LOCK_ROW).fetchone()
            row: dict[str, Any] = {
                "seq": head["seq"] + 1, "timestamp": iso(as_utc(now)), "analyst": analyst,
                "endpoint": endpoint, "outcome": outcome, "code": code, "query_id": query_id,
                "sql": sql, "epsilon": epsilon, "delta": delta, "prev_hash": head["hash"],
            }
            row["hash"] = attempt_hash(row)
            conn.execute(
                "INSERT INTO attempts (" + ", ".join(row) + ") VALUES ("
                + ", ".join("?" for _ in row) + ")", list(row.values()))
            conn.execute("UPDATE attempts_head SET seq = ?, hash = ? WHERE id = 1",
                         (row["seq"], row["hash"]))
        return attempt_from_row(row)

    def attempts(
        self,
        analyst: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        outcome: str | None = None,
        code: str | None = None,
    ) -> list[Attempt]:
        where, params = _filters({"analyst": analyst, "outcome": outcome, "code": code},
                                 since, until)
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM attempts" + where + " ORDER BY seq", params)
            return [attempt_from_row(row) for row in rows.fetchall()]

    # -- internals ------------------------------------------------------------

    def _status(self, conn: Conn, analyst: str, now: datetime) -> BudgetStatus:
        grant = _latest_grant(conn, analyst)
        dataset = _latest_dataset(conn)
        return status_from(
            analyst=analyst,
            accounting=self.accounting,
            grant=None if grant is None else _budget(grant),
            expires=None
            if grant is None or grant["expires"] is None
            else datetime.fromisoformat(grant["expires"]),
            spent=_total(conn, ("analyst", analyst)),
            dataset=None if dataset is None or dataset["epsilon"] is None else _budget(dataset),
            dataset_spent=_total(conn, _DATASET),
            now=now,
        )


def _tables(conn: Conn, actor: str | None = None) -> tuple[int, dict[str, dict[str, Any]]]:
    """Replay the table entries (of one actor, if named): the last word on each wins."""
    version, current = 0, dict[str, dict[str, Any]]()
    query, params = "SELECT seq, detail FROM entries WHERE kind = 'table'", []
    if actor is not None:
        query, params = query + " AND actor = ?", [actor]
    for row in conn.execute(query + " ORDER BY seq", params).fetchall():
        detail = json.loads(row["detail"])
        version = row["seq"]
        if detail["metadata"] is None:
            current.pop(detail["table"], None)
        else:
            current[detail["table"]] = detail["metadata"]
    return version, current


def _budget(row: dict[str, Any]) -> Budget:
    return Budget(to_fraction(row["epsilon"]), to_fraction(row["delta"]))


def _composed(accounting: Accounting, spent: Spent) -> Fraction:
    return spent.rho if accounting is Accounting.ZCDP else spent.epsilon


def _latest_grant(conn: Conn, analyst: str) -> dict[str, Any] | None:
    row: dict[str, Any] | None = conn.execute(
        "SELECT epsilon, delta, expires FROM entries WHERE analyst = ? AND kind = 'grant' "
        "ORDER BY seq DESC LIMIT 1",
        (analyst,),
    ).fetchone()
    return row


def _latest_dataset(conn: Conn) -> dict[str, Any] | None:
    row: dict[str, Any] | None = conn.execute(
        "SELECT epsilon, delta FROM entries WHERE kind = 'dataset_budget' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return row


def _total(conn: Conn, scope: tuple[str, str]) -> Spent:
    row = conn.execute(
        "SELECT epsilon, delta, rho, delta_add FROM totals WHERE scope = ? AND name = ?", scope
    ).fetchone()
    if row is None:
        return Spent()
    return spent_of(row)


def _add_total(conn: Conn, scope: tuple[str, str], cost: Cost) -> None:
    new = _total(conn, scope).plus(cost)
    conn.execute(
        "INSERT INTO totals (scope, name, epsilon, delta, rho, delta_add) "
        "VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (scope, name) DO UPDATE SET epsilon = excluded.epsilon, "
        "delta = excluded.delta, rho = excluded.rho, delta_add = excluded.delta_add",
        (
            *scope,
            format_fraction(new.epsilon),
            format_fraction(new.delta),
            format_fraction(new.rho),
            format_fraction(new.delta_add),
        ),
    )


def _analyst(conn: Conn, name: str) -> AnalystRecord | None:
    row = conn.execute("SELECT * FROM analysts WHERE name = ?", (name,)).fetchone()
    return None if row is None else _analyst_record(row)


def _analyst_record(row: dict[str, Any]) -> AnalystRecord:
    return AnalystRecord(row["name"], row["role"], row["key_sha256"], bool(row["disabled"]))


def _record_analyst(
    conn: Conn, record: AnalystRecord, event: str, actor: str, reason: str
) -> None:
    """Append the analyst entry and update the registry table in the same transaction."""
    _append(
        conn,
        kind="analyst",
        analyst=record.name,
        actor=actor,
        reason=reason,
        detail=canonical_json({"event": event, **_analyst_detail(record)}),
    )
    conn.execute(
        "INSERT INTO analysts (name, role, key_sha256, disabled) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET role = excluded.role, "
        "key_sha256 = excluded.key_sha256, disabled = excluded.disabled",
        (record.name, record.role, record.key_sha256, int(record.disabled)),
    )


def _analyst_detail(record: AnalystRecord) -> dict[str, Any]:
    return {"role": record.role, "key_sha256": record.key_sha256, "disabled": record.disabled}


def _append(
    conn: Conn,
    *,
    kind: str,
    analyst: str | None = None,
    actor: str | None = None,
    reason: str | None = None,
    query_id: str | None = None,
    sql: str | None = None,
    epsilon: str | None = None,
    delta: str | None = None,
    rho: str | None = None,
    expires: str | None = None,
    detail: str = "{}",
    now: datetime | None = None,
    delta_add: str | None = None,
) -> tuple[int, str, str]:
    """Append one entry after the head, inside the caller's write transaction."""
    head = conn.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
    row = {
        "seq": head["seq"] + 1,
        "timestamp": iso(as_utc(now)),
        "kind": kind,
        "analyst": analyst,
        "actor": actor,
        "reason": reason,
        "query_id": query_id,
        "sql": sql,
        "epsilon": epsilon,
        "delta": delta,
        "rho": rho,
        "expires": expires,
        "detail": detail,
        "prev_hash": head["hash"],
        "delta_add": delta_add,
    }
    row["hash"] = entry_hash(row)
    bucket = _APPENDED.get(None)
    if bucket is not None:
        bucket.append(row)
    columns = list(row)
    conn.execute(
        "INSERT INTO entries ("
        + ", ".join(columns)
        + ") VALUES ("
        + ", ".join("?" for _ in columns)
        + ")",
        [row[c] for c in columns],
    )
    conn.execute("UPDATE head SET seq = ?, hash = ? WHERE id = 1", (row["seq"], row["hash"]))
    return row["seq"], row["hash"], row["timestamp"]


def _filters(equal: dict[str, str | None], since: datetime | None,
             until: datetime | None) -> tuple[str, list[Any]]:
    """A WHERE clause (or "") and its parameters: each given column equal to its
    value, timestamps in [since, until). Column names are ours, never input."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in equal.items():
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if since is not None:
        clauses.append("timestamp >= ?")
        params.append(iso(since))
    if until is not None:
        clauses.append("timestamp < ?")
        params.append(iso(until))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


@dataclass(frozen=True)
class _Charge:
    analyst: str
    cost: Cost
    query_id: str
    sql: str
    detail: str  # canonical JSON
    moment: datetime


_COMMITTERS_LOCK = threading.Lock()


def _charge_one(ledger: SqlLedger, conn: Conn, charge: _Charge) -> Receipt | BudgetExhausted:
    """Check one charge against the totals so far (the batch's earlier charges
    included) and append it, or return its refusal; inside the write transaction."""
    before = ledger._status(conn, charge.analyst, charge.moment)
    which = before.blocked_by(charge.cost)
    if which is not None:
        return BudgetExhausted(exhausted_message(before, charge.cost, which), which)
    cost = charge.cost
    seq, digest, stamp = _append(
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
    for scope in (("analyst", charge.analyst), _DATASET):
        _add_total(conn, scope, cost)
    after = ledger._status(conn, charge.analyst, charge.moment)
    return Receipt(seq=seq, query_id=charge.query_id, cost=cost, hash=digest, timestamp=stamp,
                   status=after)
