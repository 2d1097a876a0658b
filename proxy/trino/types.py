"""Trino type signatures, and how values are written in a `QueryResults` page.

Clients parse `typeSignature` (rawType plus arguments), not the display string,
so every column carries both (notes/trino-protocol.md §2.5). dpsql's own column
types map onto a handful of Trino types; the metadata tables DuckDB answers are
typed from DuckDB's names.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

VARCHAR_UNBOUNDED = 2147483647

# dpsql column type -> Trino type. Timestamps carry millisecond precision, which
# every client reads, with or without the PARAMETRIC_DATETIME capability (§2.5).
_FROM_DPSQL = {
    "integer": "bigint",
    "float": "double",
    "text": "varchar",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp(3)",
}

# DuckDB result type (as `str(description type)`) -> Trino type
_FROM_DUCKDB = {
    "VARCHAR": "varchar",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "SMALLINT": "smallint",
    "TINYINT": "tinyint",
    "HUGEINT": "bigint",
    "UBIGINT": "bigint",
    "UINTEGER": "bigint",
    "DOUBLE": "double",
    "FLOAT": "real",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp(3)",
    "TIMESTAMP WITH TIME ZONE": "timestamp(3) with time zone",
    "NULL": "varchar",
    '"NULL"': "varchar",
}

# java.sql.Types codes, for system.jdbc (notes §4.5)
JDBC_CODES = {
    "bigint": -5, "integer": 4, "smallint": 5, "tinyint": -6, "double": 8, "real": 7,
    "decimal": 3, "varchar": 12, "boolean": 16, "date": 91, "timestamp": 93,
    "timestamp with time zone": 2014, "varbinary": -3,
}


def from_dpsql(kind: str) -> str:
    return _FROM_DPSQL.get(kind, "varchar")


def from_duckdb(name: str) -> str:
    upper = name.upper()
    if upper.startswith("DECIMAL"):
        return upper.lower().replace(" ", "")
    return _FROM_DUCKDB.get(upper, "varchar")


def raw_type(trino_type: str) -> str:
    """`timestamp(3) with time zone` -> `timestamp with time zone`; `decimal(9,2)` -> `decimal`."""
    head, _, rest = trino_type.partition("(")
    if not rest:
        return trino_type
    tail = rest.partition(")")[2]
    return head + tail


def signature(trino_type: str) -> dict[str, Any]:
    raw = raw_type(trino_type)
    arguments: list[dict[str, Any]] = []
    if raw == "varchar":
        arguments = [{"kind": "LONG", "value": VARCHAR_UNBOUNDED}]
    elif "(" in trino_type:
        inside = trino_type.partition("(")[2].partition(")")[0]
        arguments = [{"kind": "LONG", "value": int(p)} for p in inside.split(",")]
    return {"rawType": raw, "arguments": arguments}


def column(name: str, trino_type: str, *, parametric_datetime: bool = True) -> dict[str, Any]:
    """A column of a QueryResults page. Without the client's PARAMETRIC_DATETIME
    capability a timestamp is reported without precision, as Trino does; its
    values have milliseconds either way."""
    if not parametric_datetime and raw_type(trino_type).startswith("timestamp"):
        trino_type = raw_type(trino_type)
    return {"name": name, "type": trino_type, "typeSignature": signature(trino_type)}


def encode(value: Any, trino_type: str) -> Any:
    """One value as Trino writes it in JSON (§2.5)."""
    if value is None:
        return None
    raw = raw_type(trino_type)
    if raw in ("double", "real"):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return number
    if raw in ("bigint", "integer", "smallint", "tinyint"):
        return int(value)
    if raw == "boolean":
        return bool(value)
    if raw == "decimal":
        return str(value)
    if raw == "date":
        return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]
    if raw.startswith("timestamp"):
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if isinstance(value, dt.datetime):
            text = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
            return text + (" UTC" if "zone" in raw else "")
        return str(value)
    if isinstance(value, Decimal | float | int | bool):
        return str(value)
    return value if isinstance(value, str) else str(value)
