"""Routes for compliance: read and export the ledger and the attempts log, verify
them, and take a signed receipt of the head to keep elsewhere."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from accountant.ledger.attempts import OUTCOMES
from accountant.ledger.records import ENTRY_KINDS, Entry

from ..auth import require
from ..deps import Svc, Who
from ..errors import STATUS, InvalidParameter
from ..history import spend_history
from ..reports import (
    ATTEMPT_FIELDS,
    ENTRY_FIELDS,
    attempt_record,
    entry_record,
    parse_moment,
    to_csv,
    unknown_analyst,
    verify_command,
    verify_record,
)
from ..schemas import (
    AttemptRecord,
    AttemptsPage,
    ErrorResponse,
    LedgerEntry,
    LedgerPage,
    ReceiptResponse,
    SpendOverview,
    VerifyResponse,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 403, 500, 503)
}
router = APIRouter(prefix="/v1/ledger", tags=["compliance"], responses=ERRORS)

MAX_PAGE = 1000


def entry_model(entry: Entry) -> LedgerEntry:
    return LedgerEntry(**entry_record(entry))


def _moment(name: str, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_moment(value)
    except ValueError as exc:
        raise InvalidParameter(f"{name}: {exc}") from None


def _only(request: Request, allowed: tuple[str, ...]) -> None:
    """A misspelt filter must not read as "nothing matched"."""
    unknown = sorted(set(request.query_params) - set(allowed))
    if unknown:
        raise InvalidParameter(
            f"unknown query parameter {', '.join(unknown)}; this endpoint takes "
            f"{', '.join(allowed)}")


def _one_of(name: str, value: str | None, valid: tuple[str, ...]) -> None:
    if value is not None and value not in valid:
        raise InvalidParameter(f"{name}: {value!r} is not one of {', '.join(valid)}")


def _known_analyst(svc: Svc, analyst: str | None) -> None:
    if problem := unknown_analyst(svc.ledger, analyst):
        raise InvalidParameter(f"analyst: {problem}")


def _csv(text: str, filename: str) -> Response:
    return Response(text, media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


LEDGER_FILTERS = ("analyst", "since", "until", "kind", "after", "limit", "format")


@router.get("", response_model=LedgerPage, responses={200: {"content": {"text/csv": {}}}})
def ledger(
    who: Who,
    svc: Svc,
    request: Request,
    analyst: str | None = None,
    since: Annotated[str | None, Query(description="ISO 8601; entries at or after")] = None,
    until: Annotated[str | None, Query(description="ISO 8601; entries before")] = None,
    kind: Annotated[str | None, Query(description=", ".join(ENTRY_KINDS))] = None,
    after: Annotated[int, Query(ge=0, description="return entries with seq > after")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Ledger entries in order, filtered and paginated; JSON pages or one CSV file."""
    require(who, "compliance", "owner")
    _only(request, LEDGER_FILTERS)
    _one_of("kind", kind, ENTRY_KINDS)
    _known_analyst(svc, analyst)
    entries = [
        e for e in svc.ledger.entries(analyst, _moment("since", since), _moment("until", until))
        if e.seq > after and (kind is None or e.kind == kind)
    ]
    if format == "csv":
        return _csv(to_csv(map(entry_record, entries), ENTRY_FIELDS), "ledger.csv")
    page = entries[:limit]
    more = len(entries) > limit
    return LedgerPage(entries=[entry_model(e) for e in page],
                      next_after=page[-1].seq if more else None)


ATTEMPT_FILTERS = ("analyst", "since", "until", "outcome", "code", "after", "limit", "format")


@router.get("/attempts", response_model=AttemptsPage,
            responses={200: {"content": {"text/csv": {}}}})
