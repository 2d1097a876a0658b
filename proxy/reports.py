"""The ledger's reports, one way for every front end: the CLI (`dpsql ledger export`,
`dpsql ledger attempts`) and the compliance routes read the same records, parse the
same dates and refuse a misspelt analyst with the same words."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from accountant.budget import format_fraction
from accountant.ledger.attempts import Attempt
from accountant.ledger.base import Ledger
from accountant.ledger.records import Entry, VerifyReport

__all__ = ["ATTEMPT_FIELDS", "ENTRY_FIELDS", "VERIFY_FIELDS", "attempt_record", "entry_record",
           "parse_moment", "to_csv", "unknown_analyst", "verify_command", "verify_record"]

ENTRY_FIELDS = ("seq", "timestamp", "kind", "analyst", "actor", "reason", "query_id", "sql",
                "epsilon", "delta", "rho", "delta_add", "expires", "detail", "prev_hash",
                "hash")
ATTEMPT_FIELDS = ("seq", "timestamp", "analyst", "endpoint", "outcome", "code", "query_id",
                  "sql", "epsilon", "delta", "prev_hash", "hash")
VERIFY_FIELDS = ("ok", "entries", "checked", "head", "first_bad", "reason", "attempts",
                 "attempts_head", "checkpoints")
_EXACT = ("epsilon", "delta", "rho", "delta_add")


def parse_moment(text: str) -> dt.datetime:
    """A --since/--until or since/until: an ISO date (midnight UTC) or date-time (naive
    means UTC); ValueError with the words a person needs."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date or date-time such as 2026-06-01 or "
                         "2026-06-01T12:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def entry_record(entry: Entry) -> dict[str, Any]:
    """An entry as plain data; ε, δ, ρ exact, as stored and hashed."""
    record = {name: getattr(entry, name) for name in ENTRY_FIELDS}
    for name in _EXACT:
        if record[name] is not None:
            record[name] = format_fraction(record[name])
    return record


def attempt_record(attempt: Attempt) -> dict[str, Any]:
    found = dataclasses.asdict(attempt)
    return {name: found[name] for name in ATTEMPT_FIELDS}


def verify_record(report: VerifyReport) -> dict[str, Any]:
    """What a verification found (`dpsql ledger verify`, GET /v1/ledger/verify)."""
    return {name: getattr(report, name) for name in VERIFY_FIELDS}


def verify_command(entries: int, head: str) -> str:
    """The command that checks the ledger against a receipt of `entries` and `head`."""
    return f"dpsql ledger verify --expect-entries {entries} --expect-head {head}"


def to_csv(records: Iterable[dict[str, Any]], fields: Sequence[str]) -> str:
    """One header line, then a line per record; `detail` (a mapping) as sorted JSON."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for record in records:
        if isinstance(record.get("detail"), dict):
            record = {**record, "detail": json.dumps(record["detail"], sort_keys=True)}
        writer.writerow(record)
    return out.getvalue()


def unknown_analyst(ledger: Ledger, analyst: str | None) -> str | None:
    """Why a filter on `analyst` would read as "nothing happened" when it names nobody;
    None when the name is known (registered, or granted a budget once)."""
    if analyst is None:
        return None
    names = sorted(r.name for r in ledger.analysts())
    if analyst in names or ledger.latest_entry("grant", analyst=analyst) is not None:
        return None
    shown = ", ".join(names[:20]) + (" …" if len(names) > 20 else "")
    return f"there is no analyst {analyst!r} in the ledger; known: {shown or '(none yet)'}"
