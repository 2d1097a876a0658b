"""The analyst registry of the SQL ledger: an ``analyst`` entry in the chain for
every change, and the ``analysts`` table beside it, written in the same
transaction, for the key lookup every request makes."""

from __future__ import annotations

from typing import Any

from accountant.errors import InvalidParameter
from accountant.ledger._sql.core import SqlCore
from accountant.ledger._sql.schema import Conn
from accountant.ledger._sql.statements import append
from accountant.ledger.base import AnalystRegistry
from accountant.ledger.chain import canonical_json
from accountant.ledger.records import AnalystRecord, check_analyst

__all__ = ["SqlAnalystRegistry"]


class SqlAnalystRegistry(SqlCore, AnalystRegistry):
    """:class:`~accountant.ledger.base.AnalystRegistry` over the backend's transactions."""

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


def _analyst(conn: Conn, name: str) -> AnalystRecord | None:
    row = conn.execute("SELECT * FROM analysts WHERE name = ?", (name,)).fetchone()
    return None if row is None else _analyst_record(row)


def _analyst_record(row: dict[str, Any]) -> AnalystRecord:
    return AnalystRecord(row["name"], row["role"], row["key_sha256"], bool(row["disabled"]))


def _record_analyst(
    conn: Conn, record: AnalystRecord, event: str, actor: str, reason: str
) -> None:
    """Append the analyst entry and update the registry table in the same transaction."""
    append(
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
