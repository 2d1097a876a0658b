"""What every body shares: the strict request base, (ε, δ) pairs, a budget as people
read it, and the one error shape (SPEC §3)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Spend(BaseModel):
    epsilon: float
    delta: float


SHARE_DESCRIPTION = (
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
    share_used: float | None = Field(default=None, description=SHARE_DESCRIPTION)
    summary: str = Field(default="", description="The same in one plain sentence.")


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
