"""The analyst's bodies: a query and its answer, an explain, the budget, the tables."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from accountant.ledger.records import Role

from .base import Body, BudgetSide, Charge, Spend


class AccuracyTarget(Body):
    ci95_halfwidth: float = Field(
        gt=0, allow_inf_nan=False, strict=True,
        description="The widest 95 % interval acceptable for every count and sum.",
    )


class QueryRequest(Body):
    sql: str = Field(description="One SELECT statement of aggregates.", max_length=100_000)
    # strict: `true` or "0.1" are not numbers, and a privacy parameter must be one
    epsilon: float | None = Field(
        default=None, allow_inf_nan=False, strict=True,
        description="Privacy loss this query may spend; the deployment default when absent.",
    )
    delta: float | None = Field(default=None, allow_inf_nan=False, strict=True)
    accuracy: AccuracyTarget | None = Field(
        default=None,
        description="Instead of epsilon: dpsql picks the smallest ε meeting this target.",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"sql": "SELECT dept, COUNT(*) AS n FROM employees "
                                                "GROUP BY dept", "epsilon": 0.5}]},
    )


class ColumnInfo(BaseModel):
    name: str
    type: str


class AccuracyInfo(BaseModel):
    column: str
    mechanism: str = Field(description=(
        "discrete_laplace or discrete_gaussian (added noise), exponential (the quantile "
        "selection), or several joined by ' + ' for outputs computed from several."))
    covers: Literal["noise"] = Field(default="noise", description=(
        "Intervals cover the noise only: the distance from the exact answer on the bounded "
        "data (rows capped per person, values clamped). `bounding` reports what that removed."))
    interval: Literal["value", "rank", "none"] = Field(default="value", description=(
        "value: ± in the column's units; rank: quantiles, MEDIAN, MIN and MAX, whose interval "
        "is a number of rows (`rank_halfwidth`); none: no interval (`reason` says why)."))
    scale: float | None = Field(default=None, description=(
        "The noise scale of the output itself, in its units: Laplace b or Gaussian σ for "
        "COUNT and SUM; for AVG, VAR and STDDEV the same propagation as the interval, applied "
        "to the scales (widest group); for quantiles the selection's temperature in score "
        "units; absent for the analyst's arithmetic."))
    ci95_halfwidth: float | None = Field(default=None, description=(
        "The answer lies within ± this of the exact bounded value 95 % of the time: the "
        "widest over the released rows (see `ci95_halfwidths`)."))
    ci95_halfwidths: list[float | None] | None = Field(default=None, description=(
        "Per answer row, in row order: AVG, VAR and STDDEV depend on each group's size."))
    rank_halfwidth: float | None = Field(default=None, description=(
        "Quantiles: 95 % of the time at most this many rows lie between the answer and the "
        "exact quantile (plus one bin of the histogram it is read from)."))
    reason: str | None = None
    words: str = Field(default="", description="The interval in plain words.")
    approximate: bool = False


class EstimateInfo(BaseModel):
    what: Literal["dropped_rows", "clamped_values"]
    column: str | None = None
    share: float = Field(description="The estimated share (0–1), differentially private.")
    ci95: tuple[float, float] = Field(description="95 % interval of the share.")
    material: bool = Field(description="Large enough to change how the answer reads.")
    words: str


class BoundingInfo(BaseModel):
    """What the per-person caps and the clamping removed (the intervals in
    `accuracy` do not cover it), estimated from a share of the query's own charge."""

    budget_share: float = Field(description=(
        "The fraction of this query's charge spent on these estimates "
        "(`privacy.diagnostics_share`)."))
    dropped_rows: EstimateInfo
    clamped_values: list[EstimateInfo]
    words: str


class QueryResponse(BaseModel):
    query_id: str
    columns: list[ColumnInfo]
    rows: list[list[Any]]
    charged: Charge
    remaining: Spend
    dataset_remaining: Spend | None = None
    budget: BudgetSide | None = Field(
        default=None, description="The analyst's budget after this answer.")
    dataset_budget: BudgetSide | None = Field(
        default=None, description="The dataset-wide budget after it, if there is one.")
    accuracy: list[AccuracyInfo]
    rounded_rows: list[list[Any]] | None = Field(default=None, description=(
        "`rows` with each noisy value rounded to the digits its interval supports."))
    bounding: BoundingInfo | None = None
    cached: bool
    chosen_epsilon: float | None = Field(
        default=None, description="The ε dpsql picked to meet the request's accuracy target."
    )


