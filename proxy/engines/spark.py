"""Apache Spark behind the Engine interface: Spark Connect or a master URL, the
owner's tables registered as temporary views, nothing else reachable.

Spark has no read-only switch, so the walls are built differently from DuckDB's
and PostgreSQL's; the rewriter's allow-list is the first, as everywhere:

1. **Sources from the owner only.** Each declared source (a catalog table, or a
   Parquet/Delta/CSV path and its format) becomes a temporary view of the
   engine's own session when the engine opens. Nothing an analyst sends can add
   one: the rewriter names only declared tables, and this module only reads
   ``engine.sources``.
2. **The session.** Every engine has a session of its own (``newSession()`` on a
   master, a fresh Spark Connect session otherwise), so its views and settings
   are not shared with anything else in the JVM. ``spark.sql.runSQLOnFiles`` is
   off (no ``parquet.`/path```), and ANSI mode is off so that no *value* can
   make a statement fail (a bad cast or a division by zero gives NULL, as the
   other engines' rewritten SQL does; sums run in DECIMAL(38, 0), see
   ``rewriter/distributed.py``, so they cannot wrap).
3. **The statement.** :func:`check_statement` parses the generated SQL with
   sqlglot's Spark dialect before it is sent and refuses anything but one
   SELECT that reads only the registered views and its own CTEs, calls no
   function that reaches the JVM, files or catalogs (``reflect``,
   ``java_method``, ``input_file_name`` …) and holds no command (SET, ADD JAR,
   CREATE FUNCTION, SHOW …). The generator never writes those; this check is
   for the day a rewriter bug would.

The time limit cancels the statement's own job group (a master) or its own
operation tag (Spark Connect) from a timer; other statements go on.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot import exp

from .base import EngineError, EngineTimeout, Result, describe

__all__ = ["DENIED_FUNCTIONS", "SparkEngine", "check_statement"]

_log = logging.getLogger("dpsql.engine")

# Settings of every engine session: small, quiet, and nothing reads files by name.
SESSION_CONF = {
    "spark.sql.runSQLOnFiles": "false",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
}
# A master's JVM, when this process starts it (a test run starts one for all its engines).
MASTER_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.memory": "1g",
}

# Functions that reach outside the query's rows: the JVM, files, the catalog,
# the session. None is in the rewriter's allow-list; this is the second wall.
DENIED_FUNCTIONS = frozenset({
    "reflect", "java_method", "try_reflect", "input_file_name", "input_file_block_start",
    "input_file_block_length", "current_catalog", "current_database", "current_schema",
    "current_user", "user", "session_user", "current_metadata", "spark_partition_id",
    "monotonically_increasing_id", "read_files", "read_parquet", "read_csv", "read_json",
    "assert_true", "raise_error", "uuid", "rand", "random", "randn", "shuffle",
    "version", "url_decode", "parse_url", "sql_keywords", "from_avro",
    "from_protobuf", "to_protobuf", "secret", "aes_decrypt", "aes_encrypt",
})


# statements that are not a query, anywhere in the tree
_STATEMENTS = (exp.Command, exp.Set, exp.Create, exp.Drop, exp.Insert, exp.Use, exp.Describe,
               exp.Show, exp.Pragma, exp.Merge, exp.Delete, exp.Update, exp.Cache, exp.Uncache,
               exp.Refresh, exp.Alter, exp.Copy, exp.LoadData, exp.Analyze,
               # a sample is drawn afresh at each evaluation: never generated, never run
               exp.TableSample)


class UnsafeStatement(EngineError):
    """The generated SQL is not one plain SELECT over the registered views."""


def check_statement(sql: str, views: frozenset[str]) -> None:
    """Raise :class:`UnsafeStatement` unless `sql` is one SELECT that reads only
    `views` (lower-case names) and its own CTEs and calls no denied function."""
    try:
        trees = sqlglot.parse(sql, read="spark")
    except sqlglot.errors.SqlglotError:
        raise UnsafeStatement(cause="unparsable") from None
    if len(trees) != 1 or not isinstance(trees[0], exp.Query):
        raise UnsafeStatement(cause="not one query")
    tree = trees[0]
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        if isinstance(node, _STATEMENTS):
            raise UnsafeStatement(cause=f"statement {type(node).__name__}")
        if isinstance(node, exp.Table):
            if node.args.get("db") or node.args.get("catalog"):
                raise UnsafeStatement(cause="qualified table")
            name = node.name.lower()
            if name not in views and name not in ctes:
                raise UnsafeStatement(cause="unknown table")
        elif isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in DENIED_FUNCTIONS or isinstance(node, exp.Rand | exp.Randn):
                raise UnsafeStatement(cause=f"function {name}")


_CONNECT_TIMEOUT_S = 10


def _reachable(connect_url: str) -> None:
    """Raise OSError unless the Spark Connect server's port accepts a connection."""
    where = connect_url.removeprefix("sc://").split("/", 1)[0]
    host, _, port = where.rpartition(":") if ":" in where else (where, "", "15002")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=_CONNECT_TIMEOUT_S):
        pass


def _source_frame(session: Any, name: str, source: Any) -> Any:
    """The DataFrame of one declared source (config.SparkSource)."""
    if source.table is not None:
        return session.table(source.table)
    reader = session.read.format(source.format)
    if source.options:
        reader = reader.options(**{k: str(v) for k, v in source.options.items()})
    return reader.load(str(source.path))


