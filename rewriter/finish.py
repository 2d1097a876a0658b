"""After noise: the noisy table of each released group, and the answer read from it.

`noisy_table` finishes every aggregate from its noisy measures (each kind's
`finish`, rewriter/kinds.py) into one row per released group; `answer_rows`
runs the analyst's outer expressions, HAVING, ORDER BY and LIMIT on that table
in a sandboxed in-memory DuckDB. Nothing here reads data: noisy values and
public keys only, so all of it is post-processing and costs no privacy.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import duckdb
from sqlglot import exp

from .keys import json_key
from .kinds import Noisy, value_kind
from .naming import NOISY, SLOT
from .plan import Output, Plan
from .shape import Shape


def noisy_columns(values: tuple[Output, ...]) -> list[tuple[str, str]]:
    """The `__noisy` table's columns as (name, DuckDB type)."""
    columns = [(SLOT, "BIGINT")]
    for v in values:
        columns.append((v.name, duck_type(v.type) if v.kind == "key"
                        else value_kind(v.kind).noisy_type(v)))
    return columns


def is_direct(shape: Shape) -> bool:
    """True when every output is a key or an aggregate unchanged, with no HAVING,
    ORDER BY or LIMIT: the noisy table is the answer, no post-processing runs."""
    return (all(i.value is not None for i in shape.items) and shape.having is None
            and not shape.order and shape.limit is None and shape.offset is None)


_DUCK_TYPES = {"text": "VARCHAR", "integer": "BIGINT", "float": "DOUBLE", "boolean": "BOOLEAN",
               "date": "DATE", "timestamp": "TIMESTAMP"}


def duck_type(column_type: str) -> str:
    return _DUCK_TYPES[column_type]


def dpsql_type(duck: str) -> str:
    upper = duck.upper()
    if upper in ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER"):
        return "integer"
    if upper in ("DOUBLE", "FLOAT", "REAL") or upper.startswith("DECIMAL"):
        return "float"
    if upper == "VARCHAR":
        return "text"
    if upper == "BOOLEAN":
        return "boolean"
    if upper == "DATE":
        return "date"
    if upper.startswith("TIMESTAMP"):
        return "timestamp"
    return "text"


def _connect() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(config={"enable_external_access": False, "threads": 1})


def run_post(select: exp.Select, columns: Sequence[tuple[str, str]],
             rows: Sequence[Sequence[Any]]) -> tuple[list[str], list[list[Any]]]:
    """Run the post-processing query on `rows` (noisy values and public keys only).

    `columns` are (name, DuckDB type) of `__noisy`. Returns the DuckDB type of
    each output and the rows as JSON-ready values (non-finite floats → null).
    """
    con = _connect()
    try:
        create = exp.Create(
            kind="TABLE",
            this=exp.Schema(
                this=exp.Table(this=exp.to_identifier(NOISY, quoted=True)),
                expressions=[
                    exp.ColumnDef(this=exp.to_identifier(n, quoted=True),
                                  kind=exp.DataType.build(t))
                    for n, t in columns
                ],
            ),
        )
        con.execute(create.sql(dialect="duckdb"))
        if rows:
            insert = exp.insert(
                exp.values([tuple(exp.Placeholder() for _ in columns)]),
                exp.Table(this=exp.to_identifier(NOISY, quoted=True)),
            )
            con.executemany(insert.sql(dialect="duckdb"), [list(r) for r in rows])
        cursor = con.execute(select.sql(dialect="duckdb"))
        types = [str(d[1]) for d in cursor.description]
        out = [[_json(v) for v in row] for row in cursor.fetchall()]
        return types, out
    finally:
        con.close()


def _json(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def noisy_table(plan: Plan, groups: Sequence[tuple[Any, ...]], slots: Sequence[int],
                noisy: Callable[[int], Noisy]) -> tuple[list[list[Any]], dict[tuple[str, int],
                                                                            Fraction]]:
    """The noisy table: one row per released group (`slots` index `groups`), its
    slot first, then each value column of the plan (`Plan.values`) finished from
    `noisy(slot)`; and the noisy count behind each AVG, VAR and STDDEV cell, by
    (column, slot), for its interval."""
    rows: list[list[Any]] = []
    counts: dict[tuple[str, int], Fraction] = {}
    for slot in slots:
        keys, measures = groups[slot], noisy(slot)
        row: list[Any] = [slot]
        for out in plan.values:
            if out.kind == "key":
                assert out.key_index is not None
                row.append(json_key(keys[out.key_index]))
                continue
            kind = value_kind(out.kind)
            if kind.count_measure is not None:
                counts[out.name, slot] = measures.value(out.measures[kind.count_measure])
            row.append(kind.finish(out, measures))
        rows.append(row)
    return rows, counts


def answer_rows(plan: Plan, table: Sequence[Sequence[Any]]) -> tuple[list[list[Any]], list[int]]:
    """The answer's rows from the noisy table, and the slot each row came from."""
    if is_direct(plan.shape):
        # each output is a key or an aggregate unchanged: pick the columns
        position = {v.name: 1 + i for i, v in enumerate(plan.values)}
        return ([[row[position[o.source or ""]] for o in plan.outputs] for row in table],
                [row[0] for row in table])
    assert plan.post is not None
    with_slot = plan.post.copy().select(exp.column(SLOT, quoted=True), copy=False)
    _, out = run_post(with_slot, noisy_columns(plan.values), table)
    return [r[:-1] for r in out], [r[-1] for r in out]
