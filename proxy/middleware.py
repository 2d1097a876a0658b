"""ASGI middleware: a request-size cap and one JSON access-log line per request.

The access log records who asked, the query id, the status, the time taken and
the ε charged — never the SQL's results, which are private until noised and
then belong to the analyst alone.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body

MAX_BODY_BYTES = 1 << 20  # 1 MiB: room for a query of limits.max_sql_chars (default 50,000)

access_log = logging.getLogger("dpsql.access")


class _TooLarge(Exception):
    pass


async def _refuse(send: Send) -> None:
    body = json.dumps(error_body(
        "payload_too_large", f"the request body exceeds {MAX_BODY_BYTES} bytes"
    )).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse bodies over MAX_BODY_BYTES, whether announced or streamed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY_BYTES:
                await _refuse(send)
                return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY_BYTES:
                    raise _TooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking)
        except _TooLarge:
            if not started:
                await _refuse(send)


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            state: Any = scope.get("state", {})
            principal = state.get("principal")
            access_log.info(json.dumps({
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status,
                "duration_ms": round((time.perf_counter() - began) * 1000, 2),
                "analyst": getattr(principal, "name", None),
                "query_id": state.get("query_id"),
                "charged_epsilon": state.get("charged"),
            }))
