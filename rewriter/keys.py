"""Group-key values: the domain a released key may take, and canonical forms to
match engine rows with declared keys.

Engines return their own Python types (a PostgreSQL date, a DuckDB string, a
Decimal); declared keys come from YAML. Both are mapped to one canonical form
per column type before matching.

Not every value an engine stores can be released as a key: PostgreSQL's
'infinity' dates and years beyond 9999 cannot even be fetched by its driver,
NaN and ±Infinity are not JSON. The rule, applied per key value and so exactly
like a filter on rows (it reads no one's other values and never raises):

* a date key forms a group only in years 1–9999, a timestamp key likewise;
* a float key only when finite; an integer key only within 64 bits;
* text and boolean keys always.

Under partition selection the rewritten SQL applies it (`representable`), so such
rows form no group, as rows with a NULL key do; declared keys are always inside
it. `canonical_key` still never raises: a value outside the domain maps to
`UNREPRESENTABLE`, whose rows are dropped.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

from sqlglot import exp

from .metadata import KeyValue

UNREPRESENTABLE = object()
INT64 = (-(2**63), 2**63 - 1)
_MAX_DOUBLE = 1.7976931348623157e308


def _typed(text: str, sql_type: str) -> exp.Expr:
    return exp.cast(exp.Literal.string(text), exp.DataType.build(sql_type))


def _integer(value: int) -> exp.Expr:
    literal = exp.Literal.number(str(abs(value)))
    return exp.Neg(this=literal) if value < 0 else literal


def representable(tree: exp.Expr, key_type: str) -> exp.Expr | None:
    """The SQL condition that `tree`'s value is a releasable key of `key_type`
    (None: every non-NULL value is). Comparisons of a column with a constant of
    its own type cannot fail; NaN sorts above every number, so BETWEEN excludes
    it, and ±infinity dates fall outside any finite range."""
    if key_type == "date":
        low, high = _typed("0001-01-01", "DATE"), _typed("9999-12-31", "DATE")
    elif key_type == "timestamp":
        low = _typed("0001-01-01 00:00:00", "TIMESTAMP")
        high = _typed("9999-12-31 23:59:59.999999", "TIMESTAMP")
    elif key_type == "float":
        low = exp.cast(exp.Neg(this=exp.Literal.number(repr(_MAX_DOUBLE))),
                       exp.DataType.build("DOUBLE"))
        high = exp.cast(exp.Literal.number(repr(_MAX_DOUBLE)), exp.DataType.build("DOUBLE"))
    elif key_type == "integer":
        low, high = _integer(INT64[0]), _integer(INT64[1])
    else:
        return None
    return exp.Between(this=tree.copy(), low=low, high=high)


def canonical_key(value: Any, column_type: str) -> KeyValue | None | object:
    """The canonical form of an engine's key value; `UNREPRESENTABLE` for a value
    outside the releasable domain (never an exception)."""
    if value is None:
        return None
    try:
        key = _canonical(value, column_type)
    except (ValueError, TypeError, OverflowError, ArithmeticError):
        return UNREPRESENTABLE
    if isinstance(key, float) and not math.isfinite(key):
        return UNREPRESENTABLE
    if isinstance(key, int) and not isinstance(key, bool) and not INT64[0] <= key <= INT64[1]:
        return UNREPRESENTABLE
    return key


def _canonical(value: Any, column_type: str) -> KeyValue:
    if column_type == "text":
        return str(value)
    if column_type == "integer":
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
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
