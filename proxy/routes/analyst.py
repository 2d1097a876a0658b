"""Routes for analysts: ask, try before paying, see budget and tables."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from rewriter.keys import json_key

from ..attempts import answered, explained, recorded
from ..auth import require
from ..deps import Svc, Who
from ..history import spend_history
from ..respond import budget_sides
from ..schemas import (
    BudgetResponse,
    ColumnMeta,
    ErrorResponse,
    ExplainResponse,
    QueryRequest,
    QueryResponse,
    SpendHistory,
    TableMeta,
    TablesResponse,
    WhoAmI,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 403, 413, 500, 503, 504)
}

router = APIRouter(prefix="/v1", tags=["analyst"], responses=ERRORS)


@router.post("/query", response_model=QueryResponse)
def query(body: QueryRequest, who: Who, svc: Svc, request: Request) -> QueryResponse:
    """Answer one aggregate query with noise, charging the analyst's budget."""
    def run() -> QueryResponse:
        require(who, "analyst")
        return svc.pipeline.query(who.name, body)

    answer = recorded(svc.ledger, who.name, "/v1/query", body.sql, run, answered)
    request.state.query_id = answer.query_id
    request.state.charged = answer.charged.epsilon
    return answer


@router.post("/explain", response_model=ExplainResponse)
def explain(body: QueryRequest, who: Who, svc: Svc) -> ExplainResponse:
    """Show the rewritten SQL, noise, accuracy and cost; reads no data, charges nothing."""
    def run() -> ExplainResponse:
        require(who, "analyst")
        return svc.pipeline.explain(who.name, body)

    return recorded(svc.ledger, who.name, "/v1/explain", body.sql, run, explained)


@router.get("/budget", response_model=BudgetResponse)
def budget(who: Who, svc: Svc) -> BudgetResponse:
    """Own budget: granted, spent, remaining (spent + remaining = granted), the share
    used, expiry and a plain sentence; and the dataset-wide budget the same way."""
    require(who, "analyst")
    status = svc.ledger.status(who.name, svc.clock())
    mine, dataset = budget_sides(status)
    return BudgetResponse(
        **mine.model_dump(), analyst=who.name, accounting=status.accounting.value,
        expires=status.expires.isoformat() if status.expires else None,
        expired=status.expired, dataset=dataset,
    )


@router.get("/budget/history", response_model=SpendHistory)
def budget_history(who: Who, svc: Svc) -> SpendHistory:
    """Own spend over time: after each charge, everything spent so far (it never goes
    down), stated against the current grant as /v1/budget states it."""
    require(who, "analyst")
    status = svc.ledger.status(who.name, svc.clock())
    return spend_history(svc.ledger.entries(who.name), status.accounting, status.granted,
                         analyst=who.name)


@router.get("/me", response_model=WhoAmI)
def me(who: Who) -> WhoAmI:
    """Whose key this is and its role (any role): a front end shows the pages that fit."""
    return WhoAmI(name=who.name, role=who.role)


@router.get("/tables", response_model=TablesResponse)
def tables(who: Who, svc: Svc) -> TablesResponse:
    """The tables, columns, bounds and public keys one may query."""
    catalog = svc.pipeline.catalog
    listed = []
    for name, table in catalog.tables.items():
        columns = []
        for col_name, col in table.columns.items():
            keys = catalog.public_keys(name, col_name) if col.public_keys else None
            columns.append(ColumnMeta(
                name=col_name, type=col.type, lower=col.lower, upper=col.upper,
                groupable=col.groupable and col_name != table.privacy_unit,
                public_keys=[json_key(k) for k in keys] if keys is not None else None,
            ))
        listed.append(TableMeta(
            name=name, public=table.public, privacy_unit=table.privacy_unit,
            max_rows_per_unit=None if table.public else table.max_rows_per_unit,
            max_groups_per_unit=None if table.public else table.max_groups_per_unit,
            columns=columns,
        ))
    return TablesResponse(tables=listed)
