"""Synthetic twins of the private tables, made from the metadata alone.

A twin holds the same table and column names as the real data, so the same SQL
and the same rewrite run on it, but its people are invented: nothing in it was
read from a private table, so asking it questions costs no privacy.

What shapes each twin table, all of it declared by the owner:

* people: ``sandbox_people`` (default :data:`DEFAULT_PEOPLE`), ids ``1 … n`` in
  every table, so joins on the privacy unit match across tables;
* rows per person: geometric, scaled to the cap ``max_rows_per_unit`` so that
  about one person in ten has more rows than the cap and the bounding
  diagnostics have something to report;
* a column with ``public_keys``: its keys, with skewed (Zipf-like) shares;
* a bounded number: spread over ``[lower, upper]`` (a Beta(2, 3) shape), with
  about 3 % of rows beyond ``upper`` so that clamping shows;
* an unbounded number: 0 … 999; text without keys: a synthetic vocabulary
  (``<column>-01`` …); booleans: half true; dates and timestamps: 2015 … 2025.

Public tables hold public data and are copied as they are (:mod:`.store`).
No NULLs are generated. The random generator is seeded from the table's name and
metadata, so the same metadata always gives the same twin.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import numpy as np
from sqlglot import exp

from rewriter import Catalog, Table
from rewriter.metadata import Column

from .marginals import TableMarginals

__all__ = ["DEFAULT_PEOPLE", "SQL_TYPES", "TwinTable", "synthesize", "twin_seed"]

DEFAULT_PEOPLE = 10_000
MAX_ROWS = 2_000_000  # per twin table: the people are reduced to fit
SQL_TYPES = {"integer": "BIGINT", "float": "DOUBLE", "text": "VARCHAR", "boolean": "BOOLEAN",
             "date": "DATE", "timestamp": "TIMESTAMP"}
OVER_CAP = 0.1  # share of people with more rows than max_rows_per_unit
OUTSIDE = 0.03  # share of bounded values above `upper`
VOCABULARY = 40
_FIRST_DAY = dt.date(2015, 1, 1)
_DAYS = (dt.date(2025, 12, 31) - _FIRST_DAY).days + 1


def twin_seed(name: str, table: Table) -> int:
    """A seed that changes when the table's metadata does."""
    document = json.dumps([name, table.model_dump(mode="json")], sort_keys=True)
    return int.from_bytes(hashlib.sha256(document.encode()).digest()[:8], "big")


class TwinTable:
    """One synthetic table: numpy columns and the SQL that types them."""

    def __init__(self, name: str, columns: dict[str, np.ndarray], types: dict[str, str],
                 people: int) -> None:
        self.name, self.columns, self.types, self.people = name, columns, types, people

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def create_sql(self, source: str) -> str:
        """CREATE TABLE <name> AS SELECT each column cast to its SQL type FROM <source>."""
        select = exp.select(*(
            exp.alias_(exp.cast(_source_expr(col, self.types[col]),
                                exp.DataType.build(SQL_TYPES[self.types[col]])),
                       col, quoted=True)
            for col in self.columns
        )).from_(exp.to_identifier(source, quoted=True))
        create = exp.Create(this=exp.Table(this=exp.to_identifier(self.name, quoted=True)),
                            kind="TABLE", expression=select)
        return create.sql(dialect="duckdb")


def _source_expr(column: str, type_: str) -> exp.Expression:
    col = exp.column(column, quoted=True)
    if type_ in ("date", "timestamp"):  # stored as day / second offsets from 2015-01-01
        start = exp.cast(exp.Literal.string(_FIRST_DAY.isoformat()), exp.DataType.build("DATE"))
        unit = "DAY" if type_ == "date" else "SECOND"
        return exp.Add(this=exp.cast(start, exp.DataType.build("TIMESTAMP")),
                       expression=exp.Interval(this=col, unit=exp.var(unit)))
    return col


