"""The stated 95 % intervals are true: over many releases of the same engine
result, each released cell lies within its stated interval of the *bounded*
truth (the exact aggregate of the rows the caps kept, values clamped) in at
least 93 % of draws, for every aggregate kind, grouped and ungrouped, with the
caps binding and not, on DuckDB and PostgreSQL. The bounding diagnostics'
shares fall within their own stated intervals just as often.

The engine runs the rewritten SQL once per case: its exact measures are the
bounded truth of that run (which rows the caps kept is the engine's random
choice), and `release` then draws the noise many times.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import duckdb
import psycopg
import pytest

from accountant import Accounting
from proxy.accuracy import NoInterval, propagate
from proxy.calibrate import price
from proxy.engines.base import Result
from proxy.release import release, true_vectors
from rewriter import Catalog, Table, plan_query
from rewriter.plan import Plan
from tests.pg import load_rows, throwaway_database

pytestmark = pytest.mark.slow

# 120 draws per case (480 cells when grouped): each case must cover at least 85 %
# (5 binomial sd below 95 % at 120 cells), and each kind, pooled over the 16 cases
# (4,800 cells for counts, sd 0.3 %), at least 93 %
DRAWS = 120
CASE_FLOOR, POOLED_FLOOR = 0.85, 0.93
KEYS = ["a", "b", "c", "d"]
LOWER, UPPER = 0.0, 100.0
COLUMNS = ("SELECT COUNT(*) AS n, SUM(v) AS s, AVG(v) AS a, VARIANCE(v) AS var, "
           "STDDEV(v) AS sd, MEDIAN(v) AS med, QUANTILE_CONT(v, 0.9) AS q9, MIN(v) AS lo, "
           "MAX(v) AS hi, SUM(v) / COUNT(*) AS ratio FROM visits")
QUERIES = {"ungrouped": COLUMNS, "grouped": "SELECT g, " + COLUMNS[7:] + " GROUP BY g"}
CAPS = {"binding": (3, 1), "loose": (10, 4)}  # (max_rows_per_unit, max_groups_per_unit)


def _rows() -> list[tuple[int, str, float]]:
    """600 people with 1–5 rows over two groups each; about 8 % of the values
    lie outside [0, 100], so clamping shows."""
    rng = random.Random(20261201)
    rows = []
    for person in range(600):
        for k in range(1 + person % 5):
            group = KEYS[(person + k % 2) % len(KEYS)]
            rows.append((person, group, round(rng.uniform(-4, 104) + 10 * (person % 3), 3)))
    return rows


ROWS = _rows()


def _catalog(rows_per_unit: int, groups_per_unit: int) -> Catalog:
    return Catalog({"visits": Table.model_validate({
        "privacy_unit": "person_id", "max_rows_per_unit": rows_per_unit,
        "max_groups_per_unit": groups_per_unit,
        "columns": {
            "person_id": {"type": "integer"},
            "g": {"type": "text", "public_keys": KEYS},
            "v": {"type": "float", "lower": LOWER, "upper": UPPER},
        },
    })})


@pytest.fixture(scope="module")
def engines() -> Iterator[dict[str, Any]]:
    """Run SQL on a DuckDB and a PostgreSQL copy of the same rows."""
    con = duckdb.connect()
    con.execute("CREATE TABLE visits (person_id INTEGER, g VARCHAR, v DOUBLE)")
    con.executemany("INSERT INTO visits VALUES (?, ?, ?)", ROWS)

    def on_duckdb(sql: str) -> Result:
        cursor = con.execute(sql)
        return Result(tuple(d[0] for d in cursor.description), cursor.fetchall())

    with throwaway_database("dpsql_accuracy") as (admin_dsn, reader_dsn):
        load_rows(admin_dsn, "visits", "person_id integer, g text, v double precision", ROWS)
        with psycopg.connect(reader_dsn) as pg:
            def on_postgres(sql: str) -> Result:
                with pg.cursor() as cursor:
                    cursor.execute(sql)
                    assert cursor.description is not None
                    return Result(tuple(d.name for d in cursor.description),
                                  cursor.fetchall())

            yield {"duckdb": on_duckdb, "postgres": on_postgres}
    con.close()


class Truth:
    """The bounded truth of one engine result, per output and group."""

    def __init__(self, plan: Plan, result: Result) -> None:
        self.plan = plan
        _, self.exact = true_vectors(plan, result)

    def measure(self, name: str, slot: int) -> Fraction:
        m = self.plan.measure(name)
        return Fraction(self.exact[name][slot]) / m.grid_scale

    def value(self, source: str, slot: int) -> float | None:
        out = self.plan.value(source)
        ms = out.measures
        if out.kind in ("count", "units", "sum"):
            return float(self.measure(ms[0], slot))
        if out.kind == "avg":
            n = self.measure(ms[1], slot)
            return None if n == 0 else float(self.measure(ms[0], slot) / n)
        if out.kind in ("var", "stddev"):
            n, s, q = (self.measure(m, slot) for m in ms)
            if n < 2:
                return None
            var = (q / n - (s / n) ** 2) * (1 if out.population else n / (n - 1))
            return float(var) if out.kind == "var" else math.sqrt(max(0.0, float(var)))
        return None

    def expression(self, tree: Any, slot: int) -> float | None:
        env = {}
        for v in self.plan.values:
            if v.kind != "key":
                exact = self.value(v.name, slot)
                if exact is not None:
                    env[v.name] = (exact, exact)
        try:
            return propagate(tree, env)[0]
        except (NoInterval, ZeroDivisionError):
            return None

    def bins(self, source: str, slot: int) -> list[int]:
        m = self.plan.measure(self.plan.value(source).measures[0])
        return self.exact[m.name][slot * m.bins:(slot + 1) * m.bins]


def _rank_distance(counts: list[int], quantile: float, offset: int, index: int) -> float:
    """How far (in rows) the selected bin's ranks are from the target rank."""
    n = sum(counts)
    lt = sum(counts[:index])
    low, high = lt, lt + counts[index]
    if quantile == 1:
        low, high = n - high, n - low
    target = offset if quantile in (0, 1) else quantile * n
    return max(0.0, low - target, target - high)


