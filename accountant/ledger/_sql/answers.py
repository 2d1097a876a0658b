"""The answer cache of the SQL ledger: the ``answers`` table, outside the hash chain.

Written in :meth:`~accountant.ledger._sql.core.SqlCore._write_answer`
transactions (shared by concurrent requests, ``_side_write``), which take no
chain lock and do not wait for the disk: the
charge was forced to disk before the answer left, so a lost cached answer
only means a repeated query is charged again.
"""

from __future__ import annotations

import json
from typing import Any

from accountant.ledger._sql.core import SqlCore
from accountant.ledger.base import AnswerCache
from accountant.ledger.chain import canonical_json
from accountant.ledger.records import as_utc, iso

__all__ = ["SqlAnswerCache"]


class SqlAnswerCache(SqlCore, AnswerCache):
    """:class:`~accountant.ledger.base.AnswerCache` in the ledger's ``answers`` table."""

    def store_answer(
        self, analyst: str, cache_key: str, query_id: str, answer: dict[str, Any]
    ) -> None:
        params = (analyst, cache_key, query_id, canonical_json(answer), iso(as_utc(None)))
        self._side_write(lambda conn: conn.execute(
            "INSERT INTO answers (analyst, cache_key, query_id, answer, created) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", params))

    def cached_answer(self, analyst: str, cache_key: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT answer FROM answers WHERE analyst = ? AND cache_key = ?",
                (analyst, cache_key),
            ).fetchone()
        return None if row is None else dict(json.loads(row["answer"]))
