"""Every aggregate kind is complete (rewriter/kinds.py): recognised from its SQL,
planned into measures, finished from them to the exact answer when there is no
noise, and given an interval that grows with its measures' noise.

A new kind without an example here fails `test_every_kind_has_an_example`."""

from __future__ import annotations

import math
import statistics
from fractions import Fraction
from typing import get_args

import duckdb
import pytest

from rewriter import KINDS, Catalog, Output, answer_rows, noisy_table, plan_query, value_kind
from rewriter.plan import OutputKind
from rewriter.shape import AggregateKind

# one spelling per kind, over employees (unit id, R = 1; age in [16, 100])
EXAMPLES: dict[str, str] = {
    "count": "COUNT(*)",
    "count_column": "COUNT(age)",
    "count_distinct": "COUNT(DISTINCT dept)",
    "count_units": "COUNT(DISTINCT id)",
    "sum": "SUM(age)",
    "avg": "AVG(age)",
    "var": "VARIANCE(age)",
    "stddev": "STDDEV_POP(age)",
    "quantile": "MEDIAN(age)",
}
AGES = [16, 17, 30, 45, 45, 61, 99, 100, 100, 23]
DEPTS = ["HR", "HR", "Sales", "Legal", "HR", "Sales", "HR", "Legal", "Legal", "HR"]


def test_every_kind_has_an_example() -> None:
    assert set(KINDS) == set(get_args(AggregateKind)) == set(EXAMPLES)


def test_every_value_column_kind_has_a_kind() -> None:
    produced = {k.output for k in KINDS.values()}
    assert produced == set(get_args(OutputKind)) - {"key", "expression"}
    for output in produced:
        assert value_kind(output).output == output


@pytest.mark.parametrize("name", sorted(KINDS))
def test_the_spelling_is_recognised_as_its_kind(catalog: Catalog, name: str) -> None:
    plan = plan_query(f"SELECT {EXAMPLES[name]} FROM employees", catalog)
    (agg,) = plan.shape.aggregates
    assert agg.kind == name
    (value,) = plan.values
    kind = KINDS[name]
    assert value.kind == kind.output and value.type == kind.output_type(agg)
    assert value.measures and all(plan.measure(m) for m in value.measures)
    assert kind.noisy_type(value) in ("BIGINT", "DOUBLE")
    assert kind.spellings and kind.noun


class _Exact:
    """Measures read without noise (the engine's exact integer vectors)."""

    def __init__(self, plan, row: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
        self.plan, self.row = plan, row

    def value(self, measure: str) -> Fraction:
        return Fraction(self.row[measure]) / self.plan.measure(measure).grid_scale

    def position(self, measure: str) -> Fraction:
        raise AssertionError("quantiles are finished from a selected bin, not exact values")


def _truth(name: str) -> float:
    return {"count": len(AGES), "count_column": len(AGES), "count_distinct": len(set(DEPTS)),
            "count_units": len(AGES), "sum": sum(AGES), "avg": statistics.mean(AGES),
            "var": statistics.variance(AGES), "stddev": statistics.pstdev(AGES)}[name]


@pytest.mark.parametrize("name", sorted(k for k in KINDS if not KINDS[k].ranked))
def test_without_noise_the_finish_is_the_exact_answer(catalog: Catalog, name: str) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE employees (id INTEGER, name VARCHAR, dept VARCHAR, "
                "salary DOUBLE, age INTEGER, hired DATE, remote BOOLEAN, city VARCHAR)")
    con.executemany("INSERT INTO employees VALUES (?, 'x', ?, 1.0, ?, NULL, NULL, NULL)",
                    [(i, d, a) for i, (d, a) in enumerate(zip(DEPTS, AGES, strict=True))])
    plan = plan_query(f"SELECT {EXAMPLES[name]} FROM employees", catalog)
    cursor = con.execute(plan.sql("duckdb"))
    columns = [d[0] for d in cursor.description]
    (row,) = cursor.fetchall()
    exact = {m.name: int(row[columns.index(m.name)]) for m in plan.measures}
    table, _ = noisy_table(plan, [()], [0], lambda slot: _Exact(plan, exact))
    (answer,), slots = answer_rows(plan, table)
    assert slots == [0]
    assert math.isclose(answer[0], _truth(name), rel_tol=1e-6), (name, answer, _truth(name))


def test_a_quantile_is_read_from_the_selected_point() -> None:
    out = Output("q", "quantile", "float", measures=("__m0",), lower=16, upper=100, quantile=0.5)

    class Point:
        def value(self, measure: str) -> Fraction:
            raise AssertionError

        def position(self, measure: str) -> Fraction:
            return Fraction(1, 4)

    assert KINDS["quantile"].finish(out, Point()) == 16 + 84 / 4


@pytest.mark.parametrize("name", sorted(k for k in KINDS if not KINDS[k].ranked))
def test_the_interval_grows_with_the_noise(catalog: Catalog, name: str) -> None:
    plan = plan_query(f"SELECT {EXAMPLES[name]} FROM employees", catalog)
    (out,) = plan.values
    kind = KINDS[name]
    k = len(out.measures)
    value = 10.0
    none = kind.interval(out, [0.0] * k, 100.0, value)  # type: ignore[misc]
    some = kind.interval(out, [1.0] * k, 100.0, value)  # type: ignore[misc]
    more = kind.interval(out, [5.0] * k, 100.0, value)  # type: ignore[misc]
    assert none == 0 <= some <= more and more > 0 and math.isfinite(more)
    if kind.exact:  # one noisy number: its own half-width, whatever the group
        assert kind.interval(out, [3.0], None, None) == 3.0  # type: ignore[misc]
    else:  # a ratio to the group's count: smaller groups are less precise
        assert kind.count_measure is not None
        small = kind.interval(out, [1.0] * k, 10.0, value)  # type: ignore[misc]
        assert small >= some
