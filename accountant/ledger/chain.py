"""The hash chain: how an entry's content is hashed and how the chain is checked.

Each entry's hash is SHA-256 over a canonical JSON object of its content,
including its own ``seq`` and the previous entry's hash. Editing any field,
deleting or inserting a row, or swapping two rows changes a hash or breaks a
link, and :func:`walk_chain` names the first seq where that happens. The
ledger also keeps the head (last seq and hash) in a separate row written in
the same transaction, so deleting only the tail rows is caught too; an attacker
who also rewrites the head row is caught by the signed checkpoints kept outside
the database (:mod:`.checkpoints`), or by comparing the head with a receipt
exported earlier (``GET /v1/ledger/receipt``).

``delta_add`` (the additive δ of a zCDP charge with partition selection)
came later than the other fields: it is hashed when it is set and left out
when it is NULL, so entries written before it existed keep their hashes, and
setting or clearing it afterwards changes the hash like any other edit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from accountant.budget import format_fraction, to_fraction
from accountant.ledger.records import Entry

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
    return hashlib.sha256(flat_canonical_json(content).encode("utf-8")).hexdigest()


def flat_canonical_json(content: dict[str, Any]) -> str:
    """:func:`canonical_json` of a flat object of text, integers and nulls, spelled out
    by hand because start-up rehashes every entry (a third of the time of json.dumps
    here); any other value falls back to json.dumps. Both spell every value alike,
    which tests/accountant/test_accountant_chain_encoding.py checks."""
    parts = []
    for name in sorted(content):
        value = content[name]
        if value is None:
            text = "null"
        elif type(value) is str:
            text = _encode_text(value)
        elif type(value) is int:
            text = str(value)
        else:
            return canonical_json(content)
        parts.append(_encode_text(name) + ":" + text)
    return "{" + ",".join(parts) + "}"


_encode_text = json.encoder.encode_basestring  # what json.dumps uses with ensure_ascii=False


def walk_chain(rows: Iterable[Mapping[str, Any]], *, start_seq: int = 1, prev: str = GENESIS,
               hasher: Callable[[Mapping[str, Any]], str] = entry_hash,
               noun: str = "entry",
               on_row: Callable[[Mapping[str, Any]], None] | None = None) -> ChainWalk:
    """Walk stored rows in seq order from ``start_seq`` (linking to ``prev``) and stop
    at the first that does not fit."""
    expected_seq, checked = start_seq, 0
    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            # Rows arrive sorted by seq (a primary key), so a mismatch is a gap.
            return ChainWalk(checked, prev, expected_seq,
                             f"{noun} {expected_seq} is missing (found {seq} next)",
                             expected_seq - 1)
        if row["prev_hash"] != prev:
            return ChainWalk(checked, prev, seq,
                             f"{noun} {seq} does not link to {noun} {seq - 1}", seq - 1)
        if hasher(row) != row["hash"]:
            return ChainWalk(checked, prev, seq,
                             f"{noun} {seq} was altered: its content does not match its hash",
                             seq - 1)
        if on_row is not None:
            on_row(row)
        prev, expected_seq, checked = row["hash"], seq + 1, checked + 1
    return ChainWalk(checked, prev, None, None, expected_seq - 1)


@dataclass(frozen=True)
class ChainWalk:
    """How far a walk got: ``checked`` rows fit, the last of them ``last_seq``
    (the start's predecessor when none did), ``head`` its hash."""

    checked: int
    head: str
    first_bad: int | None
    reason: str | None
    last_seq: int


def head_problem(walk: ChainWalk, head_seq: int, head_hash: str, last_seq: int,
                 noun: str = "entry") -> str | None:
    """The recorded head row must name the chain's last row."""
    if (head_seq, head_hash) != (last_seq, walk.head):
        return (f"the recorded head is {noun} {head_seq} but the chain ends at {noun} "
                f"{last_seq}: rows were removed from the end, or the head row was edited")
    return None


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
