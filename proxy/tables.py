"""Table metadata as the ledger holds it: seeded from dpsql.yaml, changed by
owners through the API, read by every proxy sharing the ledger.

A change that loosens privacy (wider bounds, more rows or groups per person, a
column newly groupable or with new public keys, a table made public, a new
column) is named in the ledger entry, so reviewers see it without diffing JSON;
so is what it tightens and what a replacement removed. Every change is checked
against the engine's catalog before it is recorded (`schema_check`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from accountant import Ledger
from rewriter import Catalog, PublicKeysRef, Table

from .catalog import build_catalog
from .config import NamesConfig
from .engines.base import Engine
from .errors import InvalidParameter, NotFound
from .multiplicity import check_multiplicities, multiplicity_problems
from .schema_check import check_against_engine, complete_public, read_schema

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


def schema_problems(ledger: Ledger, engine: Engine) -> list[str]:
    """What the engine's catalog contradicts in the tables the ledger holds: tables
    and columns that do not exist, declared types the stored ones cannot hold.
    Checked at start-up, before the catalog is built from them."""
    _, documents = ledger.tables()
    return check_against_engine(
        {name: parse_table(name, doc) for name, doc in documents.items()}, engine)


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
    # A table the file no longer declares is withdrawn, unless an owner changed it
    # through the API since (then the owner's word stands): otherwise a table removed
    # from the file, and from the database, would stop every start (`schema_check`).
    for name, document in said.items():
        if name not in tables and current.get(name) == document:
            ledger.set_table(name, None, actor=CONFIG_ACTOR, reason="removed from dpsql.yaml",
                             note={"loosens": [], "tightens": ["table removed"],
                                   "removed": ["table"]})


class TableStore:
    """The catalog a proxy answers from, kept in step with the ledger."""

    def verify(self) -> list[str]:
        """What the data contradicts in the public tables' declared join-column
        multiplicities (checked at start-up; `replace` checks each change)."""
        return check_multiplicities(self.refresh(force=True).tables, self._engine)

    def __init__(self, ledger: Ledger, engine: Engine, names: NamesConfig | None = None) -> None:
        self._ledger = ledger
        self._engine = engine
        self._names = names or NamesConfig()
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
                if any(t.public and not t.columns for t in tables.values()):
                    tables = complete_public(tables, read_schema(self._engine), self._engine)
                self.catalog = build_catalog(tables, self._engine, self._names)
                self._version = version
        return self.catalog

    def declared(self, name: str) -> dict[str, Any] | None:
        """A table's metadata as the owner wrote it (public columns not filled in)."""
        return self._ledger.tables()[1].get(name)

    def replace(self, name: str, document: Any, *, actor: str, reason: str) -> TableChange:
        """Validate and record an owner's new metadata for one table (PUT)."""
        table = parse_table(name, document)
        self._check(name, table)
        old_document = self.declared(name)
        old = None if old_document is None else parse_table(name, old_document)
        change = TableChange(name, as_document(table), removed(old, table),
                             loosened(old, table), tightened(old, table))
        self._ledger.set_table(name, change.metadata, actor=actor, reason=reason,
                               note=change.note())
        self.refresh(force=True)
        return change

    def patch(self, name: str, patch: Any, *, actor: str, reason: str) -> TableChange:
        """Change single settings or columns (PATCH, JSON merge patch: RFC 7396)."""
        current = self.declared(name)
        if current is None:
            raise NotFound(f"no table named {name!r}; PUT /v1/admin/tables/{name} declares it")
        if not isinstance(patch, dict):
            raise InvalidParameter("a PATCH body is an object of the settings to change, e.g. "
                                   '{"columns": {"salary": {"upper": 300000}}}; null removes')
        return self.replace(name, merge_patch(current, patch), actor=actor, reason=reason)

    def delete(self, name: str, *, actor: str, reason: str) -> TableChange:
        """Withdraw a table (DELETE): analysts can no longer query it."""
        current = self.declared(name)
        if current is None:
            raise NotFound(f"no table named {name!r}; GET /v1/tables lists them")
        users = [f"{t}.{c}" for t, table in self.refresh(force=True).tables.items()
                 for c, col in table.columns.items()
                 if isinstance(col.public_keys, PublicKeysRef) and col.public_keys.table == name
                 and t != name]
        if users:
            raise InvalidParameter(
                f"table {name}: {', '.join(users)} read their public keys from it; change "
                "their `public_keys` first")
        change = TableChange(name, None, ["table"], [], ["table removed"])
        self._ledger.set_table(name, None, actor=actor, reason=reason, note=change.note())
        self.refresh(force=True)
        return change

    def _check(self, name: str, table: Table) -> None:
        """Everything an owner's change must pass before it is recorded: the engine's
        catalog, public-key references, the declared join-column multiplicities."""
        mismatched = check_against_engine({name: table}, self._engine)
        if mismatched:
            raise InvalidParameter("the metadata does not match the database: "
                                   + "; ".join(mismatched))
        if table.public and not table.columns:
            table = complete_public({name: table}, read_schema(self._engine), self._engine)[name]
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
                if ref.column not in target.columns:
                    raise InvalidParameter(
                        f"table {name}: columns.{col_name}.public_keys names column "
                        f"{ref.column!r}, which {ref.table} does not have")
        # a public table other tables read keys from must keep those columns
        for other, other_table in tables.items():
            for col_name, col in other_table.columns.items():
                ref = col.public_keys
                if (other != name and isinstance(ref, PublicKeysRef) and ref.table == name
                        and (not table.public or ref.column not in table.columns)):
                    raise InvalidParameter(
                        f"table {name}: {other}.{col_name} reads its public keys from "
                        f"{name}.{ref.column}; keep that column public, or change "
                        f"{other}'s metadata first")
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


