"""The rewritten SQL on a real DuckDB: exact where no bound binds, and one
privacy unit moves each measure by no more than its declared sensitivity."""

from __future__ import annotations

import duckdb
import pytest

from rewriter import Catalog, plan_query
from tests.neighbours import assert_within_sensitivity, measure_changes
from tests.rewriter.data import EXTREME, database

QUERIES = [
    "SELECT COUNT(*) FROM employees",
    "SELECT dept, COUNT(*), SUM(salary), AVG(age) FROM employees GROUP BY dept",
    "SELECT COUNT(salary), SUM(age) FROM employees WHERE remote AND age BETWEEN 20 AND 60",
    "SELECT city, COUNT(*), SUM(amount), COUNT(DISTINCT person_id) FROM visits GROUP BY city",
    "SELECT SUM(amount), AVG(amount) FROM visits WHERE city IN ('Oslo', 'Lima')",
    "SELECT COUNT(DISTINCT person_id) AS people FROM visits",
    "SELECT city, SUM(amount * amount), AVG(amount / 3 + 1) FROM visits GROUP BY city",
    "SELECT city, VARIANCE(amount), MEDIAN(amount), MAX(amount) FROM visits GROUP BY city",
    "SELECT dept, SUM(CASE WHEN age > 40 THEN salary ELSE 0 END) FROM employees GROUP BY dept",
    "SELECT COUNT(*) FROM employees WHERE salary / (age - 16) > 100 AND YEAR(hired) > 2012",
    "SELECT dept, COUNT(*) AS n FROM employees GROUP BY dept HAVING n > 2 ORDER BY n LIMIT 2",
    "SELECT d.floor, COUNT(*), SUM(e.salary * d.floor) FROM employees e "
    "JOIN departments d ON e.dept = d.dept GROUP BY d.floor",
    "SELECT COUNT(*), AVG(age) FROM employees e LEFT JOIN departments d ON e.dept = d.dept "
    "WHERE d.floor > 2 OR d.floor IS NULL",
    # private ⋈ private on the units: rows multiply per person, bounding after the join
    # (grouped by dept: existing people stay within the joined group cap G = min(1, 2))
    "SELECT e.dept, COUNT(*), SUM(e.age + v.amount), COUNT(DISTINCT v.person_id) "
    "FROM employees e JOIN visits v ON e.id = v.person_id GROUP BY e.dept",
    "SELECT COUNT(*), SUM(a.salary) FROM employees a JOIN employees b ON a.id = b.id",
]


@pytest.mark.parametrize("sql", QUERIES)
def test_neighbour_moves_each_measure_within_its_sensitivity(catalog: Catalog, sql: str) -> None:
    plan = plan_query(sql, catalog)
    db = database()
    before = db.measures(plan)
    with db.added(EXTREME):
        for _ in range(5):  # the extreme unit's kept rows are random: try several draws
            changes = measure_changes(plan, before, db.measures(plan))
            assert_within_sensitivity(plan, changes)
            for m in plan.measures:
                if "WHERE" not in sql and m.kind != "sum":
                    assert sum(changes[m.name]) > 0, "the added unit should count somewhere"


EXACT = [
    ("SELECT COUNT(*) FROM employees", "SELECT COUNT(*) FROM employees"),
    ("SELECT dept, COUNT(*) FROM employees GROUP BY dept",
     "SELECT dept, COUNT(*) FROM employees WHERE dept <> 'Other' GROUP BY dept"),
    ("SELECT SUM(age) FROM employees WHERE hired >= '2015-01-01'",
     "SELECT SUM(age) FROM employees WHERE hired >= '2015-01-01'"),
    ("SELECT city, COUNT(*) FROM visits GROUP BY city",
     "SELECT city, COUNT(*) FROM visits GROUP BY city"),
]


@pytest.mark.parametrize(("sql", "reference"), EXACT)
def test_rewrite_agrees_with_the_original_when_no_bound_binds(
    catalog: Catalog, sql: str, reference: str
) -> None:
    plan = plan_query(sql, catalog)
    db = database()
    expected = {tuple(r[:-1]): r[-1] for r in db.run(reference).rows}
    got = db.measures(plan)[plan.measures[0].name]
    scale = plan.measures[0].grid_scale
    assert {k: v / scale for k, v in got.items()} == expected


def test_sum_is_exact_on_the_grid(catalog: Catalog) -> None:
    plan = plan_query("SELECT SUM(salary) FROM employees", catalog)
    db = database()
    exact = db.run("SELECT SUM(salary) FROM employees").rows[0][0]
    measured = db.measures(plan)[plan.measures[0].name][()]
    assert measured == exact * plan.measures[0].grid_scale


def test_rows_beyond_the_cap_are_chosen_at_random(catalog: Catalog) -> None:
    """A unit over the row cap keeps different rows on different runs (not data order)."""
    con = duckdb.connect()
    con.execute("""CREATE TABLE visits AS SELECT 1 AS person_id, 'Oslo' AS city,
        i::DOUBLE AS amount, DATE '2024-01-01' AS visit_date FROM range(100) t(i)""")
    plan = plan_query("SELECT SUM(amount) FROM visits", catalog)
    sums = {int(con.execute(plan.sql("duckdb")).fetchone()[-1]) for _ in range(20)}
    assert len(sums) > 5


@pytest.mark.parametrize("sql", [
    "SELECT COUNT(*), COUNT(DISTINCT id) FROM employees",
    "SELECT COUNT(DISTINCT id), COUNT(*) FROM employees WHERE age > 0 OR age IS NULL",
    "SELECT COUNT(*), COUNT(DISTINCT person_id) FROM visits WHERE city <> 'Pune'",
])
def test_a_unit_over_the_row_cap_counts_exactly_the_cap(catalog: Catalog, sql: str) -> None:
    """Ungrouped counts skip the row ranking (`bound.counts_rows_only`): a unit
    with 1,000 rows must still add exactly R rows and one unit, no more, no less."""
    plan = plan_query(sql, catalog)
    assert "ROW_NUMBER" not in plan.sql("duckdb").upper()
    table = "visits" if "visits" in sql else "employees"
    rows_cap = catalog.tables[table].max_rows_per_unit
    db = database()
    before = db.measures(plan)
    with db.added(EXTREME):
        after = db.measures(plan)
    added = {m.kind: after[m.name][()] - before[m.name][()] for m in plan.measures}
    assert added == {"count": rows_cap, "units": 1}


def test_groups_beyond_the_cap_are_chosen_at_random_per_query(catalog: Catalog) -> None:
    """A unit in 3 cities with G = 2 keeps 2 of them, a different pair across
    queries (the salted hash is drawn per query), never all 3."""
    con = duckdb.connect()
    con.execute("""CREATE TABLE visits AS SELECT 1 AS person_id, city, 1.0 AS amount,
        DATE '2024-01-01' AS visit_date FROM (VALUES ('Oslo'), ('Lima'), ('Pune')) t(city)""")
    plan = plan_query("SELECT city, COUNT(*) FROM visits GROUP BY city", catalog)
    assert catalog.tables["visits"].max_groups_per_unit == 2
    chosen = set()
    for _ in range(30):
        kept = frozenset(row[0] for row in con.execute(plan.sql("duckdb")).fetchall() if row[1])
        assert len(kept) == 2
        chosen.add(kept)
    assert len(chosen) > 1
