"""Table metadata as the ledger holds it: seeded from dpsql.yaml, changed by
owners through the API, read by every proxy sharing the ledger.

A change that loosens privacy (wider bounds, more rows or groups per person, a
column newly groupable or with new public keys, a table made public, a new
column) is named in the ledger entry, so reviewers see it without diffing JSON.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from accountant import Ledger
from rewriter import Catalog, PublicKeysRef, Table

from .catalog import build_catalog
from .engines.base import Engine
from .errors import InvalidParameter
from .multiplicity import check_multiplicities, multiplicity_problems

CONFIG_ACTOR = "dpsql.yaml"
REFRESH_SECONDS = 1.0  # how stale a proxy's view of another proxy's change may be


def as_document(table: Table) -> dict[str, Any]:
    return table.model_dump(mode="json", exclude_defaults=True)


def parse_table(name: str, document: Any) -> Table:
    try:
        return Table.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or name}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise InvalidParameter(f"table {name}: {problems}") from None


def loosened(old: Table | None, new: Table) -> list[str]:
    """What `new` reveals or allows that `old` did not."""
    if old is None:
        return ["new table"]
    changes: list[str] = []
    if new.public and not old.public:
        changes.append("made public")
    if new.max_rows_per_unit > old.max_rows_per_unit:
        changes.append(f"max_rows_per_unit {old.max_rows_per_unit} -> {new.max_rows_per_unit}")
    if new.max_groups_per_unit > old.max_groups_per_unit:
        changes.append(
            f"max_groups_per_unit {old.max_groups_per_unit} -> {new.max_groups_per_unit}")
    if new.privacy_unit != old.privacy_unit:
        changes.append(f"privacy_unit {old.privacy_unit} -> {new.privacy_unit}")
    for name, col in new.columns.items():
        before = old.columns.get(name)
        if before is None:
            changes.append(f"new column {name}")
            continue
        if col.lower is not None and (before.lower is None or col.lower < before.lower):
            changes.append(f"{name}.lower {before.lower} -> {col.lower}")
        if col.upper is not None and (before.upper is None or col.upper > before.upper):
            changes.append(f"{name}.upper {before.upper} -> {col.upper}")
        if col.groupable and not before.groupable:
            changes.append(f"{name} made groupable")
        if col.public_keys is not None and col.public_keys != before.public_keys:
            changes.append(f"{name}.public_keys changed")
    return changes


def seed_tables(tables: Mapping[str, Table], ledger: Ledger) -> None:
    """Record the config's tables where the config changed since it last did,
    so a restart never undoes an owner's change made through the API."""
    _, said = ledger.tables(actor=CONFIG_ACTOR)
    _, current = ledger.tables()
    for name, table in tables.items():
        document = as_document(table)
        if said.get(name) != document:
            old = current.get(name)
            ledger.set_table(
                name, document, actor=CONFIG_ACTOR, reason="config seed",
                note={"loosens": loosened(None if old is None else parse_table(name, old),
                                          table)},
            )


class TableStore:
    """The catalog a proxy answers from, kept in step with the ledger."""

    def verify(self) -> list[str]:
        """What the data contradicts in the public tables' declared join-column
        multiplicities (checked at start-up; `replace` checks each change)."""
        return check_multiplicities(self.refresh(force=True).tables, self._engine)

    def __init__(self, ledger: Ledger, engine: Engine) -> None:
        self._ledger = ledger
        self._engine = engine
        self._lock = threading.Lock()
        self._version = -1
        self._checked = 0.0
        self.catalog = Catalog({})
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> Catalog:
        """Rebuild the catalog when the ledger's tables moved (checked at most
        once per REFRESH_SECONDS unless forced)."""
        now = time.monotonic()
        if not force and now - self._checked < REFRESH_SECONDS:
            return self.catalog
        with self._lock:
            self._checked = now
            version, documents = self._ledger.tables()
            if version != self._version:
                tables = {name: parse_table(name, doc) for name, doc in documents.items()}
                self.catalog = build_catalog(tables, self._engine)
                self._version = version
        return self.catalog

    def replace(self, name: str, document: Any, *, actor: str, reason: str) -> Table:
        """Validate and record an owner's new metadata for one table."""
        table = parse_table(name, document)
        catalog = self.refresh(force=True)
        tables = dict(catalog.tables)
        tables[name] = table
        for col_name, col in table.columns.items():
            ref = col.public_keys
            if isinstance(ref, PublicKeysRef):
                target = tables.get(ref.table)
                if target is None or not target.public:
                    raise InvalidParameter(
                        f"table {name}: columns.{col_name}.public_keys names {ref.table!r}, "
                        "which is not a public table"
                    )
        try:
            build_catalog({name: table, **{k: v for k, v in tables.items() if v.public}},
                          self._engine)
        except Exception:  # noqa: BLE001 - any engine failure means the metadata is wrong
            raise InvalidParameter(
                f"table {name}: its public keys could not be read from the engine; check that "
                "the tables and columns they name exist"
            ) from None
        problems = multiplicity_problems(name, table, self._engine)
        if problems:
            raise InvalidParameter("; ".join(problems))
        old = catalog.tables.get(name)
        self._ledger.set_table(name, as_document(table), actor=actor, reason=reason,
                               note={"loosens": loosened(old, table)})
        self.refresh(force=True)
        return table
