"""Owner bodies: analysts, grants, the dataset-wide budget, table changes and the
bounds assistant."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from accountant.ledger.records import Role

from ..config import ANALYST_NAME_PATTERN
from .base import Body, Spend

_NAME = ANALYST_NAME_PATTERN


class GrantRequest(Body):
    epsilon: float = Field(ge=0, allow_inf_nan=False)
    delta: float = Field(ge=0, lt=1, allow_inf_nan=False)
    expires: str | None = Field(
        default=None, description="ISO date (through that day, UTC) or date-time, in the "
        "future; null or `never`: no end. Left out: a changed grant keeps its expiry.")
    reason: str = Field(default="", max_length=1000)


class AnalystCreate(Body):
    name: str = Field(pattern=_NAME)
    role: Role
    budget: GrantRequest | None = None
    reason: str = Field(default="", max_length=1000)


class AnalystKey(BaseModel):
    name: str
    role: str
    api_key: str = Field(description="Shown once; only its SHA-256 is stored.")


class AnalystUpdate(Body):
    disabled: bool
    reason: str = Field(default="", max_length=1000)


class KeyRotation(Body):
    reason: str = Field(default="", max_length=1000)


class AnalystInfo(BaseModel):
    name: str
    role: str
    disabled: bool
    granted: Spend | None = None
    spent: Spend
    remaining: Spend
    expires: str | None = None
    share_of_dataset: float = Field(description="Part of everything all analysts spent.")
    share_used: float | None = Field(default=None, description=(
        "Part of the analyst's own grant used, 0 to 1, as /v1/budget shows it (None: no "
        "grant, or more than all of a lowered one)."))
    summary: str | None = Field(default=None, description="The same in one plain sentence.")


class AnalystList(BaseModel):
    analysts: list[AnalystInfo]


class DatasetBudget(BaseModel):
    accounting: Literal["pure", "zcdp"]
    granted: Spend | None
    spent: Spend
    remaining: Spend | None
    share_used: float | None = Field(default=None, description=(
        "Part of the dataset-wide budget all analysts together used, 0 to 1 (None: no "
        "dataset-wide budget)."))
    summary: str | None = Field(default=None, description="The same in one plain sentence.")
    analysts: list[AnalystInfo]


class DatasetGrant(Body):
    epsilon: float = Field(ge=0, allow_inf_nan=False)
    delta: float = Field(ge=0, lt=1, allow_inf_nan=False)
    reason: str = Field(min_length=1, max_length=1000)


class TableChangeReport(BaseModel):
    """What an owner's change to a table's metadata did."""

    table: str
    metadata: dict[str, Any] | None = Field(
        description="the metadata now recorded (null: the table was removed)")
    removed: list[str] = Field(description="columns and settings the change dropped")
    loosens: list[str] = Field(description="what analysts may now learn or do that they "
                                           "could not before")
    tightens: list[str] = Field(description="what they no longer may")


class SuggestRequest(Body):
    epsilon: float = Field(gt=0, allow_inf_nan=False, description=(
        "What the assistant may spend of the dataset-wide budget (with the deployment's "
        "default δ under zCDP)."))
    coverage: float = Field(default=0.98, gt=0.5, lt=1, description=(
        "Share of values the proposed bounds should hold (the rest is split between the "
        "two tails)."))
    cap_quantile: float = Field(default=0.95, ge=0.5, lt=1, description=(
        "Quantile of the people's row (and group) counts to propose as caps."))
    group_by: str | None = Field(default=None, description=(
        "The column whose groups max_groups_per_unit is sized for; default: the first "
        "with public keys."))
    columns: list[str] | None = Field(default=None, description=(
        "Numeric columns to propose bounds for; default: all but the privacy unit."))
    confidence: float = Field(default=0.95, ge=0.5, lt=1, description=(
        "Level of the intervals stated for the dropped and clamped shares."))
    reason: str = Field(default="", max_length=1000)


class ProposalInfo(BaseModel):
    setting: str
    current: Any
    proposed: Any
    what: str
    share: float = Field(description="Estimated share of rows dropped or values clamped.")
    interval: list[float] = Field(description="Interval of that share for its noise, at the "
                                  "request's confidence.")
    count_noise: dict[str, float] | None = None
    sum_noise: dict[str, float] | None = None
    words: str


class SuggestResponse(BaseModel):
    table: str
    query_id: str
    charged: Spend
    dataset_remaining: Spend | None
    proposals: list[ProposalInfo]
    patch: dict[str, Any] = Field(description=(
        "The proposal as a merge patch: send it to PATCH /v1/admin/tables/{name} to apply."))
    notes: list[str]
