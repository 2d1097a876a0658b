"""Routes for data owners: analysts, their keys and budgets, and the
dataset-wide budget. Every change is a ledger entry naming who and why; the
registry lives in the ledger so that every proxy sharing it sees the change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request

from accountant import Budget

from ..auth import Principal, hash_key, new_key, require
from ..deps import Services, Svc, Who
from ..errors import InvalidParameter, NotFound
from ..grants import KEEP, check_grant, check_name, expiry_of, resolve_expiry
from ..respond import budget_sides, spend
from ..schemas import (
    AnalystCreate,
    AnalystInfo,
    AnalystKey,
    AnalystList,
    AnalystUpdate,
    DatasetBudget,
    DatasetGrant,
    ErrorResponse,
    GrantRequest,
    KeyRotation,
    ProposalInfo,
    Spend,
    SuggestRequest,
    SuggestResponse,
    TableChangeReport,
)
from ..suggest import suggest
from ..tables import TableChange, as_document

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 403, 404, 500)
}
router = APIRouter(prefix="/v1/admin", tags=["owner"], responses=ERRORS)


def _actor(who: Principal, request: Request) -> str:
    return f"{who.role}:{who.name}"


def _expiry(body: GrantRequest) -> dt.datetime | None | object:
    """The requested expiry; KEEP when the request does not name one."""
    if "expires" not in body.model_fields_set:
        return KEEP
    return expiry_of(body.expires)


def _info(svc: Services, name: str, role: str, disabled: bool,
          shares: dict[str, Any]) -> AnalystInfo:
    status = svc.ledger.status(name, svc.clock())
    mine, _ = budget_sides(status)
    return AnalystInfo(
        name=name, role=role, disabled=disabled,
        granted=spend(status.granted) if status.granted else None,
        spent=spend(status.spent), remaining=spend(status.remaining),
        expires=status.expires.isoformat() if status.expires else None,
        share_of_dataset=float(shares.get(name, 0)),
        share_used=mine.share_used if role == "analyst" else None,
        summary=mine.summary if role == "analyst" else None,
    )


def _record(svc: Services, name: str) -> Any:
    for record in svc.ledger.analysts():
        if record.name == name:
            return record
    raise NotFound(f"no analyst named {name!r}; GET /v1/admin/analysts lists them")


def _all(svc: Services) -> list[AnalystInfo]:
    shares = {s.analyst: s.share for s in svc.ledger.shares(svc.clock())}
    return [_info(svc, r.name, r.role, r.disabled, shares) for r in svc.ledger.analysts()]


def _one(svc: Services, name: str) -> AnalystInfo:
    """One analyst as the ledger has it now (after a change)."""
    return next(info for info in _all(svc) if info.name == name)


@router.get("/analysts", response_model=AnalystList)
def list_analysts(who: Who, svc: Svc) -> AnalystList:
    """Everyone who may call the proxy, with budgets and share of the dataset's spend."""
    require(who, "owner", "compliance")
    return AnalystList(analysts=_all(svc))


@router.post("/analysts", response_model=AnalystKey, status_code=201)
def create_analyst(body: AnalystCreate, who: Who, svc: Svc, request: Request) -> AnalystKey:
    """Create an analyst and return its API key — once: only its hash is kept."""
    require(who, "owner")
    check_name(body.name)
    if body.budget is not None:  # checked before the analyst exists: a bad grant adds nobody
        check_grant(body.role, _expiry(body.budget), svc.clock())  # type: ignore[arg-type]
    if any(r.name == body.name for r in svc.ledger.analysts()):
        raise InvalidParameter(
            f"an analyst named {body.name!r} exists; rotate its key with "
            f"POST /v1/admin/analysts/{body.name}/key or choose another name"
        )
    key = new_key()
    actor = _actor(who, request)
    svc.ledger.register_analyst(body.name, body.role, hash_key(key), actor=actor,
                                reason=body.reason or "created through the owner API")
    if body.budget is not None:
        _grant(svc, body.name, body.budget, actor)
    return AnalystKey(name=body.name, role=body.role, api_key=key)


def _grant(svc: Services, name: str, body: GrantRequest, actor: str) -> None:
    now = svc.clock()
    expires = resolve_expiry(svc.ledger, name, _expiry(body), now)  # type: ignore[arg-type]
    svc.ledger.set_grant(name, Budget.of(body.epsilon, body.delta), expires,
                         actor=actor, reason=body.reason or "granted through the owner API")


@router.patch("/analysts/{name}/budget", response_model=AnalystInfo)
def grant_budget(name: str, body: GrantRequest, who: Who, svc: Svc,
                 request: Request) -> AnalystInfo:
    """Grant or change an analyst's budget; what was spent stays spent. Without
    `expires` the grant keeps its expiry; `"expires": null` (or `"never"`) removes it."""
    require(who, "owner")
    record = _record(svc, name)
    check_grant(record.role, _expiry(body), svc.clock())  # type: ignore[arg-type]
    _grant(svc, name, body, _actor(who, request))
    return _one(svc, name)


@router.patch("/analysts/{name}", response_model=AnalystInfo)
def update_analyst(name: str, body: AnalystUpdate, who: Who, svc: Svc,
                   request: Request) -> AnalystInfo:
    """Disable or re-enable an analyst; a disabled key is refused at once."""
    require(who, "owner")
    _record(svc, name)
    svc.ledger.set_analyst_disabled(name, body.disabled, actor=_actor(who, request),
                                    reason=body.reason or "changed through the owner API")
    return _one(svc, name)