def _zipf(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** 0.7
    return rng.choice(n, size=size, p=weights / weights.sum())


def rows_per_person(rng: np.random.Generator, cap: int, people: int) -> np.ndarray:
    """1 + geometric, with P(rows > cap) = OVER_CAP; at most 3·cap + 2."""
    p = 1 - OVER_CAP ** (1 / cap)
    return np.minimum(rng.geometric(p, people), 3 * cap + 2)


def _key_column(rng: np.random.Generator, keys: tuple[Any, ...], type_: str,
                size: int, weights: list[float] | None = None) -> np.ndarray:
    if weights is not None and len(weights) == len(keys):
        w = np.array(weights, dtype=float)
        picks = rng.choice(len(keys), size=size, p=w / w.sum())
    else:
        picks = _zipf(rng, len(keys), size)
    if type_ == "date":
        values = [(k - _FIRST_DAY).days for k in keys]
    elif type_ == "timestamp":
        start = dt.datetime.combine(_FIRST_DAY, dt.time())
        values = [int((k.replace(tzinfo=None) - start).total_seconds()) for k in keys]
    else:
        values = list(keys)
    return np.array(values, dtype=str if type_ == "text" else None)[picks]


def _value_column(rng: np.random.Generator, name: str, col: Column, size: int,
                  bins: list[float] | None = None) -> np.ndarray:
    t = col.type
    if t in ("integer", "float"):
        if bins is not None and col.lower is not None and col.upper is not None:
            lo, hi = float(col.lower), float(col.upper)  # measured shares, uniform within a bin
            w = np.array(bins, dtype=float)
            picks = rng.choice(len(bins), size=size, p=w / w.sum())
            values = lo + (hi - lo) * (picks + rng.random(size)) / len(bins)
        elif col.lower is None or col.upper is None:
            lo, hi = 0.0, 999.0
            values = rng.uniform(lo, hi, size)
        else:
            lo, hi = float(col.lower), float(col.upper)
            values = lo + (hi - lo) * rng.beta(2.0, 3.0, size)
            outside = rng.random(size) < OUTSIDE
            values[outside] = hi + (hi - lo) * rng.uniform(0, 0.5, int(outside.sum()))
        if t == "integer":  # bounds near 2**63 must not overflow the cast
            return np.clip(np.round(values), -(2.0**62), 2.0**62).astype(np.int64)
        return np.round(values, 2)
    if t == "text":
        words = np.array([f"{name}-{k:02d}" for k in range(1, VOCABULARY + 1)], dtype=str)
        return words[_zipf(rng, VOCABULARY, size)]
    if t == "boolean":
        return rng.random(size) < 0.5
    if t == "date":
        return rng.integers(0, _DAYS, size)
    return rng.integers(0, _DAYS * 86_400, size)  # timestamp: seconds


def _unit_column(col: Column, ids: np.ndarray) -> np.ndarray:
    if col.type == "text":
        return np.char.add("person-", np.char.zfill(ids.astype(str), 7))
    if col.type == "float":
        return ids.astype(np.float64)
    return ids  # integer; dates and timestamps: day / second offsets, still distinct


def synthesize(name: str, table: Table, catalog: Catalog,
               marginals: TableMarginals | None = None) -> TwinTable:
    """The twin of one private table, from its metadata (and resolved public keys) only,
    or, when the owner paid for them, shaped by its DP marginals (:mod:`.marginals`)."""
    assert not table.public and table.privacy_unit is not None
    rng = np.random.default_rng(twin_seed(name, table))
    cap = table.max_rows_per_unit
    people = table.sandbox_people or DEFAULT_PEOPLE
    if marginals is not None and marginals.people is not None:
        people = marginals.people
    mean = 1 / (1 - OVER_CAP ** (1 / cap))  # the geometric's mean, above the clipped one
    people = max(1, min(people, int(MAX_ROWS / mean)))
    counts = rows_per_person(rng, cap, people)
    ids = np.repeat(np.arange(1, people + 1, dtype=np.int64), counts)
    columns: dict[str, np.ndarray] = {}
    types: dict[str, str] = {}
    for col_name, col in table.columns.items():
        types[col_name] = col.type
        if col_name == table.privacy_unit:
            columns[col_name] = _unit_column(col, ids)
            continue
        keys = catalog.public_keys(name, col_name) if col.public_keys is not None else None
        measured = marginals or TableMarginals()
        if keys:
            columns[col_name] = _key_column(rng, tuple(keys), col.type, len(ids),
                                            measured.keys.get(col_name))
        else:
            columns[col_name] = _value_column(rng, col_name, col, len(ids),
                                              measured.bins.get(col_name))
    return TwinTable(name, columns, types, people)
