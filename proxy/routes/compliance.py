"""Routes for compliance: read and export the ledger, verify its hash chain."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from accountant.budget import format_fraction
from accountant.ledger.records import Entry

from ..auth import require
from ..deps import Svc, Who
from ..errors import InvalidParameter
from ..schemas import ErrorResponse, LedgerEntry, LedgerPage, VerifyResponse

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 403, 500)
}
router = APIRouter(prefix="/v1/ledger", tags=["compliance"], responses=ERRORS)

MAX_PAGE = 1000
CSV_COLUMNS = list(LedgerEntry.model_fields)


def entry_model(entry: Entry) -> LedgerEntry:
    def exact(value: Any) -> str | None:
        return None if value is None else format_fraction(value)

    return LedgerEntry(
        seq=entry.seq, timestamp=entry.timestamp, kind=entry.kind, analyst=entry.analyst,
        actor=entry.actor, reason=entry.reason, query_id=entry.query_id, sql=entry.sql,
        epsilon=exact(entry.epsilon), delta=exact(entry.delta), rho=exact(entry.rho),
        delta_add=exact(entry.delta_add),
        expires=entry.expires, detail=entry.detail, prev_hash=entry.prev_hash, hash=entry.hash,
    )


def _moment(name: str, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidParameter(
            f"{name}: {value!r} is not an ISO 8601 date or time (e.g. 2026-06-30T12:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@router.get("", response_model=LedgerPage, responses={200: {"content": {"text/csv": {}}}})
def ledger(
    who: Who,
    svc: Svc,
    analyst: str | None = None,
    since: Annotated[str | None, Query(description="ISO 8601; entries at or after")] = None,
    until: Annotated[str | None, Query(description="ISO 8601; entries before")] = None,
    kind: Annotated[str | None, Query(description="grant, charge, dataset_budget, …")] = None,
    after: Annotated[int, Query(ge=0, description="return entries with seq > after")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Ledger entries in order, filtered and paginated; JSON pages or one CSV file."""
    require(who, "compliance", "owner")
    entries = [
        e for e in svc.ledger.entries(analyst, _moment("since", since), _moment("until", until))
        if e.seq > after and (kind is None or e.kind == kind)
    ]
    if format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for entry in entries:
            row = entry_model(entry).model_dump()
            row["detail"] = json.dumps(row["detail"], sort_keys=True)
            writer.writerow(row)
        return Response(out.getvalue(), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="ledger.csv"'})
    page = entries[:limit]
    more = len(entries) > limit
    return LedgerPage(entries=[entry_model(e) for e in page],
                      next_after=page[-1].seq if more else None)


@router.get("/verify", response_model=VerifyResponse)
def verify(who: Who, svc: Svc) -> VerifyResponse:
    """Recompute the hash chain and totals; name the first entry that fails."""
    require(who, "compliance", "owner")
    report = svc.ledger.verify()
    return VerifyResponse(ok=report.ok, entries=report.entries, head=report.head,
                          first_bad=report.first_bad, reason=report.reason)
