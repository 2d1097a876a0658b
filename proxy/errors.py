"""One error shape for every client (SPEC §3).

    DpsqlError                 the proxy's own errors
    ├── InvalidParameter       400 invalid_parameter
    ├── Unauthenticated        401 unauthenticated
    ├── Forbidden              403 forbidden
    ├── NotFound               404 not_found
    └── FailedAfterCharge      500 internal / 504 timeout, after the charge

A ledger that does not verify raises the accountant's ``LedgerTampered`` (503
ledger_tampered): the server will not start on it, or takes no more charges.

The rewriter (`RewriteError`), the accountant (`AccountantError`), the engines
(`EngineError`) and the config loader (`ConfigError`) raise their own roots with
the same `code`/`message`/`position` attributes; `error_response` turns any of
them into the documented status and body. Anything else becomes `internal` with
a generic message; the server log gets the error's class (and the query id when
one was charged), never its text or traceback, which could quote stored values
(SPEC §4.7), unless the owner set ``logging.engine_errors: true``.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("dpsql")

STATUS: dict[str, int] = {
    "parse_error": 400,
    "unsupported_query": 400,
    "invalid_parameter": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "budget_exhausted": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "timeout": 504,
    "ledger_tampered": 503,
    "internal": 500,
}

INTERNAL_MESSAGE = "internal error; the server log has the details"


class DpsqlError(Exception):
    code = "internal"

    def __init__(self, message: str, position: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


class InvalidParameter(DpsqlError):
    code = "invalid_parameter"


class Unauthenticated(DpsqlError):
    code = "unauthenticated"


class Forbidden(DpsqlError):
    code = "forbidden"


class NotFound(DpsqlError):
    code = "not_found"


class FailedAfterCharge(DpsqlError):
    """The engine or the release failed after the query was charged: the client
    learns the query id and what stays charged (in the body and the access log),
    nothing about the cause."""

    def __init__(self, code: str, message: str, query_id: str, charged: float,
                 charged_delta: float = 0.0) -> None:
        super().__init__(message)
        self.code = code
        self.query_id = query_id
        self.charged = charged
        self.charged_delta = charged_delta


def error_body(code: str, message: str, position: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if position is not None:
        error["position"] = {"line": position.line, "column": position.column}
    return {"error": error}


def error_response(exc: BaseException, *, log_details: bool = False) -> tuple[int, dict[str, Any]]:
    """The status and body a client sees for `exc`; `log_details` (the owner's
    ``logging.engine_errors``) lets the exception's text and traceback into the log."""
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None)
    if isinstance(exc, FailedAfterCharge):
        body = error_body(exc.code, exc.message)
        body["error"]["query_id"] = exc.query_id
        body["error"]["charged"] = {"epsilon": exc.charged, "delta": exc.charged_delta}
        return STATUS[exc.code], body
    if isinstance(code, str) and code in STATUS and code != "internal" and isinstance(message, str):
        return STATUS[code], error_body(code, message, getattr(exc, "position", None))
    if code == "internal" and isinstance(message, str) and not isinstance(exc, DpsqlError):
        # engine errors carry a generic message already; keep it generic
        return 500, error_body("internal", message)
    log.error("internal error (%s)", type(exc).__name__, exc_info=exc if log_details else None)
    return 500, error_body("internal", INTERNAL_MESSAGE)
