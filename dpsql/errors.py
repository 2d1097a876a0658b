"""The one error root, and the one list of codes (SPEC §3).

Every error dpsql raises on purpose is a :class:`DpsqlError` with a stable
``code`` (API: documented in the README, checked by ``tests/test_error_codes.py``,
never renamed), a ``message`` that names the rule and the fix, and where the
query text is at fault its ``position``::

    DpsqlError                          dpsql.errors
    ├── RewriteError                    rewriter.errors
    │   ├── ParseError                  parse_error
    │   └── QueryRefused                unsupported_query
    ├── AccountantError                 accountant.errors
    │   ├── InvalidParameter            invalid_parameter (the proxy raises it too)
    │   ├── BudgetExhausted             budget_exhausted
    │   └── LedgerTampered              ledger_tampered
    ├── EngineError                     proxy.engines.base: internal, a fixed message
    │   └── EngineTimeout               timeout
    ├── ConfigError                     proxy.config: config_error, or a STARTUP_CODES code
    │   └── StartupError                proxy.startup
    ├── Unauthenticated, Forbidden,     proxy.errors
    │   NotFound, FailedAfterCharge
    └── TrinoError                      proxy.trino.errors: the same codes, Trino's shape

:data:`STATUS` is every code a client can see, with its HTTP status;
:data:`STARTUP_CODES` every code a failed start-up prints. Rendering (HTTP JSON,
Trino, the CLI's one line) is the proxy's: ``proxy.errors.classify``.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["INTERNAL_MESSAGE", "STARTUP_CODES", "STATUS", "DpsqlError"]

#: Every code a client can see (HTTP JSON, Trino, the attempts log), with its status.
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

#: Every code a failed start-up prints, and when.
STARTUP_CODES: dict[str, str] = {
    "config_error": "dpsql.yaml is missing, not YAML, invalid, or names an unset ${VAR}",
    "metadata_mismatch": "a declared table or column does not match the database",
    "engine_unavailable": "the engine's database cannot be opened or reached",
    "engine_role_unsafe": "the PostgreSQL role may do more than read",
    "ledger_unavailable": "the ledger cannot be opened",
    "ledger_tampered": "the ledger does not verify (signed checkpoints, chain, totals)",
    "port_unavailable": "the address cannot be listened on",
    "startup_failed": "anything else (its class and message)",
}

#: What a client reads for an error nobody wrote a message for.
INTERNAL_MESSAGE = "internal error; the server log has the details"


class DpsqlError(Exception):
    """Root of every error dpsql raises on purpose.

    ``fixed_message``: whether an error of this class whose code is ``internal``
    carries text written for clients (an engine's "could not run the query"), so
    that it may be shown as is; any other ``internal`` error is shown as
    :data:`INTERNAL_MESSAGE`, its text only in the server log.
    """

    code: str = "internal"
    fixed_message: ClassVar[bool] = False

    def __init__(self, message: str, position: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
