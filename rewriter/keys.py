"""Canonical forms of group-key values, to match engine rows with declared keys.

Engines return their own Python types (a PostgreSQL date, a DuckDB string, a
Decimal); declared keys come from YAML. Both are mapped to one canonical form
per column type before matching.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from .metadata import KeyValue


def canonical_key(value: Any, column_type: str) -> KeyValue | None:
    if value is None:
        return None
    if column_type == "text":
        return str(value)
    if column_type == "integer":
        return int(value)
    if column_type == "float":
        return float(value)
    if column_type == "boolean":
        return bool(value)
    if column_type == "date":
        if isinstance(value, dt.datetime):
            return value.date().isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        return dt.date.fromisoformat(str(value)).isoformat()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return dt.datetime.fromisoformat(str(value)).isoformat()


def json_key(value: KeyValue) -> str | int | float | bool:
    """A declared key as it appears in a JSON answer."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value
