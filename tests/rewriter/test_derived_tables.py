"""CTEs and subqueries in FROM (issue #4): a row-level derived table is inlined
into the outer query, so the rewrite must answer what the analyst's SQL means
(checked on DuckDB against the original query where no bound binds), keep each
person's contribution within the declared caps (checked with an extreme added
person), and describe the same plan as the query written over the tables."""

from __future__ import annotations

import pytest

from rewriter import Catalog, plan_query
from tests.neighbours import assert_within_sensitivity, measure_changes
from tests.rewriter.data import EXTREME, SMALL_EXTREME, database

# (derived-table query, the same question written over the tables)
EQUIVALENT = [
    ("WITH v AS (SELECT person_id, amount, city FROM visits WHERE amount > 0) "
     "SELECT city, SUM(amount) FROM v GROUP BY city",
     "SELECT city, SUM(amount) FROM visits WHERE amount > 0 GROUP BY city"),
    ("SELECT t.city, COUNT(*) FROM (SELECT person_id, amount * 2 AS a2, city FROM visits "
     "WHERE amount > 0) AS t WHERE t.a2 < 400 GROUP BY t.city",
     "SELECT city, COUNT(*) FROM visits WHERE amount > 0 AND amount * 2 < 400 GROUP BY city"),
    ("WITH a AS (SELECT person_id, amount, city FROM visits WHERE amount > 0), "
     "b AS (SELECT person_id, amount AS x, city AS town FROM a WHERE city <> 'Oslo') "
     "SELECT town, SUM(x) FROM b GROUP BY town",
     "SELECT city, SUM(amount) FROM visits WHERE amount > 0 AND city <> 'Oslo' GROUP BY city"),
    ("SELECT COUNT(*) FROM (SELECT * FROM (SELECT person_id, amount FROM visits "
     "WHERE amount > 1) x WHERE amount < 400) y",
     "SELECT COUNT(*) FROM visits WHERE amount > 1 AND amount < 400"),
    ("WITH t AS (SELECT * FROM employees) SELECT dept, COUNT(*) FROM t GROUP BY dept",
     "SELECT dept, COUNT(*) FROM employees GROUP BY dept"),
    ("WITH v AS (SELECT person_id, CASE WHEN amount > 100 THEN 'high' ELSE 'low' END AS band "
     "FROM visits) SELECT band, COUNT(DISTINCT person_id) FROM v GROUP BY band",
     "SELECT CASE WHEN amount > 100 THEN 'high' ELSE 'low' END AS band, "
     "COUNT(DISTINCT person_id) FROM visits GROUP BY band"),
    ("WITH v(p, a) AS (SELECT person_id, amount FROM visits) SELECT SUM(a) FROM v",
     "SELECT SUM(amount) FROM visits"),
    ("WITH v AS (SELECT person_id, amount > 100 OR amount < 0 AS odd FROM visits) "
     "SELECT COUNT(*) FROM v WHERE odd AND person_id > 3",
     "SELECT COUNT(*) FROM visits WHERE (amount > 100 OR amount < 0) AND person_id > 3"),
    # a CTE joined to a public table, and a CTE of a private ⋈ public join
    ("WITH e AS (SELECT id, dept, age FROM employees WHERE age > 30) "
     "SELECT d.floor, COUNT(*) FROM e JOIN departments d ON e.dept = d.dept GROUP BY d.floor",
     "SELECT d.floor, COUNT(*) FROM employees e JOIN departments d ON e.dept = d.dept "
     "WHERE e.age > 30 GROUP BY d.floor"),
    ("WITH e AS (SELECT x.id, x.salary, d.floor FROM employees x JOIN departments d "
     "ON x.dept = d.dept WHERE d.floor > 1) SELECT floor, SUM(salary) FROM e GROUP BY floor",
     "SELECT d.floor, SUM(x.salary) FROM employees x JOIN departments d ON x.dept = d.dept "
     "WHERE d.floor > 1 GROUP BY d.floor"),
    ("SELECT COUNT(*) FROM employees e JOIN (SELECT dept, floor FROM departments "
     "WHERE floor >= 2) d ON e.dept = d.dept",
     "SELECT COUNT(*) FROM employees e JOIN departments d ON e.dept = d.dept WHERE d.floor >= 2"),
    ("SELECT COUNT(*) FROM employees e LEFT JOIN (SELECT dept, floor FROM departments) d "
     "ON e.dept = d.dept WHERE d.floor IS NULL",
     "SELECT COUNT(*) FROM employees e LEFT JOIN departments d ON e.dept = d.dept "
     "WHERE d.floor IS NULL"),
    # a CTE joined with another private table on the privacy unit
    ("WITH v AS (SELECT person_id, amount FROM visits WHERE amount > 10) "
     "SELECT e.dept, COUNT(*) FROM employees e JOIN v ON e.id = v.person_id GROUP BY e.dept",
     "SELECT e.dept, COUNT(*) FROM employees e JOIN visits v ON e.id = v.person_id "
     "WHERE v.amount > 10 GROUP BY e.dept"),
    ("WITH v AS (SELECT v.person_id, e.age FROM visits v JOIN employees e ON v.person_id = e.id) "
     "SELECT COUNT(*) FROM employees x JOIN v ON x.id = v.person_id WHERE v.age > 40",
     "SELECT COUNT(*) FROM employees x JOIN visits v ON x.id = v.person_id "
     "JOIN employees e ON v.person_id = e.id WHERE e.age > 40"),
]


