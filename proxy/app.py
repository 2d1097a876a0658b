"""The FastAPI application: wiring only. Routes live in `proxy/routes/`, the
query path in `proxy/pipeline.py`."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from accountant import Accounting, Budget, Ledger, open_ledger
from accountant.ledger import Declared
from accountant.ledger import seed_ledger as seed_declared

from . import __version__, routes
from .attempts import record_invalid_body
from .auth import KeyRing
from .config import Config, ConfigError, grant_expiry
from .deps import Services
from .engines import open_engine
from .errors import DpsqlError, FailedAfterCharge, error_body, error_response
from .middleware import AccessLog, BodyLimit
from .pipeline import Clock, Pipeline, PrivacyDefaults, utc_now
from .sandbox import routes as sandbox_routes
from .sandbox.run import Sandbox
from .sandbox.store import TwinStore
from .tables import TableStore, schema_problems, seed_tables
from .trino import router as trino_router
from .trust import schedule, start_trusted
from .ui import install as install_ui

log = logging.getLogger("dpsql")


def seed_ledger(config: Config, ledger: Ledger) -> None:
    """Record the analysts, keys and grants `dpsql.yaml` declares.

    Only what changed in the file since it was last recorded is applied, so a
    restart never undoes an owner's later change through the API or CLI (a
    raised grant, a rotated key).
    """
    declared = [
        Declared(name, a.role, a.api_key_sha256,
                 Budget.of(a.budget.epsilon, a.budget.delta) if a.budget else None,
                 grant_expiry(a.budget.expires) if a.budget else None)
        for name, a in config.analysts.items()
    ]
    dataset = config.privacy.dataset_budget
    seed_declared(ledger, declared,
                  Budget.of(dataset.epsilon, dataset.delta) if dataset else None)


def _lines(problems: list[str]) -> str:
    more = f" (and {len(problems) - 1} more: " + "; ".join(problems[1:]) + ")" \
        if len(problems) > 1 else ""
    return (f"the metadata does not match the database: {problems[0]}{more}. Fix dpsql.yaml; "
            "a table declared through the owner API is changed with `dpsql tables delete "
            "NAME --reason …` or the owner API of a server started without it")


def start_services(config: Config, clock: Clock = utc_now) -> Services:
    """Open the engine and the ledger, record the config's grants, resolve keys."""
    engine = open_engine(config.engine, log_messages=config.logging.engine_errors)
    accounting = Accounting(config.privacy.accounting)
    try:
        ledger = open_ledger(config.ledger.url, accounting)
    except BaseException:
        engine.close()
        raise
    try:
        # before anything is written: a ledger that does not verify is not used at all
        notary = start_trusted(config, ledger)
        seed_ledger(config, ledger)
        seed_tables(config.tables, ledger)
        mismatched = schema_problems(ledger, engine)
        if mismatched:
            # an analyst's query over a misdeclared column would be charged and then
            # fail in the engine: the database decides what exists (issue #19)
            raise ConfigError(_lines(mismatched), code="metadata_mismatch")
        tables = TableStore(ledger, engine, config.names)
        problems = tables.verify()
        if problems:
            # a public table joined on a column that repeats more than declared would
            # let one person's rows multiply before any cap (SPEC §4.7): do not start
            raise ConfigError(_lines(problems), code="metadata_mismatch")
    except BaseException:
        ledger.close()
        engine.close()
        raise
    privacy = PrivacyDefaults(
        accounting=accounting,
        default_epsilon=config.privacy.default_query_epsilon,
        default_delta=config.privacy.default_query_delta,
        max_epsilon=config.privacy.max_query_epsilon,
        max_delta=config.privacy.max_query_delta,
        diagnostics_share=config.privacy.diagnostics_share,
    )
    pipeline = Pipeline(catalog=tables.refresh, engine=engine, ledger=ledger, privacy=privacy,
                        clock=clock, limits=config.limits.limits(),
                        log_details=config.logging.engine_errors)
    return Services(config, engine, ledger, pipeline, KeyRing(ledger), clock, tables, notary)


def create_app(config: Config, *, clock: Clock = utc_now,
               services: Services | None = None) -> FastAPI:
    """The app for one deployment; engine and ledger open when it starts (``services``:
    already opened, so that `dpsql serve` reports any start-up failure in one line
    before serving)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        app.state.services = services or start_services(config, clock)
        app.state.services.checkpointer = schedule(config, app.state.services.ledger,
                                                   app.state.services.notary)
        # the sandbox's twins live in their own DuckDB database, never the data engine
        app.state.sandbox = Sandbox(TwinStore(
            app.state.services.engine, statement_timeout_s=config.engine.statement_timeout_s))
        try:
            yield
        finally:
            app.state.sandbox.close()
            app.state.services.close()

    app = FastAPI(
        title="dpsql",
        version=__version__,
        summary="Differentially private SQL over HTTP.",
        description="Ask aggregate SQL questions of personal data; every answer is noised "
        "and charged to a privacy budget recorded in a tamper-evident ledger.",
        lifespan=lifespan,
        docs_url=None,  # served by proxy.ui from local files: /docs works offline
        redoc_url=None,
    )
    _install_error_handlers(app, log_details=config.logging.engine_errors)
    app.include_router(routes.analyst)
    app.include_router(routes.compliance)
    app.include_router(routes.owner)
    app.include_router(sandbox_routes.router)  # free queries on a synthetic twin
    app.include_router(sandbox_routes.admin)
    app.include_router(trino_router)  # BI tools: the Trino client protocol
    install_ui(app)  # the dashboard at / and the API docs at /docs, no CDN

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodyLimit)
    app.add_middleware(AccessLog)
    return app


def _install_error_handlers(app: FastAPI, *, log_details: bool = False) -> None:
    def respond(request: Request, exc: BaseException) -> JSONResponse:
        if isinstance(exc, FailedAfterCharge):  # the access log records the charge
            request.state.query_id = exc.query_id
            request.state.charged = exc.charged
        status, body = error_response(exc, log_details=log_details)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        message = "; ".join(problems) or "the request body is not valid JSON"
        await run_in_threadpool(record_invalid_body, getattr(request.app.state, "services", None),
                                request.url.path, request.headers.get("authorization"),
                                exc.body)
        return JSONResponse(error_body("invalid_parameter", message), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "invalid_parameter" if exc.status_code < 500 else "internal")
        message = {404: "no such endpoint; see /openapi.json",
                   405: "this endpoint does not accept that HTTP method"}.get(
            exc.status_code, "the request was refused")
        return JSONResponse(error_body(code, message), status_code=exc.status_code)

    # One root, one handler: `error_response` classifies every error, and answers
    # anything dpsql did not raise on purpose with a generic `internal` error.
    for root in (DpsqlError, Exception):
        app.add_exception_handler(root, respond)


