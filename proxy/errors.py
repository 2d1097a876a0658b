"""One error shape for every client (SPEC §3).

    DpsqlError                 the proxy's own errors
    ├── InvalidParameter       400 invalid_parameter
    ├── Unauthenticated        401 unauthenticated
    ├── Forbidden              403 forbidden
    └── NotFound               404 not_found

The rewriter (`RewriteError`), the accountant (`AccountantError`), the engines
(`EngineError`) and the config loader (`ConfigError`) raise their own roots with
the same `code`/`message`/`position` attributes; `error_response` turns any of
them into the documented status and body. Anything else becomes `internal` with
a generic message: details go to the server log only, never to the client.
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


def error_body(code: str, message: str, position: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if position is not None:
        error["position"] = {"line": position.line, "column": position.column}
    return {"error": error}


def error_response(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """The status and body a client sees for `exc`."""
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None)
    if isinstance(code, str) and code in STATUS and code != "internal" and isinstance(message, str):
        return STATUS[code], error_body(code, message, getattr(exc, "position", None))
    if code == "internal" and isinstance(message, str) and not isinstance(exc, DpsqlError):
        # engine errors carry a generic message already; keep it generic
        return 500, error_body("internal", message)
    log.error("internal error", exc_info=(type(exc), exc, exc.__traceback__))
    return 500, error_body("internal", INTERNAL_MESSAGE)
