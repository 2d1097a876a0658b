"""Recording every analyst request's outcome in the ledger's attempts log.

Called around the query pipeline by each front end, so a reviewer can answer
"who tried to read raw salaries last week?" from the log, not from memory:
answered, cached (free), explained, refused (with the error code), blocked by
budget, timed out, failed after the charge. The SQL recorded is the analyst's
own, normalized when it parses (never an answer or a stored value).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from accountant import AuditTrail
from accountant.errors import BudgetExhausted
from rewriter import normalize

from .errors import FailedAfterCharge, classify

log = logging.getLogger("dpsql")
T = TypeVar("T")

# the normalized text of recently recorded queries: normalizing parses with sqlglot,
# and depends on the text alone (what fails to parse is not cached, and kept as written)
_normalized = functools.lru_cache(maxsize=1024)(normalize)


def recorded(ledger: AuditTrail, analyst: str, endpoint: str, sql: str,
             run: Callable[[], T], success: Callable[[T], dict[str, str | None]]) -> T:
    """``run()``, then record its outcome: ``success(result)`` gives outcome, query_id
    and the charge of a result; an exception is classified by :func:`failure`."""
    try:
        result = run()
    except BaseException as exc:
        _record(ledger, analyst, endpoint, sql, failure(exc))
        raise
    _record(ledger, analyst, endpoint, sql, success(result))
    return result


def answered(answer: Any) -> dict[str, str | None]:
    """The attempt record of a query answer (a `QueryResponse`)."""
    if answer.cached:
        return {"outcome": "cached", "query_id": answer.query_id}
    return {"outcome": "answered", "query_id": answer.query_id,
            "epsilon": repr(answer.charged.epsilon), "delta": repr(answer.charged.delta)}


def explained(_: Any) -> dict[str, str | None]:
    return {"outcome": "explained"}


RECORDED = ("/v1/query", "/v1/explain")


def record_invalid_body(services: Any, path: str, authorization: str | None,
                        body: Any) -> None:
    """A request to a recorded endpoint whose body failed validation (an unknown field,
    ε given as text) is an attempt too, when its key names an analyst."""
    if path not in RECORDED or services is None:
        return
    try:
        who = services.keys.authenticate(authorization)
    except Exception:  # noqa: BLE001 - no analyst to record it under: the access log has it
        return
    sql = body.get("sql") if isinstance(body, dict) else None
    _record(services.ledger, who.name, path, sql if isinstance(sql, str) else "",
            {"outcome": "refused", "code": "invalid_parameter"})


def failure(exc: BaseException) -> dict[str, str | None]:
    """The outcome of a request that raised `exc`, with the code its client saw."""
    code = classify(exc).code
    if isinstance(exc, FailedAfterCharge):
        return {"outcome": "timeout" if exc.code == "timeout" else "failed", "code": exc.code,
                "query_id": exc.query_id, "epsilon": repr(exc.charged),
                "delta": repr(exc.charged_delta)}
    if isinstance(exc, BudgetExhausted):
        return {"outcome": "blocked", "code": code}
    if code == "internal":
        return {"outcome": "failed", "code": code}
    return {"outcome": "refused", "code": code}


def _record(ledger: AuditTrail, analyst: str, endpoint: str, sql: str,
            outcome: dict[str, str | None]) -> None:
    try:
        text = _normalized(sql)
    except Exception:  # noqa: BLE001 - a refused query may not parse: keep it as written
        text = sql
    try:
        ledger.record_attempt(analyst=analyst, endpoint=endpoint, sql=text, **outcome)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - the answer (or refusal) stands; say it loudly
        log.error("attempt of %s on %s not recorded in the attempts log (%s)",
                  analyst, endpoint, type(exc).__name__)
