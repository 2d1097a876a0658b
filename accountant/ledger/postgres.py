"""The PostgreSQL ledger: one database shared by every proxy, on any number of hosts.

Every write transaction starts by locking the head row (``SELECT … FOR
UPDATE``); under READ COMMITTED each later statement then sees everything
committed before the lock was granted, so reading the totals, deciding that
a charge fits and appending it is one atomic step across processes and
hosts. ``charge`` returns only after COMMIT, which PostgreSQL makes durable
(``synchronous_commit`` on, its default). Reads run in REPEATABLE READ
READ ONLY transactions so ``verify`` sees the head and the chain at one
instant. Connections come from a small pool shared by the process's threads.

Entries are protected by triggers that refuse UPDATE, DELETE and TRUNCATE;
the hash chain catches whoever drops them. The ledger logic itself is shared
with SQLite in :mod:`._sql`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from accountant.composition import Accounting
from accountant.errors import InvalidParameter
from accountant.ledger._sql import ADDED_COLUMNS, TABLES, Rows, SqlLedger

_POOL_MAX = 8
_CURSORS = itertools.count()
_POOL_TIMEOUT_S = 60.0
# Serialises concurrent first starts (CREATE … IF NOT EXISTS is not atomic in PostgreSQL).
_SCHEMA_LOCK = 0x6470_7371_6C00  # "dpsql"

_TRIGGERS = """
CREATE OR REPLACE FUNCTION dpsql_entries_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only';
END
$$;
CREATE OR REPLACE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION dpsql_entries_append_only();
CREATE OR REPLACE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION dpsql_entries_append_only();
"""


class PostgresLedger(SqlLedger):
    """A :class:`Ledger` in a PostgreSQL database (see the module docstring)."""

    _LOCK_ROW = " FOR UPDATE"

    def __init__(self, url: str, accounting: Accounting) -> None:
        try:
            import psycopg
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool
        except ImportError:  # pragma: no cover - depends on the installation
            raise InvalidParameter(
                "ledger.url: a PostgreSQL ledger needs psycopg; install dpsql[postgres]"
            ) from None
        self.accounting = Accounting(accounting)
        self.where = _without_password(url)
        try:
            # A direct first connection fails fast, with the server's reason, on a bad URL.
            with psycopg.connect(url, connect_timeout=10) as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                conn.execute(TABLES.format(int="BIGINT") + _TRIGGERS)
                _add_missing_columns(conn)
        except psycopg.OperationalError as exc:
            raise InvalidParameter(
                f"ledger.url: cannot open the PostgreSQL ledger {self.where}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
            ) from None
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=_POOL_MAX,
            timeout=_POOL_TIMEOUT_S,
            kwargs={"row_factory": dict_row},
            check=ConnectionPool.check_connection,
            open=True,
            name="dpsql-ledger",
        )
        try:
            self._initialise()
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        self._pool.close()

    def _stream(self, conn: Any, query: str, params: Sequence[Any] = ()
                ) -> Iterator[dict[str, Any]]:
        return conn.stream(query, params)  # type: ignore[no-any-return]

    @contextmanager
    def _write(self) -> Iterator[_PgConn]:
        with self._pool.connection() as conn, conn.transaction():
            # The ledger's one write lock: every writer queues here first.
            conn.execute("SELECT seq FROM head WHERE id = 1 FOR UPDATE")
            yield _PgConn(conn)

    @contextmanager
    def _write_answer(self) -> Iterator[_PgConn]:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET LOCAL synchronous_commit = off")
            yield _PgConn(conn)

    @contextmanager
    def _read(self) -> Iterator[_PgConn]:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield _PgConn(conn)


def _add_missing_columns(conn: Any) -> None:
    """Bring a ledger written by an older dpsql up to the current columns.

    Looks before it alters: ALTER TABLE takes an exclusive lock even when the
    column exists, which would deadlock with other proxies charging.
    """
    for table, column, definition in ADDED_COLUMNS:
        present = conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s AND column_name = %s",
            (table, column),
        ).fetchone()
        if present is None:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


class _PgConn:
    """Adapts a psycopg connection to the shared code's ``?`` placeholders."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, query: str, params: Sequence[Any] = ()) -> Rows:
        cursor: Rows = self._conn.execute(query.replace("?", "%s"), tuple(params))
        return cursor

    def stream(self, query: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        """A server-side cursor: a million rows arrive in batches, not all at once."""
        name = f"dpsql_stream_{next(_CURSORS)}"  # a walk that stops early leaves its open
        with self._conn.cursor(name=name) as cursor:
            cursor.itersize = 5000
            cursor.execute(query.replace("?", "%s"), tuple(params))
            yield from cursor


def _without_password(url: str) -> str:
    """The URL for messages, with any password replaced."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - a bad URL fails properly when the pool connects
        return "(PostgreSQL)"
    if "password" in parts:
        parts["password"] = "***"
    return make_conninfo("", **{k: v for k, v in parts.items() if v is not None})
