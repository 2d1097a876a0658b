"""DuckDB behind the Engine interface: read-only, sealed, with a statement timeout.

The file is opened read-only with every way out of the database switched off
(file readers, COPY, ATTACH, extension install/load) and the configuration
locked, so no SQL that slips past the rewriter can turn them back on. These
settings are a second wall; the rewriter's allow-list is the first.

DuckDB has no statement timeout setting, so each call is registered with a
watchdog thread that interrupts its cursor at the deadline. A cursor per call
also makes the engine usable from many threads at once.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from pathlib import Path

import duckdb

from .base import EngineError, EngineTimeout, Result, describe

__all__ = ["DuckDBEngine"]

_log = logging.getLogger("dpsql.engine")

_SEALED = {
    "access_mode": "READ_ONLY",
    "enable_external_access": "false",
    "autoinstall_known_extensions": "false",
    "autoload_known_extensions": "false",
    "allow_community_extensions": "false",
    "allow_unsigned_extensions": "false",
    # The bounding rewrite keeps R rows per unit by ROW_NUMBER() <= R; DuckDB's
    # top-N window rewrite of that pattern (per-unit heaps of structs) made
    # grouped queries 1.6-2.6x slower in our benchmarks.
    "disabled_optimizers": "top_n_window_elimination",
    "lock_configuration": "true",  # no SET/PRAGMA can change any setting afterwards
}


class _Call:
    """One running statement the watchdog may interrupt until it is finished."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self._cursor: duckdb.DuckDBPyConnection | None = cursor
        self._lock = threading.Lock()
        self._done = False
        self.fired = False

    def __enter__(self) -> _Call:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True  # the cursor may be closed after this; never touch it again
            self._cursor = None  # and the heap must not keep it alive until the deadline

    def fire(self) -> None:
        with self._lock:
            if self._done or self._cursor is None:
                return
            self.fired = True
            self._cursor.interrupt()


class _Watchdog:
    """One thread that interrupts every statement still running at its deadline.

    A thread per statement (threading.Timer) cost about a millisecond per query
    to start; finished calls stay in the heap until their deadline passes, which
    is harmless as firing them does nothing.
    """

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, _Call]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, cursor: duckdb.DuckDBPyConnection, seconds: float) -> _Call:
        call = _Call(cursor)
        with self._wake:
            heapq.heappush(self._heap, (time.monotonic() + seconds, next(self._order), call))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dpsql-duckdb-watchdog",
                                                daemon=True)
                self._thread.start()
            self._wake.notify()
        return call

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._wake.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                _, _, call = heapq.heappop(self._heap)
            call.fire()


_WATCHDOG = _Watchdog()


class DuckDBEngine:
    dialect = "duckdb"

    def __init__(self, path: str | Path, *, statement_timeout_s: float,
                 log_messages: bool = False) -> None:
        if not statement_timeout_s > 0:
            raise ValueError(f"statement_timeout_s must be > 0, got {statement_timeout_s}")
        self._timeout = statement_timeout_s
        self._log_messages = log_messages
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

    def execute(self, sql: str, *, timeout_s: float | None = None) -> Result:
        cursor = self._cursor()
        try:
            with _WATCHDOG.arm(cursor, timeout_s or self._timeout) as watchdog:
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
                _log.error("duckdb cursor failed: %s", describe(exc, self._log_messages))
                raise EngineError(cause=type(exc).__name__) from None

    def _map(self, exc: Exception, *, timed_out: bool) -> EngineError:
        if timed_out and isinstance(exc, duckdb.InterruptException):
            _log.warning("duckdb statement cancelled after %s s", self._timeout)
            return EngineTimeout(cause=type(exc).__name__)
        _log.error("duckdb error: %s", describe(exc, self._log_messages))
        return EngineError(cause=type(exc).__name__)
