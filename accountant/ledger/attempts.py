"""The attempts log: every analyst request's outcome, hash-chained like the ledger.

The ledger records what was charged; refused, blocked and failed requests
charge nothing and would otherwise leave no trace. Each attempt names the
analyst, the time, the endpoint, the outcome (with the error code when it was
refused), the query id when one was charged, and the analyst's own SQL (the
normalized text when it could be parsed) — never an answer or a stored value.

Rows are chained (each hashes the previous one's hash) in their own table and
head row in the ledger database, and signed checkpoints cover their head too,
so deleting or editing an attempt is caught like an edit of the ledger.
Attempts are committed without waiting for the disk: a power cut may lose the
last few (never a charge, which is forced to disk before any answer), and the
next durable commit — a charge or a checkpoint — flushes every attempt before
it, so a checkpoint never covers an attempt that a power cut could take back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from accountant.ledger.chain import flat_canonical_json

Outcome = Literal["answered", "cached", "explained", "refused", "blocked", "timeout", "failed"]
OUTCOMES: tuple[Outcome, ...] = (
    "answered", "cached", "explained", "refused", "blocked", "timeout", "failed",
)

ATTEMPT_FIELDS = ("seq", "timestamp", "analyst", "endpoint", "outcome", "code", "query_id",
                  "sql", "epsilon", "delta", "prev_hash")


@dataclass(frozen=True)
class Attempt:
    """One analyst request and what became of it. ``epsilon``/``delta`` are what was
    charged (exact text), None when nothing was."""

    seq: int
    timestamp: str
    analyst: str
    endpoint: str
    outcome: Outcome
    code: str | None
    query_id: str | None
    sql: str
    epsilon: str | None
    delta: str | None
    prev_hash: str
    hash: str


def attempt_hash(row: Mapping[str, Any]) -> str:
    content = {name: row[name] for name in ATTEMPT_FIELDS}
    return hashlib.sha256(flat_canonical_json(content).encode("utf-8")).hexdigest()


def attempt_from_row(row: Mapping[str, Any]) -> Attempt:
    return Attempt(**{name: row[name] for name in (*ATTEMPT_FIELDS, "hash")})
