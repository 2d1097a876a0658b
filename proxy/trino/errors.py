"""dpsql's errors in Trino's shape (notes/trino-protocol.md §2.8).

A failed query is an HTTP 200 document with an `error` object. `errorType`
decides what the client raises: `USER_ERROR` gives the trino client's
`TrinoUserError` (a DB-API `ProgrammingError`), which every BI tool shows as the
message. The message starts with dpsql's own code (`unsupported_query: …`), so
the code of the JSON API (SPEC §3) survives in every client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import FailedAfterCharge, error_response

# Trino's StandardErrorCode: (name, code, type)
SYNTAX_ERROR = ("SYNTAX_ERROR", 1, "USER_ERROR")
PERMISSION_DENIED = ("PERMISSION_DENIED", 4, "USER_ERROR")
NOT_FOUND = ("NOT_FOUND", 5, "USER_ERROR")
NOT_SUPPORTED = ("NOT_SUPPORTED", 13, "USER_ERROR")
INVALID_SESSION_PROPERTY = ("INVALID_SESSION_PROPERTY", 14, "USER_ERROR")
QUERY_REJECTED = ("QUERY_REJECTED", 31, "USER_ERROR")
TABLE_NOT_FOUND = ("TABLE_NOT_FOUND", 46, "USER_ERROR")
GENERIC_USER_ERROR = ("GENERIC_USER_ERROR", 0, "USER_ERROR")
EXCEEDED_TIME_LIMIT = ("EXCEEDED_TIME_LIMIT", 131075, "INSUFFICIENT_RESOURCES")
GENERIC_INTERNAL_ERROR = ("GENERIC_INTERNAL_ERROR", 65536, "INTERNAL_ERROR")

_BY_CODE = {
    "parse_error": SYNTAX_ERROR,
    "unsupported_query": QUERY_REJECTED,
    "budget_exhausted": QUERY_REJECTED,
    "invalid_parameter": INVALID_SESSION_PROPERTY,
    "forbidden": PERMISSION_DENIED,
    "not_found": NOT_FOUND,
    "timeout": EXCEEDED_TIME_LIMIT,
    "internal": GENERIC_INTERNAL_ERROR,
}


@dataclass
class TrinoError(Exception):
    """A refusal or failure, with dpsql's code and the Trino error it maps to."""

    code: str  # dpsql's code (SPEC §3)
    message: str
    trino: tuple[str, int, str] = GENERIC_USER_ERROR
    position: Any = None
    query_id: str | None = None  # set when a charge stands (FailedAfterCharge)
    charged: float | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    @classmethod
    def of(cls, exc: BaseException, trino: tuple[str, int, str] | None = None, *,
           log_details: bool = False) -> TrinoError:
        """Map any error the pipeline may raise exactly as the JSON API does
        (`proxy.errors.error_response`, which also logs unknown errors and gives
        them the generic `internal` message)."""
        if isinstance(exc, TrinoError):
            return exc
        _, body = error_response(exc, log_details=log_details)
        code, message = body["error"]["code"], body["error"]["message"]
        after = exc if isinstance(exc, FailedAfterCharge) else None
        position = getattr(exc, "position", None) if "position" in body["error"] else None
        return cls(code, message, trino or _BY_CODE.get(code, GENERIC_USER_ERROR),
                   position, after.query_id if after else None,
                   after.charged if after else None)

    def document(self) -> dict[str, Any]:
        name, number, kind = self.trino
        location = ({"lineNumber": self.position.line, "columnNumber": self.position.column}
                    if self.position is not None else None)
        failure: dict[str, Any] = {"type": f"dpsql.{self.code}", "message": str(self),
                                   "suppressed": [], "stack": []}
        error: dict[str, Any] = {"message": str(self), "errorCode": number, "errorName": name,
                                 "errorType": kind, "failureInfo": failure}
        if location:
            error["errorLocation"] = location
            failure["errorLocation"] = location
        return error