def attempts(
    who: Who,
    svc: Svc,
    request: Request,
    analyst: str | None = None,
    since: Annotated[str | None, Query(description="ISO 8601; attempts at or after")] = None,
    until: Annotated[str | None, Query(description="ISO 8601; attempts before")] = None,
    outcome: Annotated[str | None, Query(description=", ".join(OUTCOMES))] = None,
    code: Annotated[str | None, Query(description="error code, e.g. unsupported_query")] = None,
    after: Annotated[int, Query(ge=0, description="return attempts with seq > after")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Every analyst request's outcome (answered, cached, refused with its code, blocked
    by budget, timed out, failed), in order; JSON pages or one CSV file."""
    require(who, "compliance", "owner")
    _only(request, ATTEMPT_FILTERS)
    _one_of("outcome", outcome, OUTCOMES)
    _one_of("code", code, tuple(STATUS))
    _known_analyst(svc, analyst)
    found = [a for a in svc.ledger.attempts(analyst, _moment("since", since),
                                            _moment("until", until), outcome, code)
             if a.seq > after]
    if format == "csv":
        return _csv(to_csv(map(attempt_record, found), ATTEMPT_FIELDS), "attempts.csv")
    page = found[:limit]
    return AttemptsPage(attempts=[AttemptRecord(**attempt_record(a)) for a in page],
                        next_after=page[-1].seq if len(found) > limit else None)


@router.get("/spend", response_model=SpendOverview)
def spend_over_time(who: Who, svc: Svc) -> SpendOverview:
    """Spend per analyst over time, and the dataset-wide budget's: after each charge,
    everything spent so far in that scope, stated against the current grant."""
    require(who, "compliance", "owner")
    now = svc.clock()
    entries = svc.ledger.entries()
    analysts = []
    accounting = svc.pipeline.privacy.accounting
    for record in svc.ledger.analysts():
        if record.role != "analyst":
            continue
        status = svc.ledger.status(record.name, now)
        analysts.append(spend_history((e for e in entries if e.analyst == record.name),
                                      accounting, status.granted, analyst=record.name))
    probe = svc.ledger.status("", now)
    dataset = spend_history(entries, accounting, probe.dataset_granted, analyst=None,
                            kinds=("charge", "owner_charge"))
    return SpendOverview(accounting=accounting.value, analysts=analysts, dataset=dataset)


@router.get("/verify", response_model=VerifyResponse)
def verify(
    who: Who,
    svc: Svc,
    request: Request,
    expect_entries: Annotated[int | None, Query(
        ge=1, description="from a receipt kept elsewhere: the ledger had this many entries")
    ] = None,
    expect_head: Annotated[str | None, Query(
        pattern="^[0-9a-f]{64}$", description="from a receipt: the head hash then")] = None,
) -> VerifyResponse:
    """Recompute the hash chain, the derived tables and the attempts log, check every
    signed checkpoint (database and file) and the receipt given; name what is wrong."""
    require(who, "compliance", "owner")
    _only(request, ("expect_entries", "expect_head"))
    report = svc.ledger.verify(svc.notary, expect_entries=expect_entries,
                               expect_head=expect_head)
    return VerifyResponse(**verify_record(report))


@router.get("/receipt", response_model=ReceiptResponse)
def receipt(who: Who, svc: Svc) -> ReceiptResponse:
    """A signed statement of where the ledger stands now, to keep outside dpsql: a later
    `verify --expect-entries N --expect-head H` shows whether anything was removed."""
    require(who, "compliance", "owner")
    if svc.notary is None:
        entries, head, attempts_n, attempts_head = svc.ledger.head()
        body: dict[str, Any] = {"entries": entries, "head": head, "attempts": attempts_n,
                                "attempts_head": attempts_head,
                                "time": svc.clock().isoformat(), "key_id": None}
        signature = public = None
    else:
        cp = svc.ledger.checkpoint()
        assert cp is not None
        body, signature, public = cp.body, cp.signature, svc.notary.public_key_hex
    return ReceiptResponse(
        checkpoint=body, signature=signature, public_key=public,
        check_with=verify_command(body["entries"], body["head"]))
