"""`/v1/sandbox/*`: try a query on the synthetic twin before paying for it (SPEC §3)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..auth import require
from ..deps import Svc, Who
from ..routes.analyst import ERRORS
from .run import Sandbox
from .schemas import SandboxExplainResponse, SandboxQueryResponse, SandboxRequest

router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"], responses=ERRORS)


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
