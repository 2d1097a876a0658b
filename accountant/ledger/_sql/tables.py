"""The table log of the SQL ledger: ``table`` entries in the hash chain, replayed
on read (the last word on each table wins)."""

from __future__ import annotations

import json
from typing import Any

from accountant.ledger._sql.core import SqlCore
from accountant.ledger._sql.schema import Conn
from accountant.ledger._sql.statements import append
from accountant.ledger.base import TableLog
from accountant.ledger.chain import canonical_json

__all__ = ["SqlTableLog"]


class SqlTableLog(SqlCore, TableLog):
    """:class:`~accountant.ledger.base.TableLog` as entries of the ledger's chain."""

    def set_table(
        self, name: str, metadata: dict[str, Any] | None, *, actor: str, reason: str,
        note: dict[str, Any] | None = None,
    ) -> bool:
        with self._chain_write() as conn:
            current = _tables(conn)[1].get(name)
            if current == metadata:
                return False
            detail = {"table": name, "metadata": metadata, **({"note": note} if note else {})}
            append(conn, kind="table", actor=actor, reason=reason,
                   detail=canonical_json(detail))
        return True

    def tables(self, actor: str | None = None) -> tuple[int, dict[str, dict[str, Any]]]:
        with self._read() as conn:
            return _tables(conn, actor)


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
