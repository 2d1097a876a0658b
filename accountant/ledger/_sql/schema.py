"""The tables both SQL backends keep, and what the shared code needs of a connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["ADDED_COLUMNS", "TABLES", "Conn", "Rows"]

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
