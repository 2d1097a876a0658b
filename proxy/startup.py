"""Starting a deployment, failing in one line (issue #19).

Every start-up failure is one line on stderr, `code: message`, and a non-zero
exit; the traceback only with `dpsql --debug`. The codes are stable (API, like
the HTTP error codes): :data:`dpsql.errors.STARTUP_CODES` lists them, and a test
checks the README's table against it.

Start-up messages go to the operator only, never to an analyst, so they may
name paths, hosts and driver reasons (never rows: nothing is read yet).
"""

from __future__ import annotations

import errno
import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from accountant.errors import InvalidParameter
from dpsql.errors import STARTUP_CODES, DpsqlError

from .config import Config, ConfigError
from .engines.base import EngineError

if TYPE_CHECKING:
    from .deps import Services

__all__ = ["STARTUP_CODES", "StartupError", "check_deployment", "listen", "one_line",
           "prepare"]


class StartupError(ConfigError):
    """A deployment that cannot start; `code` is one of :data:`STARTUP_CODES`."""

    def __init__(self, message: str, *, code: str) -> None:
        if code not in STARTUP_CODES:
            raise ValueError(f"undocumented start-up code {code!r}")
        super().__init__(message, code=code)


def _engine_first(config: Config) -> None:
    """The DuckDB file must exist: opening a missing file read-only fails with a
    driver message that does not say which setting to fix."""
    database = config.engine.database
    if config.engine.kind == "duckdb" and database is not None and not Path(database).is_file():
        raise StartupError(
            f"engine.database: {database} does not exist; build the DuckDB file first or "
            "fix the path (relative paths are read from dpsql.yaml's folder)",
            code="engine_unavailable")


def _unavailable(exc: EngineError) -> StartupError:
    message, reason = exc.message, exc.reason
    if reason:
        message = message.replace("; details are in the server log", "") + f": {reason}"
    return StartupError(message, code="engine_unavailable")


def prepare(config: Config) -> Services:
    """Open engine and ledger and check the metadata, as `create_app` would, raising
    StartupError with a stable code for every way that can fail."""
    from accountant import AccountantError

    from .app import start_services

    _engine_first(config)
    try:
        return start_services(config)
    except ConfigError:
        raise
    except EngineError as exc:
        raise _unavailable(exc) from exc
    except InvalidParameter as exc:  # e.g. a table the ledger holds that no longer parses
        raise StartupError(f"{type(exc).__name__}: {exc}", code="startup_failed") from exc
    except AccountantError as exc:
        text = str(exc)
        # e.g. ledger_tampered stays what it is
        code = exc.code if exc.code in STARTUP_CODES else "ledger_unavailable"
        raise StartupError(text if text.startswith("ledger.url") or code != "ledger_unavailable"
                           else f"ledger.url: {text}", code=code) from exc
    except Exception as exc:
        if "ledger" in type(exc).__module__ or "sqlite3" in type(exc).__module__:
            raise StartupError(f"ledger.url: {_without_password(config.ledger.url)}: {exc}",
                               code="ledger_unavailable") from exc
        raise StartupError(f"{type(exc).__name__}: {exc}", code="startup_failed") from exc


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def check_deployment(config: Config) -> list[str]:
    """`dpsql config check`: what the engine contradicts in the file's tables, without
    opening or writing the ledger. Returns lines describing what was checked."""
    from .catalog import build_catalog
    from .engines import open_engine
    from .multiplicity import check_multiplicities
    from .schema_check import check_against_engine, complete_public, read_schema

    _engine_first(config)
    try:
        engine = open_engine(config.engine, log_messages=config.logging.engine_errors)
    except EngineError as exc:
        raise _unavailable(exc) from exc
    try:
        problems = check_against_engine(config.tables, engine)
        if problems:
            raise StartupError("the metadata does not match the database: "
                               + "; ".join(problems), code="metadata_mismatch")
        tables = complete_public(config.tables, read_schema(engine), engine)
        problems = check_multiplicities(tables, engine)
        if problems:
            raise StartupError("; ".join(problems), code="metadata_mismatch")
        build_catalog(tables, engine)
    finally:
        engine.close()
    columns = sum(len(t.columns) for t in tables.values())
    return [f"engine {config.engine.kind}: {len(tables)} tables, {columns} columns match "
            "the database",
            f"analysts: {len(config.analysts)} declared"]


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or StartupError(port_unavailable) saying why not."""
    if not 0 < port < 65536:
        raise StartupError(f"--port {port}: give a port between 1 and 65535",
                           code="port_unavailable")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise StartupError(f"--host {host}: not an address of this machine ({exc.strerror})",
                           code="port_unavailable") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        why = {errno.EADDRINUSE: "the port is in use (another dpsql, or another server)",
               errno.EACCES: "permission denied (ports below 1024 need privileges)",
               errno.EADDRNOTAVAIL: "the address is not one of this machine's"}.get(
            exc.errno or 0, exc.strerror or str(exc))
        raise StartupError(f"cannot listen on {host}:{port}: {why}",
                           code="port_unavailable") from None
    return sock


def one_line(exc: BaseException) -> tuple[str, str]:
    """The stable code and a one-line message for a start-up failure."""
    code = exc.code if isinstance(exc, DpsqlError) else None
    message = (exc.message if isinstance(exc, DpsqlError) else None) or str(exc) \
        or type(exc).__name__
    text = ""
    for line in (part.strip() for part in str(message).splitlines()):
        if line:  # "invalid configuration:\n  a: …\n  b: …" -> "invalid configuration: a: …; b: …"
            text += line if not text else ((" " if text[-1] in ":;" else "; ") + line)
    return (code if code in STARTUP_CODES else "startup_failed"), text


def quiet_start_up() -> None:
    """Keep library log lines (driver errors, uvicorn) off stderr until the server
    runs: the failure's one line says what the operator needs."""
    logging.getLogger("dpsql").addHandler(logging.NullHandler())
    logging.getLogger("dpsql").propagate = False


def loud() -> None:
    logging.getLogger("dpsql").propagate = True
