"""Neighbouring datasets: the harness of the tests that check a privacy claim on D and
D' = D plus one person.

Differential privacy is a statement about two such databases, so the tests that check
it build both and compare what the system does on each: how far the rewritten query's
exact measures move (at most the plan's declared sensitivity), how often a group only
the added person creates is released (at most δ), and how much the released answers'
distributions differ (the observed privacy loss, at most ε). This module holds what they
share; each test keeps its own data, its own person and its own thresholds.

- `Person`: the one privacy unit D' adds, as rows per table (or INSERT statements for
  many rows) and the column that holds its unit in each table.
- `Database`: D on one engine, DuckDB (`duckdb_database`) or PostgreSQL
  (`postgres_database`); ``with db.added(person):`` holds D' for the block and takes
  the person out again afterwards, so one database serves every example of a property.
- `on_both`: the rewritten SQL of a plan run on D and on D' (exactly, before noise).
- `measure_vectors`, `measure_changes`, `neighbour_changes`,
  `assert_within_sensitivity`: each measure per group (and histogram bin), how far one
  person moved it, and the L1 / L2 check against the plan's sensitivity.
- `clopper_pearson`, `epsilon_lower_bound`: the statistics of the release audits, with
  their confidence bounds (a test fails only when the bound, not the estimate, breaks
  the claim).

Tests whose neighbour is another idea keep their own: tests/spark/test_spark_bounding.py
removes a person with a WHERE over fixed Parquet files under a pinned salt, and
tests/totality/test_status_parity.py compares two whole apps over the hostile files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import psycopg
from scipy import stats

from proxy.engines.base import Result
from rewriter import Plan
from tests.pg import load_rows, require_postgres, throwaway_database

__all__ = [
    "Database",
    "Person",
    "assert_within_sensitivity",
    "clopper_pearson",
    "duckdb_database",
    "duckdb_result",
    "epsilon_lower_bound",
    "measure_changes",
    "measure_vectors",
    "neighbour_changes",
    "on_both",
    "postgres_database",
]

Rows = Sequence[tuple[Any, ...]]
Vectors = dict[str, dict[tuple[Any, ...], int]]


@dataclass(frozen=True)
class Person:
    """The privacy unit `unit` that D' adds to D.

    `units` maps each table the person has rows in to its privacy-unit column (how the
    person is taken out again); `rows` holds their rows per table, `statements` any
    INSERT … SELECT that adds many rows at once (run after the rows).
    """

    unit: int
    units: Mapping[str, str]
    rows: Mapping[str, Rows] = field(default_factory=dict)
    statements: Sequence[str] = ()


class Database:
    """D on one engine: `run` answers a query exactly, `added` holds D' for a block."""

    def __init__(self, dialect: str, run: Callable[[str], Result],
                 execute: Callable[[str], None], insert: Callable[[str, Rows], None],
                 close: Callable[[], None] = lambda: None) -> None:
        self.dialect = dialect
        self.run = run
        self.execute = execute
        self.insert = insert
        self.close = close

    def measures(self, plan: Plan) -> Vectors:
        """The exact measures of the plan's rewritten SQL on the data as it is now."""
        return measure_vectors(plan, self.run(plan.sql(self.dialect)))

    @contextmanager
    def added(self, person: Person) -> Iterator[None]:
        """D' for the block: the person's rows are in, and out again afterwards."""
        try:
            for table, rows in person.rows.items():
                self.insert(table, rows)
            for statement in person.statements:
                self.execute(statement)
            yield
        finally:
            for table, column in person.units.items():
                self.execute(f"DELETE FROM {table} WHERE {column} = {int(person.unit)}")


def duckdb_result(con: duckdb.DuckDBPyConnection, sql: str) -> Result:
    """An engine `Result` of `sql` on a DuckDB connection."""
    cursor = con.execute(sql)
    return Result(tuple(d[0] for d in cursor.description), cursor.fetchall())


def duckdb_database(*statements: str,
                    tables: Mapping[str, tuple[str, Rows]] | None = None) -> Database:
    """D in an in-memory DuckDB: `statements` run first, then each of `tables`
    (name → (column definitions, rows)) is created and filled."""
    con = duckdb.connect()
    for statement in statements:
        con.execute(statement)

    def insert(table: str, rows: Rows) -> None:
        if rows:
            con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})",
                            rows)

    for table, (columns, rows) in (tables or {}).items():
        con.execute(f"CREATE TABLE {table} ({columns})")
        insert(table, rows)

    def execute(statement: str) -> None:
        con.execute(statement)

    return Database("duckdb", lambda sql: duckdb_result(con, sql), execute, insert, con.close)


