"""The audit trail of the SQL ledger: the chain's entries read back, and the
attempts log (its own hash chain, ``attempts`` and ``attempts_head``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from accountant.errors import InvalidParameter
from accountant.ledger._sql.core import SqlCore
from accountant.ledger._sql.schema import Conn
from accountant.ledger.attempts import OUTCOMES, Attempt, attempt_from_row, attempt_hash
from accountant.ledger.base import AuditTrail
from accountant.ledger.chain import entry_from_row
from accountant.ledger.records import Entry, as_utc, iso

__all__ = ["SqlAuditTrail"]


class SqlAuditTrail(SqlCore, AuditTrail):
    """:class:`~accountant.ledger.base.AuditTrail` over the backend's transactions."""

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

    def record_attempt(
        self, *, analyst: str, endpoint: str, outcome: str, sql: str,
        code: str | None = None, query_id: str | None = None,
        epsilon: str | None = None, delta: str | None = None, now: datetime | None = None,
    ) -> Attempt:
        if outcome not in OUTCOMES:
            raise InvalidParameter(f"attempt outcome {outcome!r} is not one of "
                                   f"{', '.join(OUTCOMES)}")
        row: dict[str, Any] = {
            "timestamp": iso(as_utc(now)), "analyst": analyst, "endpoint": endpoint,
            "outcome": outcome, "code": code, "query_id": query_id, "sql": sql,
            "epsilon": epsilon, "delta": delta,
        }
        recorded: Attempt = self._side_write(lambda conn: self._chain_attempt(conn, row))
        return recorded

    def _chain_attempt(self, conn: Conn, fields: dict[str, Any]) -> Attempt:
        """Append one attempt after the log's head, inside the batch's transaction."""
        head = conn.execute(
            "SELECT seq, hash FROM attempts_head WHERE id = 1" + self._LOCK_ROW).fetchone()
        row = {"seq": head["seq"] + 1, **fields, "prev_hash": head["hash"]}
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
