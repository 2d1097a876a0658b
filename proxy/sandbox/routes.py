"""`/v1/sandbox/*`: try a query on the synthetic twin before paying for it (SPEC §3)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from accountant import to_fraction

from ..auth import require
from ..deps import Svc, Who
from ..routes.analyst import ERRORS
from .marginals import ANALYST, measure_marginals
from .run import Sandbox, twin_info
from .schemas import (
    MarginalsRequest,
    MarginalsResponse,
    SandboxExplainResponse,
    SandboxQueryResponse,
    SandboxRequest,
)

router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"], responses=ERRORS)
admin = APIRouter(prefix="/v1/admin/sandbox", tags=["owner"], responses=ERRORS)


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


@router.post("/query", response_model=SandboxQueryResponse)
def sandbox_query(body: SandboxRequest, who: Who, svc: Svc,
                  request: Request) -> SandboxQueryResponse:
    """The query on synthetic people: their exact answer, noisy draws at the asked ε, the
    intervals and bounding diagnostics, and what the real query would cost. Free."""
    require(who, "analyst")
    return _sandbox(request).query(svc.pipeline, who.name, body)


@router.post("/explain", response_model=SandboxExplainResponse)
def sandbox_explain(body: SandboxRequest, who: Who, svc: Svc,
                    request: Request) -> SandboxExplainResponse:
    """What ε do I need: ε → error on the synthetic twin, the accuracy target's pick, the
    remaining budget and how many more queries like this it allows. Free."""
    require(who, "analyst")
    return _sandbox(request).explain(svc.pipeline, who.name, body)


@admin.post("/marginals", response_model=MarginalsResponse)
def sandbox_marginals(body: MarginalsRequest, who: Who, svc: Svc,
                      request: Request) -> MarginalsResponse:
    """Shape the twins by DP marginals of the real data, paid once from the dataset-wide
    budget as the analyst `dpsql-sandbox` (every charge is in the ledger)."""
    require(who, "owner")
    sandbox = _sandbox(request)
    marginals, ids = measure_marginals(svc.pipeline, to_fraction(body.epsilon),
                                       None if body.delta is None else to_fraction(body.delta),
                                       actor=f"{who.role}:{who.name}",
                                       reason=body.reason or "sandbox twin from DP marginals")
    sandbox.store.set_marginals(marginals)
    twin = sandbox.store.twin(svc.pipeline.catalog)
    return MarginalsResponse(query_ids=ids, analyst=ANALYST, twin=twin_info(twin))
