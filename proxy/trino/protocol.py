"""The Trino client protocol on the proxy's own server (notes/trino-protocol.md §2):

    POST   /v1/statement                          run one statement; QUEUED + nextUri
    GET    /v1/statement/executing/{id}/{slug}/{n} page n of the result
    DELETE /v1/statement/executing/{id}/{slug}/{n} cancel: always 204
    HEAD   /v1/statement                          credentials check
    GET    /v1/info                               server version

A statement runs to completion inside the POST (the pipeline is synchronous and
its charge is durable before anything is answered); its pages wait in a
bounded `PageStore`. Errors are HTTP 200 documents with Trino's `error` object
and dpsql's code and message; only authentication failures are HTTP errors
(401/403), as in Trino. These routes speak Trino's wire format, documented by
Trino and the README, so they stay out of dpsql's OpenAPI document.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..auth import Principal
from ..charge import new_query_id
from ..deps import Services, services_of
from ..errors import error_response
from . import types
from .auth import CHALLENGE, authenticate
from .context import VERSION, Context, Outcome
from .errors import SYNTAX_ERROR, TrinoError
from .pages import PageStore
from .session import Reply, Session
from .statements import execute

log = logging.getLogger("dpsql.trino")
router = APIRouter(include_in_schema=False)
_STARTED = time.monotonic()
_store_lock = threading.Lock()


def _pages(request: Request) -> PageStore:
    state = request.app.state
    with _store_lock:
        if getattr(state, "trino_pages", None) is None:
            state.trino_pages = PageStore()
    store: PageStore = state.trino_pages
    return store


def _stats(state: str, rows: int = 0) -> dict[str, Any]:
    # every numeric field: the JDBC driver reads them as primitives (§2.3)
    numbers = ("nodes", "totalSplits", "queuedSplits", "runningSplits", "completedSplits",
               "cpuTimeMillis", "wallTimeMillis", "queuedTimeMillis", "elapsedTimeMillis",
               "processedRows", "processedBytes", "physicalInputBytes", "peakMemoryBytes",
               "spilledBytes")
    stats: dict[str, Any] = dict.fromkeys(numbers, 0)
    stats.update(state=state, queued=state == "QUEUED", scheduled=state != "QUEUED",
                 nodes=1, processedRows=rows)
    if state == "FINISHED":
        stats.update(totalSplits=1, completedSplits=1)
    return stats


def _document(request: Request, query_id: str, state: str, **fields: Any) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {"id": query_id, "infoUri": f"{base}/ui/query.html?{query_id}",
            "stats": _stats(state, len(fields.get("data") or ())), "warnings": [], **fields}


def _json(body: dict[str, Any], headers: list[tuple[str, str]] | None = None,
          status: int = 200) -> JSONResponse:
    response = JSONResponse(body, status_code=status)
    for name, value in headers or ():
        response.headers.append(name, value)
    return response


def _http_error(exc: BaseException) -> JSONResponse:
    status, body = error_response(exc)
    headers = [("WWW-Authenticate", CHALLENGE)] if status == 401 else []
    return _json(body, headers, status)


def _who(request: Request, svc: Services, session: Session) -> Principal:
    principal = authenticate(svc, request.headers.get("authorization"), session)
    request.state.principal = principal  # for the access log
    return principal


def _warning(text: str) -> dict[str, Any]:
    return {"warningCode": {"code": 0x0DD0, "name": "DPSQL_PRIVACY"}, "message": text}


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TrinoError("parse_error", f"the statement is not valid UTF-8 (byte {err.start})",
                         SYNTAX_ERROR) from None


@router.post("/v1/statement")
async def statement(request: Request) -> Response:
    body = await request.body()
    session = Session.from_headers(request.headers)
    try:
        svc = services_of(request)
        who = _who(request, svc, session)
    except Exception as exc:  # noqa: BLE001 - unauthenticated or forbidden: HTTP status
        return _http_error(exc)
    reply = Reply(session.prefix)
    ctx = Context(svc, who.name, session, reply, svc.pipeline.catalog)
    columns: list[dict[str, Any]] = []
    rows: list[list[Any]] = []
    warnings: list[dict[str, Any]] = []
    error = update_type = charged = None
    epsilon: float | None = None
    try:
        outcome: Outcome = await run_in_threadpool(execute, ctx, _text(body))
    except Exception as exc:  # noqa: BLE001 - every failure answers in Trino's shape
        failure = TrinoError.of(exc, log_details=svc.pipeline.log_details)
        charged, epsilon = failure.query_id, failure.charged  # failed after its charge
        error = failure.document()
    else:
        charged, epsilon = outcome.query_id, outcome.charged
        update_type = outcome.update_type
        columns = [types.column(name, typ, parametric_datetime=session.parametric_datetime)
                   for name, typ in outcome.columns]
        rows = [[types.encode(v, typ) for v, (_, typ) in zip(row, outcome.columns, strict=True)]
                for row in outcome.rows]
        warnings = [_warning(w) for w in outcome.warnings]
    query_id = charged or new_query_id()
    if charged:  # the access log names charged queries, as for /v1/query
        request.state.query_id = charged
        request.state.charged = epsilon
    # Like Trino, the POST only queues: the answer, an error included, comes on the
    # first GET. The JavaScript client never looks at the POST's document.
    slug = _pages(request).put(who.name, query_id, columns, rows, warnings, error=error,
                               update_type=update_type)
    base = str(request.base_url).rstrip("/")
    document = _document(request, query_id, "QUEUED",
                         nextUri=f"{base}/v1/statement/executing/{query_id}/{slug}/0")
    document["warnings"] = warnings  # the Python client reads them from the first response
    return _json(document, reply.headers)


@router.get("/v1/statement/executing/{query_id}/{slug}/{page}")
def page(query_id: str, slug: str, page: int, request: Request) -> Response:
    session = Session.from_headers(request.headers)
    try:
        svc = services_of(request)
        who = _who(request, svc, session)
    except Exception as exc:  # noqa: BLE001
        return _http_error(exc)
    stored = _pages(request).get(who.name, slug)
    if stored is None or stored.query_id != query_id or not 0 <= page < len(stored.pages):
        return _json({"error": {"code": "not_found", "message": "no such result page; results "
                                "expire 10 minutes after the query ran"}}, status=404)
    if stored.error is not None:
        return _json(_document(request, query_id, "FAILED", error=stored.error))
    if stored.update_type is not None:
        return _json(_document(request, query_id, "FINISHED", updateType=stored.update_type))
    last = page == len(stored.pages) - 1
    fields: dict[str, Any] = {"columns": stored.columns, "data": stored.pages[page]}
    if not last:
        base = str(request.base_url).rstrip("/")
        fields["nextUri"] = f"{base}/v1/statement/executing/{query_id}/{slug}/{page + 1}"
    document = _document(request, query_id, "FINISHED" if last else "RUNNING", **fields)
    if last:
        document["warnings"] = stored.warnings
    return _json(document)


@router.delete("/v1/statement/executing/{query_id}/{slug}/{page}")
def cancel(query_id: str, slug: str, page: int, request: Request) -> Response:
    session = Session.from_headers(request.headers)
    try:
        svc = services_of(request)
        who = _who(request, svc, session)
    except Exception as exc:  # noqa: BLE001
        return _http_error(exc)
    # 204 even for a result already forgotten: clients raise on anything else (§6)
    _pages(request).drop(who.name, slug)
    return Response(status_code=204)


@router.head("/v1/statement")
def check(request: Request) -> Response:
    session = Session.from_headers(request.headers)
    try:
        _who(request, services_of(request), session)
    except Exception as exc:  # noqa: BLE001
        status, _ = error_response(exc)
        headers = {"WWW-Authenticate": CHALLENGE} if status == 401 else {}
        return Response(status_code=status, headers=headers)
    return Response(status_code=200)


@router.get("/v1/info")
def info() -> JSONResponse:
    uptime = dt.timedelta(seconds=int(time.monotonic() - _STARTED))
    return JSONResponse({"nodeVersion": {"version": VERSION}, "environment": "dpsql",
                         "coordinator": True, "starting": False, "uptime": str(uptime)})