@contextmanager
def postgres_database(prefix: str, tables: Mapping[str, tuple[str, Rows]]) -> Iterator[Database]:
    """D in a throwaway PostgreSQL database: each of `tables` (name → (column
    definitions, rows)) copied in; queries and changes run as its owner."""
    require_postgres()
    with throwaway_database(prefix) as (admin, _reader):
        for table, (columns, rows) in tables.items():
            load_rows(admin, table, columns, rows)
        conn = psycopg.connect(admin, autocommit=True)

        def run(sql: str) -> Result:
            cursor = conn.execute(sql)  # type: ignore[call-overload]
            return Result(tuple(d.name for d in cursor.description or ()), cursor.fetchall())

        def execute(statement: str) -> None:
            conn.execute(statement)  # type: ignore[call-overload]

        def insert(table: str, rows: Rows) -> None:
            if rows:
                marks = ", ".join(["%s"] * len(rows[0]))
                with conn.cursor() as cur:
                    cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)  # type: ignore[call-overload]

        try:
            yield Database("postgres", run, execute, insert)
        finally:
            conn.close()


def on_both(db: Database, plan: Plan, person: Person) -> tuple[Result, Result]:
    """The plan's rewritten SQL run exactly on D and on D' = D + person."""
    sql = plan.sql(db.dialect)
    without = db.run(sql)
    with db.added(person):
        return without, db.run(sql)


# -- the exact measures and how far one person moves them --------------------

def measure_vectors(plan: Plan, result: Result) -> Vectors:
    """Each measure of the rewritten query's result, keyed by its group key and, for a
    histogram, the bin: ``{measure: {(*group, bin): value}}`` (a missing value is 0)."""
    names = list(result.columns)
    n_keys = len(plan.shape.group_columns)
    out: Vectors = {m.name: {} for m in plan.measures}
    for row in result.rows:
        for m in plan.measures:
            for k, column in enumerate(m.columns()):
                key = tuple(row[:n_keys]) + ((k,) if m.kind == "hist" else ())
                out[m.name][key] = int(row[names.index(column)] or 0)
    return out


def measure_changes(plan: Plan, before: Vectors, after: Vectors) -> dict[str, list[int]]:
    """How far each measure moved, per key that either side holds (a key missing on
    one side counts as 0 there)."""
    return {
        m.name: [abs(after[m.name].get(k, 0) - before[m.name].get(k, 0))
                 for k in set(before[m.name]) | set(after[m.name])]
        for m in plan.measures
    }


def neighbour_changes(db: Database, plan: Plan,
                      person: Person) -> tuple[dict[str, list[int]], Vectors]:
    """How far each measure moves when the person is added, and the measures on D'."""
    before = db.measures(plan)
    with db.added(person):
        after = db.measures(plan)
    return measure_changes(plan, before, after), after


def assert_within_sensitivity(plan: Plan, changes: Mapping[str, Sequence[int]],
                              *context: Any) -> None:
    """Each measure moved by at most its declared L1 sensitivity, and its squared moves
    add up to at most its declared L2² (`context` goes into the failure message)."""
    for m in plan.measures:
        diffs = changes[m.name]
        assert sum(diffs) <= m.l1, (*context, m, diffs)
        assert sum(d * d for d in diffs) <= m.l2_squared, (*context, m, diffs)


# -- the statistics of the release audits ------------------------------------

def clopper_pearson(k: int, n: int, alpha: float) -> tuple[float, float]:
    """One-sided Clopper–Pearson (lower, upper) bounds on a binomial proportion from k
    successes in n trials, each at level 1 − alpha (together a 1 − 2·alpha interval)."""
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha, k + 1, n - k))
    return low, high


def epsilon_lower_bound(a: np.ndarray, b: np.ndarray, delta: float, alpha: float) -> float:
    """The observed privacy loss between the releases `a` (on D) and `b` (on D'): the
    largest lower confidence bound of ε̂(S) = ln((P[A∈S] − δ) / P[B∈S]) over threshold
    events S = {x ≥ t} and {x < t} (25 pooled quantiles), in both directions.

    The bounds are one-sided Clopper–Pearson, Bonferroni-corrected over every event and
    direction so that the whole estimate errs upwards with probability at most `alpha`.
    """
    pooled = np.concatenate([a, b])
    thresholds = np.unique(np.quantile(pooled, np.linspace(0.02, 0.98, 25)))
    events = [(lambda x, t=t: x >= t) for t in thresholds] + \
             [(lambda x, t=t: x < t) for t in thresholds]
    level = alpha / (2 * 2 * len(events))
    best = -math.inf
    for event in events:
        for x, y in ((a, b), (b, a)):
            p_low, _ = clopper_pearson(int(event(x).sum()), len(x), level)
            _, q_high = clopper_pearson(int(event(y).sum()), len(y), level)
            if p_low - delta > 0 and q_high > 0:
                best = max(best, math.log((p_low - delta) / q_high))
    return best
