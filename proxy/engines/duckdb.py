"""DuckDB behind the Engine interface: read-only, sealed, with a statement timeout.

The file is opened read-only with every way out of the database switched off
(file readers, COPY, ATTACH, extension install/load) and the configuration
locked, so no SQL that slips past the rewriter can turn them back on. These
settings are a second wall; the rewriter's allow-list is the first.

DuckDB has no statement timeout setting, so each call arms a timer that
interrupts its own cursor. A cursor per call also makes the engine usable from
many threads at once.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import duckdb

from .base import EngineError, EngineTimeout, Result

__all__ = ["DuckDBEngine"]

_log = logging.getLogger("dpsql.engine")

_SEALED = {
    "access_mode": "READ_ONLY",
    "enable_external_access": "false",
    "autoinstall_known_extensions": "false",
    "autoload_known_extensions": "false",
    "allow_community_extensions": "false",
    "allow_unsigned_extensions": "false",
    # The bounding rewrite keeps the first R rows per unit by ROW_NUMBER; DuckDB's
    # top-N window rewrite of that pattern makes grouped queries 1.6-2.6x slower
    # (bench/experiments.py).
    "disabled_optimizers": "top_n_window_elimination",
    "lock_configuration": "true",  # no SET/PRAGMA can change any setting afterwards
}


class _Watchdog:
    """Interrupts one cursor after ``seconds`` unless the call finished first."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self._cursor = cursor
        self._lock = threading.Lock()
        self._done = False
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True  # the cursor may be closed after this; never touch it again
        self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            self._cursor.interrupt()


class DuckDBEngine:
    dialect = "duckdb"

    def __init__(self, path: str | Path, *, statement_timeout_s: float) -> None:
        if not statement_timeout_s > 0:
            raise ValueError(f"statement_timeout_s must be > 0, got {statement_timeout_s}")
        self._timeout = statement_timeout_s
        self._lock = threading.Lock()
        try:
            self._con: duckdb.DuckDBPyConnection | None = duckdb.connect(
                str(path), read_only=True, config=dict(_SEALED)
            )
        except duckdb.Error as exc:
            _log.error("cannot open duckdb database %s: %s", path, exc)
            raise EngineError(
                f"the duckdb database {path} could not be opened; details are in the server log"
            ) from None

    def execute(self, sql: str) -> Result:
        cursor = self._cursor()
        try:
            with _Watchdog(cursor, self._timeout) as watchdog:
                try:
                    cursor.execute(sql)
                    columns = tuple(d[0] for d in cursor.description or ())
                    rows = cursor.fetchall()
                except Exception as exc:  # noqa: BLE001 - every driver failure is mapped
                    error = self._map(exc, timed_out=watchdog.fired)
                    raise error from None
            return Result(columns=columns, rows=rows)
        finally:
            cursor.close()

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._con is None:
                raise EngineError("the engine is closed")
            try:
                return self._con.cursor()
            except duckdb.Error as exc:
                _log.error("duckdb cursor failed: %s", exc)
                raise EngineError() from None

    def _map(self, exc: Exception, *, timed_out: bool) -> EngineError:
        if timed_out and isinstance(exc, duckdb.InterruptException):
            _log.warning("duckdb statement cancelled after %s s", self._timeout)
            return EngineTimeout()
        _log.error("duckdb error (%s): %s", type(exc).__name__, exc)
        return EngineError()