class OutputPlan(BaseModel):
    column: str
    kind: str
    mechanism: str | None = None
    sensitivity_l1: float | None = None
    sensitivity_l2: float | None = None
    budget_share: float | None = Field(
        default=None, description="Part of this query's charge given to this output's noise "
        "(0 to 1, four decimals): of ε under pure accounting, of ρ under zCDP.",
    )
    scale: float | None = None
    ci95_halfwidth: float | None = None
    rank_halfwidth: float | None = None
    words: str | None = None
    approximate: bool = False


class ExplainResponse(BaseModel):
    chosen_epsilon: float | None = Field(
        default=None, description="The ε dpsql picked to meet the request's accuracy target."
    )
    rewritten_sql: dict[str, str] = Field(description="The bounded query per engine dialect.")
    engine_dialect: str
    outputs: list[OutputPlan]
    groups: int
    accounting: Literal["pure", "zcdp"]
    charge: Charge = Field(description=(
        "What the query would be charged. δ is charged only where a mechanism uses it: "
        "partition selection, and under zCDP the conversion of ρ into ε; a pure query "
        "without partition selection is charged δ = 0 whatever δ it names."))
    rho: str | None = Field(
        default=None, description="zCDP: the ρ the query's noise uses, to 6 significant digits.")
    fits_budget: bool = Field(description=(
        "Exactly what POST /v1/query would decide now: the charge keeps `share_used` at most "
        "1 for the analyst and the dataset, and the grant has not expired."))
    blocked_by: Literal["analyst", "dataset", "expired"] | None = None
    affordable: int | None = Field(default=None, description=(
        "How many queries at this charge (this one included) both remaining budgets allow, "
        "composed as the ledger composes them (at most 1,000,000); None for a repeat, which "
        "is answered free from the cache."))
    remaining: Spend
    dataset_remaining: Spend | None = None
    diagnostics_share: float = Field(default=0, description=(
        "The fraction of the charge spent estimating what the per-person caps and the "
        "clamping remove (the answer's `bounding`); the outputs get the rest."))
    budget: BudgetSide | None = Field(default=None, description="The analyst's budget now.")
    dataset_budget: BudgetSide | None = Field(
        default=None, description="The dataset-wide budget now, if there is one.")
    selection_threshold: int | None = Field(
        default=None,
        description="Partition selection: a group is released only if its noisy count "
        "reaches this number (the query's own COUNT(*) when it has one, else its count of "
        "distinct people or another of its counts; see SPEC §4.4).",
    )
    selection_delta: float | None = Field(
        default=None, description="The part of δ partition selection spends: the chance "
        "that a group only one person creates is released. Under zCDP it is charged as an "
        "additive δ beside ρ.",
    )
    conversion_delta: float | None = Field(
        default=None, description="zCDP only: the part of δ that converts ρ into ε, "
        "ε = ρ + 2√(ρ·ln(1/conversion_delta)); with partition selection, "
        "selection_delta + conversion_delta = δ.",
    )
    cached: bool = Field(default=False, description=(
        "The same question at the same ε and δ was answered before: /v1/query returns "
        "that answer again, free, so `charge` is 0 and it fits whatever the budget."))


class BudgetResponse(BudgetSide):
    analyst: str
    accounting: Literal["pure", "zcdp"]
    expires: str | None
    expired: bool
    dataset: BudgetSide | None


class ColumnMeta(BaseModel):
    name: str
    type: str
    lower: float | None = None
    upper: float | None = None
    groupable: bool = True
    public_keys: list[Any] | None = None


class TableMeta(BaseModel):
    name: str
    public: bool
    privacy_unit: str | None = None
    max_rows_per_unit: int | None = None
    max_groups_per_unit: int | None = None
    columns: list[ColumnMeta]


class TablesResponse(BaseModel):
    tables: list[TableMeta]


class WhoAmI(BaseModel):
    """Whose key this is: what a front end needs to show the right pages."""

    name: str
    role: Role