@pytest.mark.parametrize(("sql", "flat"), EQUIVALENT, ids=[q[:50] for q, _ in EQUIVALENT])
def test_derived_table_plans_like_the_flat_query(catalog: Catalog, sql: str, flat: str) -> None:
    plan, reference = plan_query(sql, catalog), plan_query(flat, catalog)
    assert [(m.kind, m.l1, m.l2_squared) for m in plan.measures] == \
        [(m.kind, m.l1, m.l2_squared) for m in reference.measures]
    assert plan.group_keys == reference.group_keys
    db = database()
    assert db.measures(plan) == db.measures(reference)


@pytest.mark.parametrize("sql", [q for q, _ in EQUIVALENT[:4]])
def test_rewrite_agrees_with_the_analysts_sql(catalog: Catalog, sql: str) -> None:
    """DuckDB runs the analyst's CTE itself: the inlined rewrite computes the same
    (every person is within the caps, every city a declared key)."""
    plan = plan_query(sql, catalog)
    db = database()
    n_keys = len(plan.shape.group_columns)
    expected = {tuple(r[:n_keys]): r[-1] for r in db.run(sql).rows}
    measure = plan.measures[0]
    got = db.measures(plan)[measure.name]
    scale = measure.grid_scale if measure.kind == "sum" else 1
    assert {k: v / scale for k, v in got.items()} == pytest.approx(expected)


@pytest.mark.parametrize("sql", [q for q, _ in EQUIVALENT])
def test_neighbour_moves_a_derived_query_within_its_sensitivity(catalog: Catalog,
                                                                sql: str) -> None:
    plan = plan_query(sql, catalog)
    db = database()
    before = db.measures(plan)
    # three private tables joined on the unit: 40³ of the person's rows, not 1000³
    with db.added(SMALL_EXTREME if sql.count("employees") > 1 else EXTREME):
        for _ in range(3):
            assert_within_sensitivity(plan, measure_changes(plan, before, db.measures(plan)),
                                      sql)


def test_output_names_follow_the_analysts_text(catalog: Catalog) -> None:
    plan = plan_query("WITH v AS (SELECT person_id, amount + 1 AS a1, city AS town FROM visits) "
                      "SELECT town, SUM(a1), SUM(a1) * 2 AS twice FROM v GROUP BY town", catalog)
    assert [o.name for o in plan.outputs] == ["town", "sum(a1)", "twice"]


def test_computed_columns_get_bounds_by_interval_arithmetic(catalog: Catalog) -> None:
    plan = plan_query("SELECT SUM(t.a2) FROM (SELECT person_id, amount * 2 + 1 AS a2 "
                      "FROM visits) t", catalog)
    (measure,) = plan.measures
    assert (measure.lower, measure.upper) == (-99.0, 1001.0)  # amount ∈ [-50, 500]


def test_substituted_definitions_keep_their_grouping(catalog: Catalog) -> None:
    """`odd AND x` must not read as `a OR (b AND x)` once `odd` is substituted."""
    plan = plan_query("WITH v AS (SELECT person_id, amount > 400 OR amount < 0 AS odd "
                      "FROM visits) SELECT COUNT(*) FROM v WHERE odd AND person_id IS NULL",
                      catalog)
    assert database().measures(plan)[plan.measures[0].name] == {(): 0}


def test_queries_without_derived_tables_are_untouched(catalog: Catalog) -> None:
    from rewriter.inline import inline
    from rewriter.parse import parse

    sql = "SELECT COUNT(*) FROM employees e JOIN departments d ON e.dept = d.dept"
    tree = parse(sql)
    assert inline(tree, catalog, sql) is tree
