"""One error shape for every client (SPEC §3), and the one place that decides it.

The proxy's own errors, under the one root ``dpsql.errors.DpsqlError`` (whose
docstring draws the whole tree)::

    DpsqlError
    ├── InvalidParameter       400 invalid_parameter (the accountant's class, one class)
    ├── Unauthenticated        401 unauthenticated
    ├── Forbidden              403 forbidden
    ├── NotFound               404 not_found
    ├── InternalError          500 internal (a contradiction caught before the charge)
    └── FailedAfterCharge      500 internal / 504 timeout, after the charge

A ledger that does not verify raises the accountant's ``LedgerTampered`` (503
ledger_tampered): the server will not start on it, or takes no more charges.

:func:`classify` turns any exception into what a client may learn of it: the
code, the status and the message. Every front end renders from it: the JSON
API (:func:`error_response`), the Trino protocol (``proxy.trino.errors``) and the
attempts log; an operator's terminal (the CLI) reads :func:`for_operator`.
Anything that is not a ``DpsqlError`` becomes ``internal`` with a generic
message; the server log gets the error's class (and the query id when one was
charged), never its text or traceback, which could quote stored values (SPEC
§4.7), unless the owner set ``logging.engine_errors: true``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from accountant.errors import InvalidParameter
from dpsql.errors import INTERNAL_MESSAGE, STATUS, DpsqlError

__all__ = ["INTERNAL_MESSAGE", "STATUS", "Classified", "DpsqlError", "FailedAfterCharge",
           "Forbidden", "InternalError", "InvalidParameter", "NotFound", "Unauthenticated",
           "classify", "error_body", "error_response", "for_operator", "handled"]

log = logging.getLogger("dpsql")


class Unauthenticated(DpsqlError):
    code = "unauthenticated"


class Forbidden(DpsqlError):
    code = "forbidden"


class NotFound(DpsqlError):
    code = "not_found"


class InternalError(DpsqlError):
    """dpsql caught itself in a contradiction (e.g. the noise it built does not spend
    what it is about to charge): the client sees the generic ``internal`` message,
    the server log the class and what disagreed."""

    code = "internal"


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


@dataclass(frozen=True)
class Classified:
    """What a client may learn of an error. ``expected``: False for an error nobody
    raised on purpose (the handler logs its class)."""

    status: int
    code: str
    message: str
    position: Any = None
    after: FailedAfterCharge | None = None  # the charge that stands
    expected: bool = True


def classify(exc: BaseException) -> Classified:
    """The one classification every error is rendered from."""
    if isinstance(exc, FailedAfterCharge):
        return Classified(STATUS[exc.code], exc.code, exc.message, after=exc)
    if isinstance(exc, DpsqlError) and isinstance(exc.message, str):
        code = exc.code
        if code in STATUS and code != "internal":
            return Classified(STATUS[code], code, exc.message, exc.position)
        if code == "internal" and exc.fixed_message:
            # engine errors carry a generic message already; keep it generic
            return Classified(500, "internal", exc.message)
    return Classified(500, "internal", INTERNAL_MESSAGE, expected=False)


def for_operator(exc: BaseException) -> tuple[str, str]:
    """The code and one-line text an operator's terminal shows (the CLI): the same
    codes as a client sees, but the text of any error, since the operator may read
    the server log anyway; never sent to an analyst."""
    if isinstance(exc, DpsqlError):
        return exc.code, exc.message or str(exc) or type(exc).__name__
    return "internal", str(exc) or type(exc).__name__


def error_body(code: str, message: str, position: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if position is not None:
        error["position"] = {"line": position.line, "column": position.column}
    return {"error": error}


def handled(exc: BaseException, *, log_details: bool = False) -> Classified:
    """`classify`, logging an unexpected error's class; `log_details` (the owner's
    ``logging.engine_errors``) lets the exception's text and traceback into the log."""
    seen = classify(exc)
    if not seen.expected:
        log.error("internal error (%s)", type(exc).__name__,
                  exc_info=exc if log_details else None)
    return seen


def error_response(exc: BaseException, *, log_details: bool = False) -> tuple[int, dict[str, Any]]:
    """The status and JSON body a client sees for `exc` (see `handled`)."""
    seen = handled(exc, log_details=log_details)
    body = error_body(seen.code, seen.message, seen.position)
    if seen.after is not None:
        body["error"]["query_id"] = seen.after.query_id
        body["error"]["charged"] = {"epsilon": seen.after.charged,
                                    "delta": seen.after.charged_delta}
    return seen.status, body
