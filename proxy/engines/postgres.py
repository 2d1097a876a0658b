"""PostgreSQL behind the Engine interface: a read-only role, read-only
transactions, a pinned search path and a server-side statement timeout.

Three walls stand between a query and the data's integrity; the rewriter's
allow-list is the first:

1. **The role.** :func:`check_role` refuses to start when the configured role
   could change anything: a superuser, a member of the roles that reach the
   server's files or programs, a role with CREATEROLE (it can grant itself
   those), or one that may write to, or owns, any table. The fix is in
   :data:`READ_ONLY_ROLE_SQL`.
2. **The transaction.** Every statement runs in ``BEGIN … READ ONLY`` with
   ``statement_timeout``, ``search_path = pg_catalog, public`` and ``jit = off``
   set LOCAL, so nothing outlives the transaction, no table can shadow a
   built-in, and no JIT compilation, triggered by cost estimates that read
   private columns' statistics, shows in the running time (SPEC §4.7).
3. **The protocol.** Statements are sent with the extended query protocol,
   which accepts exactly one statement: ``…; COMMIT; INSERT …`` cannot end the
   read-only transaction early.

Randomness for contribution bounding is ``random()``: per-backend state the
analyst could only seed through ``setseed()`` or ``SET``, both refused by the
rewriter; each pooled backend seeds itself from a strong source when it starts.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
import psycopg_pool
from psycopg import conninfo, errors

from proxy.config import ConfigError

from .base import EngineError, EngineTimeout, Result, describe

__all__ = ["READ_ONLY_ROLE_SQL", "PostgresEngine", "check_role"]

_log = logging.getLogger("dpsql.engine")

READ_ONLY_ROLE_SQL = """\
-- run as a superuser or the database owner; replace <database>
CREATE ROLE dpsql_reader LOGIN;  -- add PASSWORD '...' unless the server uses other auth
GRANT CONNECT ON DATABASE <database> TO dpsql_reader;
GRANT USAGE ON SCHEMA public TO dpsql_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO dpsql_reader;
-- tables created later: run as the role that creates them
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO dpsql_reader;"""

# Predefined roles that read or write server files or run programs, or write
# every table; membership in any of them defeats a read-only deployment.
DANGEROUS_ROLES = (
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
    "pg_write_all_data",
)

_SEARCH_PATH = "pg_catalog, public"
_CONNECT_TIMEOUT_S = 10

_ROLE_SQL = """
SELECT current_user, r.rolsuper, r.rolcreaterole
FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user
"""

_MEMBERSHIP_SQL = """
SELECT g.rolname FROM pg_catalog.pg_roles AS g
WHERE g.rolname = ANY(%s) AND pg_catalog.pg_has_role(current_user, g.oid, 'MEMBER')
ORDER BY g.rolname
"""

# Tables in user schemas the role may write to, even one column of, or owns
# (directly or through a role it belongs to: pg_has_role(..., 'USAGE') covers
# inherited ownership; has_table_privilege counts PUBLIC and inherited grants).
_WRITABLE_SQL = """
SELECT n.nspname, c.relname,
       pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE') AS owns
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
  AND (pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE')
       OR pg_catalog.has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
       OR pg_catalog.has_any_column_privilege(c.oid, 'INSERT, UPDATE'))
ORDER BY n.nspname, c.relname
LIMIT 6
"""


def _describe_dsn(dsn: str) -> str:
    """user@host:port/dbname without the password, for messages."""
    try:
        parts = conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return "the configured dsn"
    user = parts.get("user", "(default user)")
    host = parts.get("host", "(local socket)")
    port = parts.get("port", 5432)
    return f"{user}@{host}:{port}/{parts.get('dbname', '(default database)')}"


def _refuse(role: str, problem: str) -> ConfigError:
    return ConfigError(
        f"engine.dsn: the PostgreSQL role `{role}` {problem}. dpsql must connect as a "
        "role that can only read: create one, connect as it, and keep the ledger on "
        f"another role.\n{READ_ONLY_ROLE_SQL}", code="engine_role_unsafe",
    )


def check_role(conn: psycopg.Connection[Any]) -> None:
    """Raise :class:`ConfigError` unless ``conn``'s role can only read tables."""
    row = conn.execute(_ROLE_SQL).fetchone()
    if row is None:  # pragma: no cover - current_user always has a pg_roles row
        raise ConfigError("engine.dsn: the connected PostgreSQL role could not be found")
    role, superuser, createrole = row
    if superuser:
        raise _refuse(role, "is a superuser, which can read server files and write anything")
    if createrole:
        raise _refuse(role, "has CREATEROLE, so it can grant itself more rights")
    members = [r for (r,) in conn.execute(_MEMBERSHIP_SQL, (list(DANGEROUS_ROLES),))]
    if members:
        raise _refuse(
            role, "is a member of " + ", ".join(members) + ", which reach beyond reading tables"
        )
    tables = conn.execute(_WRITABLE_SQL).fetchall()
    if tables:
        shown = ", ".join(
            f"{schema}.{name}" + (" (owner)" if owns else "") for schema, name, owns in tables[:5]
        )
        more = ", …" if len(tables) > 5 else ""
        raise _refuse(
            role, f"may write to, or owns, tables: {shown}{more}; revoke those rights"
        )


