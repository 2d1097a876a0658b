"""dpsql's errors in Trino's shape (notes/trino-protocol.md §2.8).

A failed query is an HTTP 200 document with an `error` object. `errorType`
decides what the client raises: `USER_ERROR` gives the trino client's
`TrinoUserError` (a DB-API `ProgrammingError`), which every BI tool shows as the
message. The message starts with dpsql's own code (`unsupported_query: …`), so
the code of the JSON API (SPEC §3) survives in every client.
"""

from __future__ import annotations

from typing import Any

from dpsql.errors import DpsqlError

from ..errors import handled

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


class TrinoError(DpsqlError):
    """A refusal or failure, with dpsql's code and the Trino error it maps to; its
    message is a classified one (``TrinoError.of``) or written for the client."""

    fixed_message = True

    def __init__(self, code: str, message: str,
                 trino: tuple[str, int, str] = GENERIC_USER_ERROR, position: Any = None,
                 query_id: str | None = None, charged: float | None = None) -> None:
        super().__init__(message, position)
        self.code = code  # dpsql's code (SPEC §3)
        self.trino = trino
        self.query_id = query_id  # set when a charge stands (FailedAfterCharge)
        self.charged = charged

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    @classmethod
    def of(cls, exc: BaseException, trino: tuple[str, int, str] | None = None, *,
           log_details: bool = False) -> TrinoError:
        """Map any error the pipeline may raise exactly as the JSON API does
        (`proxy.errors.handled`, which also logs unknown errors and gives them the
        generic `internal` message)."""
        if isinstance(exc, TrinoError):
            return exc
        seen = handled(exc, log_details=log_details)
        after = seen.after
        return cls(seen.code, seen.message, trino or _BY_CODE.get(seen.code, GENERIC_USER_ERROR),
                   seen.position, after.query_id if after else None,
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
