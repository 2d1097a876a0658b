"""Errors raised while reading and rewriting a query.

Every refusal carries a stable ``code`` (part of the HTTP API, SPEC §3), a
message that names the rule, the offending part and what to write instead, and
where possible the position of the offending node in the query text.

    RewriteError            (a dpsql.errors.DpsqlError)
    ├── ParseError          code "parse_error"
    └── QueryRefused        code "unsupported_query"
"""

from __future__ import annotations

from dataclasses import dataclass

from dpsql.errors import DpsqlError


@dataclass(frozen=True)
class Position:
    line: int
    column: int


class RewriteError(DpsqlError):
    code = "unsupported_query"
    fixed_message = True

    def __init__(self, message: str, position: Position | None = None) -> None:
        super().__init__(message, position)


class ParseError(RewriteError):
    code = "parse_error"


class QueryRefused(RewriteError):
    code = "unsupported_query"