@dataclass(frozen=True)
class TableChange:
    """What one owner change did, as the API reports it and the ledger notes it."""

    table: str
    metadata: dict[str, Any] | None  # None: the table was removed
    removed: list[str]
    loosens: list[str]
    tightens: list[str]

    def note(self) -> dict[str, Any]:
        return {"loosens": self.loosens, "tightens": self.tightens, "removed": self.removed}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def removed(old: Table | None, new: Table) -> list[str]:
    """What a replacement drops: columns, and settings reset to their defaults."""
    if old is None:
        return []
    gone = [f"column {c}" for c in old.columns if c not in new.columns]
    old_doc, new_doc = as_document(old), as_document(new)
    gone += [f"setting {k}" for k in old_doc if k != "columns" and k not in new_doc]
    for col, before in old_doc.get("columns", {}).items():
        after = new_doc.get("columns", {}).get(col)
        if after is not None:
            gone += [f"{col}.{k}" for k in before if k not in after]
    return gone


def tightened(old: Table | None, new: Table) -> list[str]:
    """What `new` no longer reveals or allows that `old` did."""
    if old is None:
        return []
    changes: list[str] = []
    if old.public and not new.public:
        changes.append("made private")
    if new.max_rows_per_unit < old.max_rows_per_unit:
        changes.append(f"max_rows_per_unit {old.max_rows_per_unit} -> {new.max_rows_per_unit}")
    if new.max_groups_per_unit < old.max_groups_per_unit:
        changes.append(
            f"max_groups_per_unit {old.max_groups_per_unit} -> {new.max_groups_per_unit}")
    for name, before in old.columns.items():
        col = new.columns.get(name)
        if col is None:
            changes.append(f"column {name} removed")
            continue
        if before.lower is not None and (col.lower is None or col.lower > before.lower):
            changes.append(f"{name}.lower {before.lower} -> {col.lower}")
        if before.upper is not None and (col.upper is None or col.upper < before.upper):
            changes.append(f"{name}.upper {before.upper} -> {col.upper}")
        if before.groupable and not col.groupable:
            changes.append(f"{name} made not groupable")
        if before.public_keys is not None and col.public_keys is None:
            changes.append(f"{name}.public_keys removed")
    return changes
