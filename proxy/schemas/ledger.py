"""Compliance bodies: the ledger's entries and attempts, verification, receipts and
spend over time."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .base import Spend


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