def _selected_bin(value: float, quantile: float, bins: int) -> int:
    position = (value - LOWER) / (UPPER - LOWER) * bins
    if quantile == 0:
        return round(position)
    if quantile == 1:
        return round(position) - 1
    return math.floor(position)


def test_stated_intervals_cover_the_bounded_truth(engines: Any) -> None:
    pooled_in: dict[str, int] = defaultdict(int)
    pooled: dict[str, int] = defaultdict(int)
    for engine in ("duckdb", "postgres"):
        for query in QUERIES:
            for caps in CAPS:
                for accounting in (Accounting.ZCDP, Accounting.PURE):
                    inside, total = _case(engines, engine, query, caps, accounting)
                    for k in total:
                        pooled_in[k] += inside[k]
                        pooled[k] += total[k]
    coverage = {k: pooled_in[k] / pooled[k] for k in pooled}
    print("pooled", {k: f"{v:.4f} of {pooled[k]}" for k, v in sorted(coverage.items())})
    low = {k: v for k, v in coverage.items() if v < POOLED_FLOOR}
    assert not low, f"intervals cover less than {POOLED_FLOOR:.0%} of the draws: {low}"


def _case(engines: Any, engine: str, query: str, caps: str,
          accounting: Accounting) -> tuple[dict[str, int], dict[str, int]]:
    plan = plan_query(QUERIES[query], _catalog(*CAPS[caps]), diagnostics=Fraction(1, 20))
    delta = Fraction(1, 10**7) if accounting is Accounting.ZCDP else Fraction(0)
    priced = price(plan, accounting, Fraction(1), delta)
    result = engines[engine](plan.sql(engine))
    truth = Truth(plan, result)
    slots = len(plan.group_keys) if plan.group_keys else 1
    inside: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for _ in range(DRAWS):
        released = release(plan, result, priced.calibrated)
        by_column = {a.column: a for a in released.accuracy}
        for i, out in enumerate(plan.outputs):
            if out.kind == "key":
                continue
            acc = by_column[out.name]
            kind = out.kind if out.source is None else plan.value(out.source).kind
            for slot in range(slots):
                value = released.rows[slot][i]
                if kind == "quantile":
                    assert out.source is not None and acc.rank_halfwidth is not None
                    spec = priced.calibrated[plan.value(out.source).measures[0]].noise
                    counts = truth.bins(out.source, slot)
                    q = float(plan.value(out.source).quantile or 0)
                    index = _selected_bin(value, q, len(counts))
                    distance = _rank_distance(counts, q, spec.offset, index)  # type: ignore[union-attr]
                    key = {0.0: "min", 1.0: "max"}.get(q, "quantile")
                    inside[key] += distance <= acc.rank_halfwidth
                    total[key] += 1
                    continue
                if kind == "expression":  # SUM(v) / COUNT(*), on the exact aggregates
                    exact = truth.expression(plan.shape.items[i].expr, slot)
                else:
                    assert out.source is not None
                    exact = truth.value(out.source, slot)
                half = acc.cells[slot]
                if exact is None or half is None or value is None:
                    continue
                inside[kind] += abs(value - exact) <= half + 1e-9 * max(1.0, abs(exact))
                total[kind] += 1
        _check_diagnostics(released.bounding, truth, inside, total)
    coverage = {k: inside[k] / total[k] for k in total}
    print(engine, query, caps, accounting.value,
          {k: f"{v:.3f}" for k, v in sorted(coverage.items())})
    expected = {"count", "sum", "avg", "var", "stddev", "quantile", "min", "max", "expression",
                "dropped", "clamped"}
    assert expected <= set(coverage), coverage
    low = {k: v for k, v in coverage.items() if v < CASE_FLOOR}
    assert not low, f"{engine} {query} {caps} {accounting.value}: coverage {low}"
    return inside, total


def _check_diagnostics(bounding: Any, truth: Truth, inside: dict[str, int],
                       total: dict[str, int]) -> None:
    assert bounding is not None
    kept = sum(truth.exact["__d_kept"])
    raw = sum(truth.exact["__d_raw"])
    dropped = (raw - kept) / raw
    inside["dropped"] += bounding.dropped.low <= dropped <= bounding.dropped.high
    total["dropped"] += 1
    (clamped,) = bounding.clamped
    share = sum(truth.exact["__d_out0"]) / sum(truth.exact["__d_has0"])
    inside["clamped"] += clamped.low <= share <= clamped.high
    total["clamped"] += 1


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
@pytest.mark.parametrize("query", list(QUERIES))
def test_the_dropped_share_is_the_one_the_caps_really_drop(engines: Any, engine: str,
                                                           query: str) -> None:
    """No person here has more than 4R rows, so the diagnostics' clipped count of
    rows before the caps is the true one, grouped or not: the estimate is of the
    real loss."""
    plan = plan_query(QUERIES[query], _catalog(*CAPS["binding"]), diagnostics=0.05)
    truth = Truth(plan, engines[engine](plan.sql(engine)))
    kept = sum(truth.exact["__d_kept"])
    assert sum(truth.exact["__d_raw"]) == len(ROWS)
    assert 0.15 < 1 - kept / len(ROWS) < 0.6  # the caps bind: 1–5 rows per person, R = 3
