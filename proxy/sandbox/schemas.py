"""Request and response bodies of `/v1/sandbox/*`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..schemas import (
    AccuracyInfo,
    Body,
    BoundingInfo,
    Charge,
    ColumnInfo,
    ExplainResponse,
    QueryRequest,
    Spend,
)

NOTICE = ("These numbers are about synthetic people: a twin of the tables made from their "
          "metadata alone (types, bounds, public keys, per-person caps, a declared size), not "
          "from any real person's data. They show how noise and bounding behave, not what the "
          "real data says. Nothing was charged.")


class SandboxRequest(QueryRequest):
    draws: int = Field(default=5, ge=1, le=200, strict=True, description=(
        "How many independent noisy draws to show (the ε → error table uses at least 20)."))


class TwinInfo(BaseModel):
    people: dict[str, int] = Field(description="Synthetic people per private table.")
    rows: dict[str, int] = Field(description="Rows per table in the twin (public tables are "
                                             "copied as they are).")
    marginals: list[str] = Field(default_factory=list, description=(
        "Private tables whose twin the owner shaped by DP marginals of the real data (their "
        "size, shares per public key and per bin of each bounded column); the others are made "
        "from metadata alone."))


class MarginalsRequest(Body):
    epsilon: float = Field(gt=0, allow_inf_nan=False, strict=True, description=(
        "Spent once, split equally over the marginal queries of every private table."))
    delta: float | None = Field(default=None, ge=0, lt=1, allow_inf_nan=False, strict=True,
                                description="Split equally; absent: the deployment's default "
                                            "δ per query.")
    reason: str = Field(default="", max_length=500)


class MarginalsResponse(BaseModel):
    query_ids: list[str] = Field(description="The charged queries (none when all were cached).")
    analyst: str = Field(description="The ledger's name for these charges.")
    twin: TwinInfo


class RealCost(BaseModel):
    """What the same query would cost on the real data, and whether it fits."""

    charge: Charge
    chosen_epsilon: float | None = Field(
        default=None, description="The ε the accuracy target picks (what a real run charges).")
    fits_budget: bool
    blocked_by: Literal["analyst", "dataset", "expired"] | None = None
    remaining: Spend
    dataset_remaining: Spend | None = None
    affordable: int = Field(description=(
        "How many more queries at this charge the remaining budgets (analyst's and "
        "dataset's) allow, composed as the ledger composes them (at most 1,000,000)."))
    promote: QueryRequest = Field(description=(
        "The body to POST to /v1/query to run this query for real: the same SQL with the "
        "ε and δ resolved, so what was tried is what is paid for."))


class SandboxDraw(BaseModel):
    rows: list[list[Any]]
    accuracy: list[AccuracyInfo]


class SandboxQueryResponse(BaseModel):
    synthetic: Literal[True] = True
    notice: str = NOTICE
    columns: list[ColumnInfo]
    exact_rows: list[list[Any]] = Field(description=(
        "The twin's exact answer after the same per-person caps and clamping, without noise: "
        "what the draws scatter around and what their intervals cover."))
    draws: list[SandboxDraw] = Field(description="Independent noisy answers at the asked ε.")
    accuracy: list[AccuracyInfo] = Field(description="The first draw's intervals.")
    bounding: BoundingInfo | None = Field(default=None, description=(
        "The first draw's bounding diagnostics, as a real answer would report them."))
    real: RealCost
    twin: TwinInfo


class ErrorAtEpsilon(BaseModel):
    column: str
    ci95_halfwidth: float | None = Field(default=None, description=(
        "The widest stated 95 % interval over the answer's rows (None for rank intervals)."))
    rank_halfwidth: float | None = None
    observed_error95: float | None = Field(default=None, description=(
        "The 95th percentile of |draw − exact| over the twin's rows and the draws."))


class EpsilonRow(BaseModel):
    epsilon: float
    charge: Spend
    fits_budget: bool
    affordable: int
    errors: list[ErrorAtEpsilon] = Field(default_factory=list)
    refused: str | None = Field(default=None, description="Why this ε cannot be asked.")
    asked: bool = False
    accuracy_pick: bool = False


class PlotSeries(BaseModel):
    column: str
    epsilon: list[float]
    ci95_halfwidth: list[float | None]
    observed_error95: list[float | None]


class SandboxExplainResponse(BaseModel):
    synthetic: Literal[True] = True
    notice: str = NOTICE
    plan: ExplainResponse = Field(description="What /v1/explain says of the real query.")
    epsilon_table: list[EpsilonRow] = Field(description=(
        "ε → expected error on the twin, measured over the draws; the asked ε and the "
        "accuracy target's pick are marked."))
    plot: list[PlotSeries] = Field(description="The same table by column, for a plot.")
    asked_epsilon: float
    accuracy_pick: float | None = None
    remaining: Spend
    dataset_remaining: Spend | None = None
    affordable: int
    twin: TwinInfo
