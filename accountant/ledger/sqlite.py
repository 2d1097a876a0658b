"""The SQLite ledger: one file, safe across threads and processes on one host.

Each thread keeps its own connection (opening one costs more than a charge),
so threads never share one. Writes run
in ``BEGIN IMMEDIATE`` transactions, which take SQLite's single write lock up
front: two processes can never both read the same totals and both decide a
charge fits. WAL journaling with ``synchronous=FULL`` makes a committed
charge survive a crash or power loss before ``charge`` returns. WAL needs a
local file system; for several hosts, use the PostgreSQL ledger.

The ledger logic itself is shared with PostgreSQL in :mod:`._sql`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from accountant.composition import Accounting
from accountant.ledger._sql import ADDED_COLUMNS, TABLES, SqlLedger

_BUSY_TIMEOUT_S = 30.0

_TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS entries_append_only_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_append_only_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
"""


class SqliteLedger(SqlLedger):
    """A :class:`Ledger` in one SQLite file (see the module docstring)."""

    def __init__(self, path: str | Path, accounting: Accounting) -> None:
        self.path = str(path)
        self.where = self.path
        self.accounting = Accounting(accounting)
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        with _closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            # Every statement is idempotent, so concurrent first starts are harmless.
            conn.executescript(TABLES.format(int="INTEGER") + _TRIGGERS)
            _add_missing_columns(conn)
        self._initialise()

    def close(self) -> None:
        """Close every thread's connection; the ledger must not be used afterwards."""
        with self._opened_lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
        self._local = threading.local()

    def _thread_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._opened_lock:
                self._opened.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        # ``timeout`` is SQLite's busy timeout: wait for the write lock, don't fail.
        # check_same_thread off only so close() may close them all; each is used by one thread
        conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = _dict_row
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._thread_connection()
        conn.execute("BEGIN IMMEDIATE")
        with _transaction(conn):
            yield conn

    @contextmanager
    def _write_answer(self) -> Iterator[sqlite3.Connection]:
        conn = self._thread_connection()
        # in WAL mode NORMAL survives a process crash; only a power cut may lose it
        conn.execute("PRAGMA synchronous = NORMAL")
        try:
            conn.execute("BEGIN IMMEDIATE")
            with _transaction(conn):
                yield conn
        finally:
            conn.execute("PRAGMA synchronous = FULL")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = self._thread_connection()
        conn.execute("BEGIN")
        with _transaction(conn):
            yield conn


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring a ledger written by an older dpsql up to the current columns.

    Under the write lock, so two processes opening an old file at once do
    not both add a column; SQLite's ADD COLUMN rewrites no row.
    """
    conn.execute("BEGIN IMMEDIATE")
    with _transaction(conn):
        for table, column, definition in ADDED_COLUMNS:
            present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


@contextmanager
def _closing(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {col[0]: value for col, value in zip(cursor.description, row, strict=True)}
