"""The hash chain: how an entry's content is hashed and how the chain is checked.

Each entry's hash is SHA-256 over a canonical JSON object of its content,
including its own ``seq`` and the previous entry's hash. Editing any field,
deleting or inserting a row, or swapping two rows changes a hash or breaks a
link, and :func:`verify_chain` names the first seq where that happens. The
ledger also keeps the head (last seq and hash) in a separate row written in
the same transaction, so truncating the tail is caught too; an attacker who
rewrites the whole chain and the head is caught only by comparing the head
with one exported earlier, which is what ``GET /v1/ledger/verify`` is for.

``delta_add`` (the additive δ of a zCDP charge with partition selection)
came later than the other fields: it is hashed when it is set and left out
when it is NULL, so entries written before it existed keep their hashes, and
setting or clearing it afterwards changes the hash like any other edit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

from accountant.budget import format_fraction, to_fraction
from accountant.ledger.records import Entry, VerifyReport

GENESIS = "0" * 64

HASHED_FIELDS = (
    "seq",
    "timestamp",
    "kind",
    "analyst",
    "actor",
    "reason",
    "query_id",
    "sql",
    "epsilon",
    "delta",
    "rho",
    "expires",
    "detail",
    "prev_hash",
)
# Hashed only when not NULL (see the module docstring).
OPTIONAL_HASHED_FIELDS = ("delta_add",)


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, exact numbers as text."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_exact,
    )


def entry_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 of the stored text of an entry's hashed fields.

    ``row`` holds the columns exactly as stored (amounts as exact strings,
    ``detail`` as its canonical JSON text), so verification hashes the bytes on
    disk, not a re-serialisation of parsed values.
    """
    content = {name: row[name] for name in HASHED_FIELDS}
    for name in OPTIONAL_HASHED_FIELDS:
        if row.get(name) is not None:
            content[name] = row[name]
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def verify_chain(rows: Iterable[Mapping[str, Any]], head_seq: int, head_hash: str) -> VerifyReport:
    """Walk stored rows in seq order and report the first one that does not fit."""
    expected_seq, prev, count = 1, GENESIS, 0
    for row in rows:
        count += 1
        seq = row["seq"]
        if seq != expected_seq:
            # Rows arrive sorted by seq (a primary key), so a mismatch is a gap.
            return VerifyReport(
                False,
                count,
                prev,
                expected_seq,
                f"entry {expected_seq} is missing (found {seq} next)",
            )
        if row["prev_hash"] != prev:
            return VerifyReport(
                False, count, prev, seq, f"entry {seq} does not link to entry {seq - 1}"
            )
        if entry_hash(row) != row["hash"]:
            return VerifyReport(
                False,
                count,
                prev,
                seq,
                f"entry {seq} was altered: its content does not match its hash",
            )
        prev, expected_seq = row["hash"], seq + 1
    last = expected_seq - 1
    if (head_seq, head_hash) != (last, prev):
        return VerifyReport(
            False,
            count,
            prev,
            last + 1,
            f"the recorded head is entry {head_seq} but the chain ends at "
            f"entry {last}: entries were removed from the end",
        )
    return VerifyReport(True, count, prev, None, None)


def entry_from_row(row: Mapping[str, Any]) -> Entry:
    """Parse a stored row back into exact values."""

    def amount(name: str) -> Fraction | None:
        text = row[name]
        return None if text is None else to_fraction(text)

    return Entry(
        seq=row["seq"],
        timestamp=row["timestamp"],
        kind=row["kind"],
        analyst=row["analyst"],
        actor=row["actor"],
        reason=row["reason"],
        query_id=row["query_id"],
        sql=row["sql"],
        epsilon=amount("epsilon"),
        delta=amount("delta"),
        rho=amount("rho"),
        expires=row["expires"],
        detail=json.loads(row["detail"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
        delta_add=amount("delta_add") if "delta_add" in row else None,
    )


def _exact(value: Any) -> Any:
    if isinstance(value, Fraction):
        return format_fraction(value)
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot record {type(value).__name__} {value!r} in the ledger")