@router.post("/analysts/{name}/key", response_model=AnalystKey)
def rotate_key(name: str, body: KeyRotation, who: Who, svc: Svc,
               request: Request) -> AnalystKey:
    """Issue a new key; the old one stops working at once."""
    require(who, "owner")
    record = _record(svc, name)
    key = new_key()
    svc.ledger.register_analyst(name, record.role, hash_key(key), actor=_actor(who, request),
                                reason=body.reason or "key rotated through the owner API")
    return AnalystKey(name=name, role=record.role, api_key=key)


@router.get("/tables/{name}", response_model=dict[str, Any])
def get_table(name: str, who: Who, svc: Svc) -> dict[str, Any]:
    """A table's metadata as the ledger holds it (the format of dpsql.yaml)."""
    require(who, "owner", "compliance")
    table = svc.tables.catalog.tables.get(name)
    if table is None:
        raise NotFound(f"no table named {name!r}; GET /v1/tables lists them")
    return as_document(table)


def _changed(change: TableChange) -> TableChangeReport:
    return TableChangeReport(table=change.table, metadata=change.metadata,
                             removed=change.removed, loosens=change.loosens,
                             tightens=change.tightens)


@router.put("/tables/{name}", response_model=TableChangeReport)
def put_table(name: str, body: dict[str, Any], who: Who, svc: Svc, request: Request,
              reason: str = "") -> TableChangeReport:
    """Declare or replace a table's metadata, validated as in dpsql.yaml and checked
    against the database. The whole document is replaced: the answer lists what it
    removed, and the ledger entry what it loosens and tightens."""
    require(who, "owner")
    return _changed(svc.tables.replace(name, body, actor=_actor(who, request),
                                       reason=reason or "changed through the owner API"))


@router.patch("/tables/{name}", response_model=TableChangeReport)
def patch_table(name: str, body: dict[str, Any], who: Who, svc: Svc, request: Request,
                reason: str = "") -> TableChangeReport:
    """Change single settings or columns (JSON merge patch, RFC 7396: a key set to
    null is removed), e.g. `{"columns": {"salary": {"upper": 300000}}}`."""
    require(who, "owner")
    return _changed(svc.tables.patch(name, body, actor=_actor(who, request),
                                     reason=reason or "changed through the owner API"))


@router.delete("/tables/{name}", response_model=TableChangeReport)
def delete_table(name: str, who: Who, svc: Svc, request: Request,
                 reason: str = "") -> TableChangeReport:
    """Withdraw a table: analysts can no longer query it. What was spent stays spent."""
    require(who, "owner")
    return _changed(svc.tables.delete(name, actor=_actor(who, request),
                                      reason=reason or "removed through the owner API"))


@router.post("/tables/{name}/suggest", response_model=SuggestResponse)
def suggest_table(name: str, body: SuggestRequest, who: Who, svc: Svc,
                  request: Request) -> SuggestResponse:
    """Propose caps and bounds from DP quantiles of the data, spending `epsilon` of the
    dataset-wide budget (an owner charge in the ledger). Nothing is applied: send the
    answer's `patch` to PATCH /v1/admin/tables/{name} to apply it."""
    require(who, "owner")
    table = svc.tables.catalog.tables.get(name)
    if table is None:
        raise NotFound(f"no table named {name!r}; GET /v1/tables lists them")
    result = suggest(name, table, engine=svc.engine, ledger=svc.ledger, pipeline=svc.pipeline,
                     owner=who.name, epsilon=body.epsilon,
                     delta=svc.pipeline.privacy.default_delta,
                     reason=body.reason or "bounds assistant through the owner API",
                     coverage=body.coverage, cap_quantile=body.cap_quantile,
                     group_by=body.group_by, columns=body.columns,
                     confidence=body.confidence)
    status = svc.ledger.status(who.name, svc.clock())
    return SuggestResponse(
        table=name, query_id=result.query_id,
        charged=Spend(epsilon=result.charged_epsilon, delta=result.charged_delta),
        dataset_remaining=spend(status.dataset_remaining) if status.dataset_remaining
        else None,
        proposals=[ProposalInfo(setting=p.setting, current=p.current, proposed=p.proposed,
                                what=p.what, share=p.share, interval=list(p.interval),
                                count_noise=p.count_noise, sum_noise=p.sum_noise,
                                words=p.words) for p in result.proposals],
        patch=result.patch, notes=result.notes)


@router.get("/budget", response_model=DatasetBudget)
def dataset_budget(who: Who, svc: Svc) -> DatasetBudget:
    """The dataset-wide budget and each analyst's share of what was spent."""
    require(who, "owner", "compliance")
    analysts = _all(svc)
    probe = svc.ledger.status(analysts[0].name if analysts else "", svc.clock())
    spent_total = probe.dataset_spent
    _, theirs = budget_sides(probe)
    return DatasetBudget(
        accounting=probe.accounting.value,
        granted=spend(probe.dataset_granted) if probe.dataset_granted else None,
        spent=spend(spent_total),
        remaining=spend(probe.dataset_remaining) if probe.dataset_remaining else None,
        share_used=theirs.share_used if theirs else None,
        summary=theirs.summary if theirs else None,
        analysts=analysts,
    )


@router.patch("/budget", response_model=DatasetBudget)
def set_dataset_budget(body: DatasetGrant, who: Who, svc: Svc, request: Request) -> DatasetBudget:
    """Set the dataset-wide budget (all analysts together), with a reason."""
    require(who, "owner")
    svc.ledger.set_dataset_budget(Budget.of(body.epsilon, body.delta),
                                  actor=_actor(who, request), reason=body.reason)
    return dataset_budget(who, svc)
