"""Request and response bodies of the HTTP API, declared once for the routes
and the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from accountant.ledger.records import Role

from .config import ANALYST_NAME_PATTERN


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccuracyTarget(_Body):
    ci95_halfwidth: float = Field(
        gt=0, allow_inf_nan=False, strict=True,
        description="The widest 95 % interval acceptable for every count and sum.",
    )


class QueryRequest(_Body):
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


class Spend(BaseModel):
    epsilon: float
    delta: float


_SHARE = (
    "Part of the grant used, 0 to 1 (rounded up to 1e-6): under pure accounting the larger "
    "of spent ε / granted ε and spent δ / granted δ; under zCDP spent ε / granted ε, where "
    "spent ε is what the composed ρ gives at the grant's δ. A query is admitted exactly "
    "when it keeps this at most 1, for the analyst and for the dataset. Null without a "
    "grant, or when something was spent of a grant lowered to 0."
)


class Charge(Spend):
    """What one query is charged: its own (ε, δ), and the part of each budget it takes."""

    share: float | None = Field(default=None, description=(
        "Part of the analyst's budget this query takes (rounded up), in the units of "
        "`share_used`. Under zCDP it is less than ε / granted ε once something was spent: "
        "composed, queries cost less than their ε's added up."))
    dataset_share: float | None = Field(
        default=None, description="Part of the dataset-wide budget it takes, if there is one.")


class BudgetSide(BaseModel):
    """One budget as people read it: spent + remaining = granted (for ε and for δ)."""

    granted: Spend | None
    spent: Spend = Field(description=(
        "What the answers so far composed to. Pure: the sums of ε and δ. zCDP: ε ≈ the ε of "
        "the composed ρ at the grant's δ (rounded up), δ = what partition selection used "
        "up; the rest of the grant's δ is what turns ρ into ε, not spent by queries."))
    remaining: Spend = Field(description=(
        "granted − spent, as shown (0 once expired or over the grant). A query asking for "
        "at most this ε and this δ (under zCDP: without partition selection) fits this "
        "budget."))
    share_used: float | None = Field(default=None, description=_SHARE)
    summary: str = Field(default="", description="The same in one plain sentence.")


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


class VerifyResponse(BaseModel):
    ok: bool
    entries: int = Field(description="Entries the ledger holds.")
    checked: int = Field(description="Entries that verified before the check stopped.")
    head: str = Field(description="Hash of the last entry that verified.")
    first_bad: int | None = None
    reason: str | None = None
    attempts: int = Field(description="Rows in the attempts log.")
    attempts_head: str
    checkpoints: int = Field(description="Signed checkpoints checked (database and file).")


class ReceiptResponse(BaseModel):
    checkpoint: dict[str, Any] = Field(
        description="entries, head, attempts, attempts_head, time, key_id: where the "
        "ledger stood, as signed.")
    signature: str | None = Field(
        description="Ed25519 signature (hex) of the checkpoint's canonical JSON; null "
        "when no signing key is configured.")
    public_key: str | None = Field(description="The signing key's public half (hex).")
    check_with: str = Field(description="The command that checks the ledger against it.")


class AttemptRecord(BaseModel):
    seq: int
    timestamp: str
    analyst: str
    endpoint: str
    outcome: str = Field(description="answered, cached, explained, refused, blocked, "
                                     "timeout or failed")
    code: str | None = Field(default=None, description="The error code, when not answered.")
    query_id: str | None = None
    sql: str
    epsilon: str | None = Field(default=None, description="Charged, when charged.")
    delta: str | None = None
    prev_hash: str
    hash: str


class AttemptsPage(BaseModel):
    attempts: list[AttemptRecord]
    next_after: int | None = Field(
        default=None, description="Pass as `after` to read the next page; null on the last."
    )


class ErrorDetail(BaseModel):
    code: str
    message: str
    position: dict[str, int] | None = None
    query_id: str | None = Field(
        default=None, description="After a charge (500 internal, 504 timeout): the query "
        "charged, as in the ledger.")
    charged: Spend | None = Field(
        default=None, description="After a charge: what stays charged (never refunded).")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class LedgerEntry(BaseModel):
    seq: int
    timestamp: str
    kind: str
    analyst: str | None = None
    actor: str | None = None
    reason: str | None = None
    query_id: str | None = None
    sql: str | None = None
    epsilon: str | None = Field(default=None, description="Exact, as a decimal or n/d.")
    delta: str | None = None
    rho: str | None = None
    delta_add: str | None = Field(
        default=None, description="zCDP charges with partition selection: the part of δ "
        "spent additively, which the ledger sums beside ρ.",
    )
    expires: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


class LedgerPage(BaseModel):
    entries: list[LedgerEntry]
    next_after: int | None = Field(
        default=None, description="Pass as `after` to read the next page; null on the last."
    )


_NAME = ANALYST_NAME_PATTERN


class GrantRequest(_Body):
    epsilon: float = Field(ge=0, allow_inf_nan=False)
    delta: float = Field(ge=0, lt=1, allow_inf_nan=False)
    expires: str | None = Field(
        default=None, description="ISO date (through that day, UTC) or date-time, in the "
        "future; null or `never`: no end. Left out: a changed grant keeps its expiry.")
    reason: str = Field(default="", max_length=1000)


class AnalystCreate(_Body):
    name: str = Field(pattern=_NAME)
    role: Role
    budget: GrantRequest | None = None
    reason: str = Field(default="", max_length=1000)


class AnalystKey(BaseModel):
    name: str
    role: str
    api_key: str = Field(description="Shown once; only its SHA-256 is stored.")


class AnalystUpdate(_Body):
    disabled: bool
    reason: str = Field(default="", max_length=1000)


class KeyRotation(_Body):
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


class DatasetGrant(_Body):
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


class SuggestRequest(_Body):
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


class WhoAmI(BaseModel):
    """Whose key this is: what a front end needs to show the right pages."""

    name: str
    role: Role


class SpendPoint(BaseModel):
    seq: int = Field(description="The ledger entry of this charge.")
    timestamp: str
    query_id: str | None
    analyst: str | None = Field(description="Who was charged (None: an owner's charge, "
                                            "e.g. the bounds assistant).")
    charged: Spend = Field(description="What this one charge asked for.")
    spent: Spend | None = Field(description=(
        "Everything spent up to and including this charge, composed as the ledger composes "
        "it and stated as /v1/budget states it (zCDP: ε at the grant's δ); None when there "
        "is no grant to state it against."))
    share_used: float | None = Field(description=(
        "The part of the grant as it stands now that the charges so far take, 0 to 1 "
        "(rounded up to 1e-6). It never goes down: privacy budget does not refill."))


class SpendHistory(BaseModel):
    analyst: str | None = Field(description="None: the dataset-wide budget.")
    accounting: Literal["pure", "zcdp"]
    granted: Spend | None = Field(description="The grant the shares are stated against "
                                              "(the current one).")
    points: list[SpendPoint]


class SpendOverview(BaseModel):
    accounting: Literal["pure", "zcdp"]
    analysts: list[SpendHistory]
    dataset: SpendHistory
