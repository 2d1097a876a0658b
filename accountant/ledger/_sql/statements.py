"""The statements several parts of the SQL ledger share, each run inside the
caller's transaction: append an entry to the chain, read and add to the running
totals, read the grant and the dataset budget in force.

Every entry goes through :func:`append`, so the hash chain is encoded in one
place; :data:`APPENDED` collects what the current write transaction appended
(see :meth:`SqlCore._chain_write <accountant.ledger._sql.core.SqlCore._chain_write>`).
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Any

from accountant.budget import Budget, format_fraction, to_fraction
from accountant.composition import Cost
from accountant.ledger._sql.schema import Conn
from accountant.ledger.chain import entry_hash
from accountant.ledger.records import Spent, as_utc, iso
from accountant.ledger.state import DATASET, Scope, spent_of

__all__ = [
    "APPENDED",
    "DATASET",
    "add_total",
    "append",
    "budget_of",
    "latest_dataset",
    "latest_grant",
    "total",
]

# The entries appended by the current write transaction (see SqlCore._chain_write).
APPENDED: ContextVar[list[dict[str, Any]] | None] = ContextVar("dpsql_appended", default=None)


def append(
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
    bucket = APPENDED.get(None)
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


def total(conn: Conn, scope: Scope) -> Spent:
    row = conn.execute(
        "SELECT epsilon, delta, rho, delta_add FROM totals WHERE scope = ? AND name = ?", scope
    ).fetchone()
    if row is None:
        return Spent()
    return spent_of(row)


def add_total(conn: Conn, scope: Scope, cost: Cost) -> None:
    new = total(conn, scope).plus(cost)
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


def latest_grant(conn: Conn, analyst: str) -> dict[str, Any] | None:
    row: dict[str, Any] | None = conn.execute(
        "SELECT epsilon, delta, expires FROM entries WHERE analyst = ? AND kind = 'grant' "
        "ORDER BY seq DESC LIMIT 1",
        (analyst,),
    ).fetchone()
    return row


def latest_dataset(conn: Conn) -> dict[str, Any] | None:
    row: dict[str, Any] | None = conn.execute(
        "SELECT epsilon, delta FROM entries WHERE kind = 'dataset_budget' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return row


def budget_of(row: dict[str, Any]) -> Budget:
    return Budget(to_fraction(row["epsilon"]), to_fraction(row["delta"]))

