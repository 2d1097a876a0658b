"""What the verified chain says the derived tables must hold.

The ledger keeps running totals, the analyst registry and the latest grants
next to the chain so that a charge reads a few rows instead of replaying
history. Those tables are not hashed, so an edit there (``UPDATE totals SET
rho = '0'``) would hand an analyst their budget back. :class:`ChainState` is
built only from entries whose hashes were checked, and the ledger compares
the derived tables with it at start-up and before every charge.

Totals are summed per distinct (analyst, amounts) first and multiplied out at
the end: charges repeat the same few ε, and exact fraction arithmetic per
entry would be most of a million-entry start-up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from accountant.budget import format_fraction, to_fraction
from accountant.composition import Accounting, Cost
from accountant.errors import InvalidParameter, LedgerTampered
from accountant.ledger.chain import GENESIS, canonical_json
from accountant.ledger.records import Spent

DATASET = ("dataset", "")
Scope = tuple[str, str]
Registry = dict[str, tuple[str, str, bool]]
Grant = tuple[str | None, str | None, str | None]  # epsilon, delta, expires as stored


class ChainState:
    """Head, totals, registry and latest grants of a chain, fed one checked row at a time."""

    def __init__(self, accounting: Accounting) -> None:
        self.accounting = accounting
        self.seq = 0
        self.head = GENESIS
        self.registry: Registry = {}
        self.grants: dict[str, Grant] = {}
        self.dataset: tuple[str | None, str | None] | None = None
        self._totals: dict[Scope, Spent] = {}
        # (analyst, epsilon, delta, rho, delta_add) as stored -> [count, first seq]
        self._pending: dict[tuple[Any, ...], list[int]] = {}

    def apply(self, row: Mapping[str, Any]) -> None:
        """Take in one row whose link and hash were checked."""
        kind = row["kind"]
        if kind in ("charge", "owner_charge"):
            # an owner's charge counts against the dataset only: no analyst scope (None)
            key = (row["analyst"] if kind == "charge" else None, row["epsilon"],
                   row["delta"], row["rho"], row.get("delta_add"))
            seen = self._pending.get(key)
            if seen is None:
                self._pending[key] = [1, row["seq"]]
            else:
                seen[0] += 1
        elif kind == "grant":
            self.grants[row["analyst"]] = (row["epsilon"], row["delta"], row["expires"])
        elif kind == "dataset_budget":
            self.dataset = (row["epsilon"], row["delta"])
        elif kind == "analyst":
            detail = json.loads(row["detail"])
            self.registry[row["analyst"]] = (detail["role"], detail["key_sha256"],
                                             bool(detail["disabled"]))
        self.seq, self.head = row["seq"], row["hash"]

    def totals(self) -> dict[Scope, Spent]:
        """The running totals the chain implies; LedgerTampered names a charge that
        the accounting could never have taken."""
        for key, (count, first_seq) in self._pending.items():
            analyst, eps, dlt, rho, dadd = key
            try:
                cost = Cost(to_fraction(eps), to_fraction(dlt), to_fraction(rho),
                            self.accounting,
                            Fraction(0) if dadd is None else to_fraction(dadd))
            except (InvalidParameter, TypeError) as exc:
                raise LedgerTampered(
                    f"entry {first_seq} is not a valid {self.accounting.value} charge: "
                    f"{getattr(exc, 'message', exc)}") from None
            times = Cost(cost.epsilon * count, cost.delta * count, cost.rho * count,
                         cost.accounting, cost.delta_add * count) if count > 1 else cost
            scopes = (DATASET,) if analyst is None else (("analyst", analyst), DATASET)
            for scope in scopes:
                self._totals[scope] = self._totals.get(scope, Spent()).plus(times)
        self._pending.clear()
        return self._totals

    def total(self, scope: Scope) -> Spent:
        return self.totals().get(scope, Spent())

    def to_json(self) -> str:
        """Everything a later start-up needs to resume from here, in one canonical text
        (its SHA-256 is signed in the checkpoint taken at this seq)."""
        totals = sorted([*scope, format_fraction(t.epsilon), format_fraction(t.delta),
                         format_fraction(t.rho), format_fraction(t.delta_add)]
                        for scope, t in self.totals().items())
        return canonical_json({
            "seq": self.seq, "head": self.head, "totals": totals,
            "registry": {n: list(v) for n, v in self.registry.items()},
            "grants": {n: list(v) for n, v in self.grants.items()},
            "dataset": None if self.dataset is None else list(self.dataset),
        })

    @classmethod
    def from_json(cls, text: str, accounting: Accounting) -> ChainState:
        data = json.loads(text)
        state = cls(accounting)
        state.seq, state.head = data["seq"], data["head"]
        state._totals = {(scope, name): Spent(to_fraction(e), to_fraction(d), to_fraction(r),
                                              to_fraction(a))
                         for scope, name, e, d, r, a in data["totals"]}
        state.registry = {n: (v[0], v[1], bool(v[2])) for n, v in data["registry"].items()}
        state.grants = {n: (v[0], v[1], v[2]) for n, v in data["grants"].items()}
        state.dataset = None if data["dataset"] is None else tuple(data["dataset"])  # type: ignore[assignment]
        return state


def state_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def spent_of(row: Mapping[str, Any]) -> Spent:
    """A running-totals row as exact values."""
    return Spent(to_fraction(row["epsilon"]), to_fraction(row["delta"]), to_fraction(row["rho"]),
                 to_fraction(row["delta_add"]))


def totals_problem(state: ChainState, stored: Mapping[Scope, Spent]) -> str | None:
    expected = state.totals()
    if dict(stored) == expected:
        return None
    wrong = sorted(set(stored) ^ set(expected)
                   | {k for k in stored if expected.get(k) != stored[k]})
    return f"running totals differ from the charges in the chain for {wrong}"


def registry_problem(state: ChainState, found: Registry) -> str | None:
    if found == state.registry:
        return None
    wrong = sorted(set(found) ^ set(state.registry)
                   | {n for n in found if state.registry.get(n) != found[n]})
    return f"the analyst registry differs from the analyst entries for {wrong}"
