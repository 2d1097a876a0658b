"""The catalog the rewriter works against: tables plus resolved public keys.

Public keys may be declared as a list or as a reference to a public table's
column; the proxy resolves references against the engine once and hands the
rewriter plain values, so the rewriter never does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .metadata import KeyValue, PublicKeysRef, Table

# the schemas every deployment answers to: DuckDB's and PostgreSQL's defaults
DEFAULT_SCHEMAS = frozenset({"main", "public"})
DEFAULT_CATALOGS = frozenset({"dpsql"})  # the catalog the Trino endpoint shows


@dataclass(frozen=True)
class Catalog:
    tables: Mapping[str, Table]
    # (table, column) -> keys, for columns whose public_keys name a public table
    resolved_keys: Mapping[tuple[str, str], tuple[KeyValue, ...]] = field(default_factory=dict)
    # the schema and catalog qualifiers a table name may carry (rewriter/names.py)
    schemas: frozenset[str] = DEFAULT_SCHEMAS
    catalogs: frozenset[str] = DEFAULT_CATALOGS

    def table(self, name: str) -> tuple[str, Table] | None:
        """Find a table by name, ignoring case like unquoted SQL identifiers."""
        if name in self.tables:
            return name, self.tables[name]
        lowered = name.lower()
        for key, table in self.tables.items():
            if key.lower() == lowered:
                return key, table
        return None

    def public_keys(self, table: str, column: str) -> tuple[KeyValue, ...] | None:
        declared = self.tables[table].columns[column].public_keys
        if declared is None:
            return None
        if isinstance(declared, PublicKeysRef):
            return self.resolved_keys.get((table, column))
        return declared