def _connect_error(dsn: str, exc: Exception) -> EngineError:
    _log.error("cannot connect to postgresql %s: %s", _describe_dsn(dsn), exc)
    error = EngineError(f"engine.dsn: cannot connect to PostgreSQL as {_describe_dsn(dsn)}; "
                        "details are in the server log")
    # the server's reason, which the log has too, for the operator's one-line start-up
    # failure (proxy/startup.py); never part of the message
    error.reason = " ".join(str(exc).split()).removeprefix("connection failed: ")[:300]
    return error


def _reset(conn: psycopg.Connection[Any]) -> None:
    """Undo session-level settings a statement may have made (set_config(…, false))
    before the connection serves the next query."""
    conn.execute("RESET ALL")


class PostgresEngine:
    dialect = "postgres"

    def __init__(self, dsn: str, *, statement_timeout_s: float, pool_size: int = 8,
                 log_messages: bool = False) -> None:
        if not statement_timeout_s > 0:
            raise ValueError(f"statement_timeout_s must be > 0, got {statement_timeout_s}")
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, got {pool_size}")
        self._timeout_ms = str(max(1, round(statement_timeout_s * 1000)))
        self._timeout_s = statement_timeout_s
        self._log_messages = log_messages
        try:
            with psycopg.connect(dsn, connect_timeout=_CONNECT_TIMEOUT_S) as conn:
                check_role(conn)
        except psycopg.Error as exc:
            raise _connect_error(dsn, exc) from None
        self._pool: psycopg_pool.ConnectionPool[Any] | None = psycopg_pool.ConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": _CONNECT_TIMEOUT_S},
            check=psycopg_pool.ConnectionPool.check_connection,
            reset=_reset,
            # waiting for a free connection counts against the same limit
            timeout=statement_timeout_s + _CONNECT_TIMEOUT_S,
            name="dpsql-engine",
            open=True,
        )

    def execute(self, sql: str, *, timeout_s: float | None = None) -> Result:
        pool = self._pool
        timeout_ms = self._timeout_ms if timeout_s is None else str(max(1, round(timeout_s * 1000)))
        if pool is None:
            raise EngineError("the engine is closed")
        try:
            with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                cur.execute("SET TRANSACTION READ ONLY")
                # jit off: PostgreSQL compiles a plan whose *estimated* cost passes
                # jit_above_cost, and the estimate reads the statistics of private
                # columns (a frequent unit value looks like a huge join): compiling
                # cost ~250 ms exactly when a WHERE matched a person with many rows
                cur.execute(
                    "SELECT pg_catalog.set_config('statement_timeout', %s, true),"
                    " pg_catalog.set_config('search_path', %s, true),"
                    " pg_catalog.set_config('jit', 'off', true)",
                    (timeout_ms, _SEARCH_PATH),
                )
                # binary=True forces the extended protocol: one statement only
                cur.execute(sql, binary=True, prepare=False)
                columns = tuple(d.name for d in cur.description or ())
                rows = [tuple(r) for r in cur.fetchall()]
        except errors.QueryCanceled as exc:
            _log.warning("postgresql statement cancelled after %s s: %s", self._timeout_s,
                         describe(exc, self._log_messages))
            raise EngineTimeout(cause=type(exc).__name__) from None
        except psycopg_pool.PoolTimeout as exc:
            _log.warning("no postgresql connection free within %s s: %s", self._timeout_s,
                         describe(exc, self._log_messages))
            raise EngineTimeout(cause=type(exc).__name__) from None
        except Exception as exc:  # noqa: BLE001 - every driver failure is mapped
            _log.error("postgresql error: %s", describe(exc, self._log_messages))
            raise EngineError(cause=type(exc).__name__) from None
        return Result(columns=columns, rows=rows)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
