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
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from fractions import Fraction
from typing import Any, Protocol

from accountant.budget import Budget, format_fraction, to_fraction
from accountant.composition import Accounting, Cost
from accountant.errors import BudgetExhausted, InvalidParameter
from accountant.ledger.base import Ledger
from accountant.ledger.chain import (
    GENESIS,
    canonical_json,
    entry_from_row,
    entry_hash,
    verify_chain,
)
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
    dataset_fits,
    iso,
    status_from,
)

_DATASET = ("dataset", "")

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
        with self._write() as conn:
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
        with self._write() as conn:
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
        moment = as_utc(now)
        detail_text = canonical_json(detail)
        with self._write() as conn:
            before = self._status(conn, analyst, moment)
            which = before.blocked_by(cost)
            if which is not None:
                raise BudgetExhausted(exhausted_message(before, cost, which), which)
            seq, digest, stamp = _append(
                conn,
                kind="charge",
                analyst=analyst,
                actor=analyst,
                query_id=query_id,
                sql=sql,
                epsilon=format_fraction(cost.epsilon),
                delta=format_fraction(cost.delta),
                rho=format_fraction(cost.rho),
                # NULL unless partition selection spent δ additively under zCDP, so
                # every other charge is stored (and hashed) exactly as before.
                delta_add=format_fraction(cost.delta_add) if cost.delta_add else None,
                detail=detail_text,
                now=moment,
            )
            for scope in (("analyst", analyst), _DATASET):
                _add_total(conn, scope, cost)
            after = self._status(conn, analyst, moment)
        return Receipt(
            seq=seq, query_id=query_id, cost=cost, hash=digest, timestamp=stamp, status=after
        )

    def charge_owner(
        self, owner: str, cost: Cost, *, query_id: str, sql: str, detail: dict[str, Any],
        reason: str, now: datetime | None = None,
    ) -> BudgetStatus:
        if cost.accounting is not self.accounting:
            raise InvalidParameter(f"this ledger composes {self.accounting.value} costs")
        moment = as_utc(now)
        with self._write() as conn:
            before = self._status(conn, owner, moment)
            if not dataset_fits(before, cost):
                raise BudgetExhausted(exhausted_message(before, cost, "dataset"), "dataset")
            _append(
                conn, kind="owner_charge", analyst=owner, actor=owner, reason=reason,
                query_id=query_id, sql=sql, epsilon=format_fraction(cost.epsilon),
                delta=format_fraction(cost.delta), rho=format_fraction(cost.rho),
                delta_add=format_fraction(cost.delta_add) if cost.delta_add else None,
                detail=canonical_json(detail), now=moment,
            )
            _add_total(conn, _DATASET, cost)
            return self._status(conn, owner, moment)

    # -- analysts -------------------------------------------------------------

    def register_analyst(
        self, name: str, role: str, key_sha256: str, *, actor: str, reason: str
    ) -> None:
        check_analyst(name, role, key_sha256)
        with self._write() as conn:
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
        with self._write() as conn:
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
        clauses, params = [], []
        if analyst is not None:
            clauses.append("analyst = ?")
            params.append(analyst)
        if since is not None:
            clauses.append("timestamp >= ?")
            params.append(iso(since))
        if until is not None:
            clauses.append("timestamp < ?")
            params.append(iso(until))
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
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
        with self._write() as conn:
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

    def verify(self) -> VerifyReport:
        with self._read() as conn:
            head = conn.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
            rows = conn.execute("SELECT * FROM entries ORDER BY seq").fetchall()
            totals = conn.execute("SELECT * FROM totals").fetchall()
            registry = conn.execute("SELECT * FROM analysts").fetchall()
        if head is None:
            return VerifyReport(False, len(rows), GENESIS, 1, "the ledger's head row is missing")
        report = verify_chain(rows, head["seq"], head["hash"])
        if not report.ok:
            return report
        return _check_derived(report, rows, totals, registry, self.accounting)

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
    version, current = 0, {}
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
    return _spent(row)


def _spent(row: dict[str, Any]) -> Spent:
    return Spent(to_fraction(row["epsilon"]), to_fraction(row["delta"]), to_fraction(row["rho"]),
                 to_fraction(row["delta_add"]))


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


def _check_derived(
    report: VerifyReport,
    rows: list[dict[str, Any]],
    totals: list[dict[str, Any]],
    registry: list[dict[str, Any]],
    accounting: Accounting,
) -> VerifyReport:
    """The running totals and the analyst registry must match what the chain says."""
    recomputed: dict[tuple[str, str], Spent] = {}
    analysts: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["kind"] == "analyst":
            analysts[row["analyst"]] = json.loads(row["detail"])
        if row["kind"] not in ("charge", "owner_charge"):
            continue
        try:
            cost = Cost(
                to_fraction(row["epsilon"]),
                to_fraction(row["delta"]),
                to_fraction(row["rho"]),
                accounting,
                Fraction(0) if row.get("delta_add") is None else to_fraction(row["delta_add"]),
            )
        except InvalidParameter as exc:
            return _derived_failure(report, f"entry {row['seq']} is not a valid "
                                            f"{accounting.value} charge: {exc.message}")
        scopes = (_DATASET,) if row["kind"] == "owner_charge" else (
            ("analyst", row["analyst"]), _DATASET)
        for scope in scopes:
            recomputed[scope] = recomputed.get(scope, Spent()).plus(cost)
    stored = {(t["scope"], t["name"]): _spent(t) for t in totals}
    if stored != recomputed:
        wrong = sorted(
            set(stored) ^ set(recomputed) | {k for k in stored if recomputed.get(k) != stored[k]}
        )
        return _derived_failure(report, f"running totals differ from the charges in the chain "
                                        f"for {wrong}")
    expected = {
        name: (detail["role"], detail["key_sha256"], bool(detail["disabled"]))
        for name, detail in analysts.items()
    }
    found = {r["name"]: (r["role"], r["key_sha256"], bool(r["disabled"])) for r in registry}
    if found != expected:
        wrong_names = sorted(
            set(found) ^ set(expected) | {n for n in found if expected.get(n) != found[n]}
        )
        return _derived_failure(
            report, f"the analyst registry differs from the analyst entries for {wrong_names}"
        )
    return report


def _derived_failure(report: VerifyReport, reason: str) -> VerifyReport:
    return VerifyReport(False, report.entries, report.head, None, reason)
