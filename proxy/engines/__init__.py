"""Engines that run rewritten SQL: DuckDB, PostgreSQL and Spark (SPEC §1)."""

from __future__ import annotations

from proxy.config import ConfigError, EngineConfig

from .base import Engine, EngineError, EngineTimeout, Result
from .duckdb import DuckDBEngine

__all__ = ["DuckDBEngine", "Engine", "EngineError", "EngineTimeout", "Result", "open_engine"]


def open_engine(config: EngineConfig, *, log_messages: bool = False) -> Engine:
    """The engine a validated ``engine:`` section describes; `log_messages`
    (``logging.engine_errors``) lets driver messages, which may quote stored
    values, into the server log."""
    if config.kind == "duckdb" and config.database is not None:
        return DuckDBEngine(config.database, statement_timeout_s=config.statement_timeout_s,
                            log_messages=log_messages)
    if config.kind == "postgres" and config.dsn is not None:
        try:
            # psycopg is the optional `postgres` extra; DuckDB users need not install it
            from .postgres import PostgresEngine
        except ImportError:
            raise ConfigError(
                "engine.kind: postgres needs the PostgreSQL driver; "
                "install it with: pip install 'dpsql[postgres]'"
            ) from None
        return PostgresEngine(config.dsn, statement_timeout_s=config.statement_timeout_s,
                              log_messages=log_messages)
    if config.kind == "spark":
        try:
            import pyspark  # noqa: F401 - the optional `spark` extra
        except ImportError:
            raise ConfigError(
                "engine.kind: spark needs PySpark; install it with: pip install 'dpsql[spark]'"
            ) from None
        from .spark import SparkEngine

        return SparkEngine(sources=config.sources, connect_url=config.connect_url,
                           master=config.master, conf=config.spark_conf,
                           statement_timeout_s=config.statement_timeout_s,
                           log_messages=log_messages)
    raise ConfigError(f"engine.kind: unknown engine {config.kind!r}; "
                      "use duckdb, postgres or spark")
