"""The small interface every engine implements, and the errors it may raise.

Driver messages can quote data ("could not convert 'Alice Smith' to INTEGER"),
so they never reach the analyst: engines log them to ``dpsql.engine`` and raise
one of these with a fixed message (SPEC §3, STYLE habit 8).

    EngineError        code "internal"
    └── EngineTimeout  code "timeout"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Engine", "EngineError", "EngineTimeout", "Result"]


@dataclass(frozen=True)
class Result:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


class EngineError(Exception):
    """The engine failed; the cause is in the server log only."""

    code = "internal"
    default_message = "the database engine could not run the query; details are in the server log"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        self.position = None
        super().__init__(self.message)


class EngineTimeout(EngineError):
    """The statement ran past ``statement_timeout_s`` and was cancelled."""

    code = "timeout"
    default_message = "the query ran past the engine's time limit and was cancelled"


class Engine(Protocol):
    """Runs one already-rewritten SQL statement; safe to call from many threads."""

    dialect: str  # the sqlglot dialect the rewriter generates for

    def execute(self, sql: str) -> Result: ...

    def close(self) -> None: ...
