"""The small interface every engine implements, and the errors it may raise.

Driver messages can quote data ("could not convert 'Alice Smith' to INTEGER"),
so they never reach the analyst, nor by default the server log (SPEC §4.7):
engines log the driver error's class to ``dpsql.engine`` (its message only when
the owner sets ``logging.engine_errors: true``) and raise one of these with a
fixed message (SPEC §3, STYLE habit 8). ``cause`` names the driver error's
class, for the pipeline's own log line.

    EngineError        code "internal"
    └── EngineTimeout  code "timeout"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from dpsql.errors import DpsqlError

__all__ = ["Engine", "EngineError", "EngineTimeout", "Result", "describe"]


@dataclass(frozen=True)
class Result:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


class EngineError(DpsqlError):
    """The engine failed; the cause is in the server log only."""

    code = "internal"
    fixed_message = True  # shown to clients as is: never a driver's text
    default_message = "the database engine could not run the query; details are in the server log"

    def __init__(self, message: str | None = None, *, cause: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.cause = cause
        # why a connection failed at start-up, for the operator's terminal only (it is
        # in the server log already); never sent to a client
        self.reason: str | None = None


class EngineTimeout(EngineError):
    """The statement ran past ``statement_timeout_s`` and was cancelled."""

    code = "timeout"
    default_message = "the query ran past the engine's time limit and was cancelled"


def describe(exc: BaseException, log_messages: bool) -> str:
    """What the server log may say about a driver error: its class, and its
    message (which may quote stored values) only when the owner allowed it."""
    name = type(exc).__name__
    return f"{name}: {exc}" if log_messages else name


#: The limit on the operator's reads of the catalog and of public join columns:
#: they run at start-up and on an owner's change, never for an analyst.
METADATA_TIMEOUT_S = 60.0


class Engine(Protocol):
    """Runs one already-rewritten SQL statement; safe to call from many threads."""

    dialect: str  # the sqlglot dialect the rewriter generates for

    def execute(self, sql: str, *, timeout_s: float | None = None) -> Result:
        """Run `sql` within `timeout_s` (default: the engine's statement timeout, the
        limit on analysts' queries). Reads of the database's own catalog at start-up
        pass a longer limit: a limit tight enough for analysts must not stop a start."""
        ...

    def close(self) -> None: ...
