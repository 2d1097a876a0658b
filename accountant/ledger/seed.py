"""Seeding the ledger from the configuration without undoing what owners changed since.

``dpsql.yaml`` declares analysts, grants and the dataset budget; owners also
change them at run time (CLI, owner API), and those changes are ledger
entries. Re-applying the file at every start would quietly revert them —
lower a raised grant, or bring back a rotated (perhaps leaked) key. So a
declaration is applied only when it differs from what the file itself last
recorded: an edit to the file takes effect at the next start, an unchanged
file leaves run-time changes alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from accountant.budget import Budget
from accountant.ledger.base import Ledger
from accountant.ledger.records import Entry, iso

CONFIG_ACTOR = "dpsql.yaml"


@dataclass(frozen=True)
class Declared:
    """One analyst as the configuration declares it."""

    name: str
    role: str
    key_sha256: str
    budget: Budget | None = None
    expires: datetime | None = None


def seed_ledger(
    ledger: Ledger,
    analysts: Iterable[Declared],
    dataset: Budget | None,
    *,
    actor: str = CONFIG_ACTOR,
    reason: str = "config seed",
) -> None:
    """Record what the configuration declares, where it changed since ``actor`` last did."""
    for analyst in analysts:
        last = ledger.latest_entry("analyst", analyst=analyst.name, actor=actor)
        if last is None or (last.detail["role"], last.detail["key_sha256"]) != (
            analyst.role,
            analyst.key_sha256,
        ):
            ledger.register_analyst(
                analyst.name, analyst.role, analyst.key_sha256, actor=actor, reason=reason
            )
        if analyst.budget is not None:
            last = ledger.latest_entry("grant", analyst=analyst.name, actor=actor)
            if last is None or _budget_of(last) != analyst.budget or last.expires != (
                None if analyst.expires is None else iso(analyst.expires)
            ):
                ledger.set_grant(
                    analyst.name, analyst.budget, analyst.expires, actor=actor, reason=reason
                )
    last = ledger.latest_entry("dataset_budget", actor=actor)
    if (None if last is None else _budget_of(last)) != dataset:
        ledger.set_dataset_budget(dataset, actor=actor, reason=reason)


def _budget_of(entry: Entry) -> Budget | None:
    if entry.epsilon is None or entry.delta is None:
        return None
    return Budget(entry.epsilon, entry.delta)