class SparkEngine:
    dialect = "spark"

    def __init__(self, *, sources: Mapping[str, Any], statement_timeout_s: float,
                 connect_url: str | None = None, master: str | None = None,
                 conf: Mapping[str, str] | None = None, log_messages: bool = False) -> None:
        if not statement_timeout_s > 0:
            raise ValueError(f"statement_timeout_s must be > 0, got {statement_timeout_s}")
        if (connect_url is None) == (master is None):
            raise ValueError("give exactly one of connect_url and master")
        self._timeout = statement_timeout_s
        self._log_messages = log_messages
        self._connect = connect_url is not None
        self._lock = threading.Lock()
        where = connect_url or master
        try:
            from pyspark.logger import PySparkLogger
            from pyspark.sql import SparkSession
        except ImportError:
            raise EngineError("engine.kind: spark needs PySpark; install it with: "
                              "pip install 'dpsql[spark]'") from None
        if not log_messages:
            # PySpark logs a failed statement's error, which may quote a value, itself
            # (its own logger class: it passes keywords a plain Logger refuses)
            PySparkLogger.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL + 1)
        try:
            if connect_url is not None:
                # the client retries an unreachable server for minutes: fail fast instead
                _reachable(connect_url)
                session = SparkSession.builder.remote(connect_url).create()
            else:
                assert master is not None  # the config requires one of the two
                builder = SparkSession.builder.master(master).appName("dpsql")
                for key, value in {**MASTER_CONF, **(conf or {})}.items():
                    builder = builder.config(key, value)
                root = builder.getOrCreate()
                # JVM log lines can quote values (SPEC §4.7): quiet unless the owner allows
                root.sparkContext.setLogLevel("ERROR" if log_messages else "OFF")
                session = root.newSession()  # views and settings of this engine only
            for key, value in SESSION_CONF.items():
                session.conf.set(key, value)
            views = []
            for name, source in sources.items():
                _source_frame(session, name, source).createOrReplaceTempView(name)
                views.append(name.lower())
        except Exception as exc:  # noqa: BLE001 - every driver failure is mapped
            _log.error("cannot open spark at %s: %s", where, describe(exc, log_messages))
            error = EngineError(f"engine: cannot open Spark at {where} or register its "
                                "sources; details are in the server log")
            error.reason = " ".join(str(exc).split())[:300]
            raise error from None
        self._session: Any = session
        self._views = frozenset(views)

    @property
    def views(self) -> frozenset[str]:
        return self._views

    def columns(self) -> dict[str, dict[str, str]]:
        """Each registered view's columns and Spark types (names only, never rows)."""
        session = self._require()
        out: dict[str, dict[str, str]] = {}
        try:
            for table in session.catalog.listTables():
                if not table.isTemporary or table.name.lower() not in self._views:
                    continue
                schema = session.table(table.name).schema
                out[table.name] = {f.name: f.dataType.simpleString() for f in schema.fields}
        except Exception as exc:  # noqa: BLE001
            _log.error("spark catalog read failed: %s", describe(exc, self._log_messages))
            raise EngineError(cause=type(exc).__name__) from None
        return out

    def execute(self, sql: str, *, timeout_s: float | None = None) -> Result:
        session = self._require()
        limit = timeout_s or self._timeout
        check_statement(sql, self._views)
        tag = f"dpsql-{uuid.uuid4().hex}"
        fired = threading.Event()

        def cancel() -> None:
            fired.set()
            try:
                if self._connect:
                    session.interruptTag(tag)
                else:
                    session.sparkContext.cancelJobGroup(tag)
            except Exception as exc:  # noqa: BLE001 - the statement fails on its own
                _log.warning("spark cancel failed: %s", describe(exc, self._log_messages))

        timer = threading.Timer(limit, cancel)
        timer.daemon = True
        try:
            if self._connect:
                session.addTag(tag)
            else:
                session.sparkContext.setJobGroup(tag, "dpsql statement", interruptOnCancel=True)
            timer.start()
            frame = session.sql(sql)
            collected = frame.collect()
            # a Row names its fields; asking the frame would analyse the plan once more
            # (a round trip on Spark Connect)
            columns = tuple(collected[0].__fields__ if collected else frame.columns)
            rows = [tuple(r) for r in collected]
        except Exception as exc:  # noqa: BLE001 - every driver failure is mapped
            if fired.is_set():
                _log.warning("spark statement cancelled after %s s", limit)
                raise EngineTimeout(cause=type(exc).__name__) from None
            _log.error("spark error: %s", describe(exc, self._log_messages))
            raise EngineError(cause=type(exc).__name__) from None
        finally:
            timer.cancel()
            try:
                if self._connect:
                    session.removeTag(tag)
                else:
                    session.sparkContext.setLocalProperty("spark.jobGroup.id", None)
            except Exception:  # noqa: BLE001, S110 - closed session: nothing to clear
                pass
        if fired.is_set():
            raise EngineTimeout(cause="deadline")
        return Result(columns=columns, rows=rows)

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None and self._connect:
            try:
                session.stop()
            except Exception as exc:  # noqa: BLE001
                _log.warning("spark session stop failed: %s", describe(exc, self._log_messages))
        # a master's JVM is shared by the process's engines; it stops with the process

    def _require(self) -> Any:
        with self._lock:
            if self._session is None:
                raise EngineError("the engine is closed")
            return self._session
