"""Routes of the dashboard and the offline API docs, and the OpenAPI security scheme
that lets Swagger UI's "Authorize" send a key."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(str(resources.files("proxy.ui") / "static"))
SCHEME = "apiKey"

# Scripts, styles, images and connections from this origin only: nothing the page
# does can reach another host, and no injected inline script runs. Swagger UI sets
# inline styles and data: images, so the docs page allows those two.
_CSP = {
    "ui": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
          "form-action 'self'; frame-ancestors 'none'",
    "docs": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
}


def _swagger_assets() -> Path:
    import swagger_ui_bundle  # the swagger-ui-bundle-v2 distribution: Swagger UI 5

    return Path(str(swagger_ui_bundle.swagger_ui_path))


def _page(name: str, policy: str) -> Response:
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8", headers={
        "Content-Security-Policy": _CSP[policy], "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


class _Hardened:
    """Static files get the same no-sniff and no-referrer headers as the pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


def _with_security(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document with the API key as an HTTP bearer scheme on every route
    that reads it (so Swagger UI's "Authorize" sends it), instead of a plain
    `authorization` header parameter that OpenAPI tools must ignore."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = FastAPI.openapi(app)  # FastAPI's own document, then the scheme added to it
    schema.setdefault("components", {})["securitySchemes"] = {SCHEME: {
        "type": "http", "scheme": "bearer",
        "description": "Your dpsql API key: `Authorization: Bearer <key>`."}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            params = operation.get("parameters", [])
            auth = [p for p in params
                    if p.get("in") == "header" and p.get("name", "").lower() == "authorization"]
            if not auth:
                continue
            operation["parameters"] = [p for p in params if p not in auth]
            if not operation["parameters"]:
                del operation["parameters"]
            operation["security"] = [{SCHEME: []}]
    app.openapi_schema = schema
    return schema


def install(app: FastAPI) -> None:
    """Serve the dashboard at `/` and the API docs at `/docs` from local files."""
    app.mount("/ui/static", _Hardened(StaticFiles(directory=STATIC)), name="ui-static")
    app.mount("/ui/swagger", _Hardened(StaticFiles(directory=_swagger_assets())),
              name="ui-swagger")

    @app.get("/", include_in_schema=False)
    def dashboard() -> Response:
        return _page("index.html", "ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return _page("docs.html", "docs")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    app.openapi = lambda: _with_security(app)  # type: ignore[method-assign]
