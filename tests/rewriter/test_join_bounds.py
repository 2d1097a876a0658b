"""Joins do work bounded by the metadata (issue #17, SPEC §4.7): each private
table is capped per person before it is joined, and a public table is joined
only on a column declared unique or with a maximum multiplicity."""

from __future__ import annotations

import time

import pytest
import sqlglot
from pydantic import ValidationError
from sqlglot import exp

from rewriter import Catalog, QueryRefused, Table, plan_query
from rewriter.joins import MAX_JOIN_FANOUT
from tests.neighbours import Person, duckdb_database
from tests.rewriter.data import database

# -- metadata -------------------------------------------------------------------------


def test_multiplicity_is_declared_on_public_tables_only() -> None:
    with pytest.raises(ValidationError, match="describe public tables"):
        Table.model_validate({"privacy_unit": "id", "columns": {
            "id": {"type": "integer"}, "dept": {"type": "text", "unique": True}}})
    with pytest.raises(ValidationError, match="not both"):
        Table.model_validate({"public": True, "columns": {
            "dept": {"type": "text", "unique": True, "max_multiplicity": 3}}})
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        Table.model_validate({"public": True, "columns": {
            "dept": {"type": "text", "max_multiplicity": 0}}})
    table = Table.model_validate({"public": True, "columns": {
        "a": {"type": "text", "unique": True}, "b": {"type": "text", "max_multiplicity": 4},
        "c": {"type": "text"}}})
    assert [table.columns[c].multiplicity for c in "abc"] == [1, 4, None]


# -- refusals ---------------------------------------------------------------------------

REFUSED = [
    # a public table joined on a column that may repeat: name the declared ones
    ("SELECT COUNT(*) FROM employees e JOIN departments d ON e.city = d.budget_code",
     "equate one of its columns declared unique or with a maximum multiplicity: d.dept"),
    ("SELECT COUNT(*) FROM visits v JOIN cities c ON v.city = c.region", "c.name"),
    # a public table with nothing declared: the owner must declare a column
    ("SELECT COUNT(*) FROM employees e JOIN plain p ON e.dept = p.dept",
     "the data owner must first declare one of its columns `unique: true`"),
    # several equalities: one of them on a declared column is enough, none is not
    ("SELECT COUNT(*) FROM employees e JOIN departments d ON e.city = d.budget_code "
     "AND e.id = d.id", "d.dept"),
    # chains: the product of the multiplicities is bounded
    ("SELECT COUNT(*) FROM employees e JOIN wide a ON e.dept = a.k JOIN wide b ON e.dept = b.k",
     f"up to 1600 rows (the product of the declared multiplicities of the joined columns); "
     f"the limit is {MAX_JOIN_FANOUT}"),
    # two public tables joined (inside a derived table): the same rule
    ("WITH x AS (SELECT c.name, d.floor FROM cities c JOIN departments d "
     "ON c.region = d.budget_code) SELECT COUNT(*) FROM visits v JOIN x ON v.city = x.name",
     "JOIN departments"),
]


@pytest.fixture(scope="module")
def joins_catalog(catalog: Catalog) -> Catalog:
    return Catalog({
        **catalog.tables,
        "plain": Table.model_validate({"public": True, "columns": {"dept": {"type": "text"}}}),
        "wide": Table.model_validate({"public": True, "columns": {
            "k": {"type": "text", "max_multiplicity": 40}}}),
    })


@pytest.mark.parametrize(("sql", "fragment"), REFUSED)
def test_public_joins_need_a_bounded_column(joins_catalog: Catalog, sql: str,
                                            fragment: str) -> None:
    with pytest.raises(QueryRefused) as info:
        plan_query(sql, joins_catalog)
    assert info.value.code == "unsupported_query"
    assert fragment in info.value.message, info.value.message
    assert info.value.position is not None


ACCEPTED = [
    "SELECT COUNT(*) FROM employees e JOIN departments d ON e.dept = d.dept",
    "SELECT COUNT(*) FROM employees e JOIN departments d ON d.dept = e.dept "
    "AND e.city = d.budget_code",
    "SELECT COUNT(*) FROM employees e JOIN wide a ON e.dept = a.k JOIN departments d "
    "ON e.dept = d.dept",  # 40 · 1
    "SELECT COUNT(*) FROM visits v LEFT JOIN cities c ON v.city = c.name",  # 2
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_joins_on_declared_columns_are_answered(joins_catalog: Catalog, sql: str) -> None:
    plan_query(sql, joins_catalog)


# -- the rewrite's shape ----------------------------------------------------------------


def _base(sql: str, catalog: Catalog) -> exp.Select:
    tree = sqlglot.parse_one(plan_query(sql, catalog).sql("duckdb"), read="duckdb")
    return next(c.this for c in tree.find_all(exp.CTE) if c.alias == "__base")


def _from(select: exp.Select) -> exp.Expression:
    return (select.args.get("from") or select.args["from_"]).this


def _capped(node: exp.Expression) -> tuple[str, str, int, str]:
    """(table, partition column, cap, innermost WHERE) of a pre-join capped source."""
    assert isinstance(node, exp.Subquery), node.sql()
    window = node.find(exp.Window)
    assert window is not None and isinstance(window.this, exp.RowNumber)
    cap = node.this.args["where"].this
    assert isinstance(cap, exp.LTE) and cap.this.name == "__prn"
    inner = next(s for s in node.find_all(exp.Select) if isinstance(_from(s), exp.Table))
    assert any(isinstance(e.this, exp.Rand) for e in inner.expressions)
    table = _from(inner)
    return (table.name, window.args["partition_by"][0].name, int(cap.expression.name),
            inner.args["where"].this.sql())


def test_each_private_table_is_capped_before_the_join(catalog: Catalog) -> None:
    base = _base("SELECT e.dept, COUNT(*) FROM employees e JOIN visits v ON e.id = v.person_id "
                 "JOIN departments d ON e.dept = d.dept WHERE e.age > 30 AND v.amount > 10 "
                 "AND d.floor > 1 GROUP BY e.dept", catalog)
    first, joins = _from(base), base.args["joins"]
    table, unit, cap, where = _capped(first)
    assert (table, unit, cap) == ("employees", "id", 1)
    # the conjuncts naming only employees filter before its cap (so do declared keys)
    assert "age" in where and "amount" not in where and "floor" not in where
    assert "'Engineering'" in where
    table, unit, cap, where = _capped(joins[0].this)
    assert (table, unit, cap) == ("visits", "person_id", 5)
    assert "amount" in where and "age" not in where
    # the public table is joined as it is; the outer WHERE and the bounding after
    # the joins are today's
    assert isinstance(joins[1].this, exp.Table) and joins[1].this.name == "departments"
    assert "floor" in base.args["where"].sql() and "age" in base.args["where"].sql()


def test_filters_on_the_right_of_a_left_join_stay_after_the_join(catalog: Catalog) -> None:
    base = _base("SELECT COUNT(*) FROM employees e LEFT JOIN visits v ON e.id = v.person_id "
                 "WHERE v.amount IS NULL AND (e.age > 3 OR v.amount > 1)", catalog)
    assert base.args["joins"][0].side == "LEFT"
    _, _, _, where = _capped(base.args["joins"][0].this)
    assert "amount" not in where  # `v.amount IS NULL` would differ if applied first
    _, _, _, where = _capped(_from(base))
    assert "age" not in where  # an OR across tables stays after the join


@pytest.mark.parametrize("sql", [
    "SELECT COUNT(*) FROM employees WHERE age > 30",
    "SELECT dept, SUM(salary) FROM employees GROUP BY dept",
    "SELECT city, COUNT(DISTINCT person_id) FROM visits GROUP BY city",
])
def test_single_table_rewrite_has_no_pre_join_cap(catalog: Catalog, sql: str) -> None:
    plan = plan_query(sql, catalog)
    assert plan.shape.capped == ()
    assert "__pr" not in plan.sql("duckdb")
    source = _from(_base(sql, catalog))
    assert isinstance(source, exp.Table) and source.alias == ""


@pytest.mark.parametrize(("sql", "capped"), [
    # a unique public column cannot multiply a person's rows: bounded after the join only
    ("SELECT d.floor, COUNT(*) FROM employees e JOIN departments d ON e.dept = d.dept "
     "GROUP BY d.floor", ()),
    ("SELECT d.floor, COUNT(*) FROM employees e LEFT JOIN departments d ON e.dept = d.dept "
     "GROUP BY d.floor", ()),
    # cities.name may repeat twice: capped first, as the join may double a person's rows
    ("SELECT COUNT(*) FROM visits v JOIN cities c ON v.city = c.name", ("__t0",)),
    ("SELECT COUNT(*) FROM employees a JOIN employees b ON a.id = b.id", ("__t0", "__t1")),
    ("SELECT COUNT(*) FROM employees e LEFT JOIN visits v ON e.id = v.person_id "
     "JOIN departments d ON e.dept = d.dept", ("__t0", "__t1")),
])
def test_private_tables_are_capped_first_where_a_join_multiplies_rows(
    catalog: Catalog, sql: str, capped: tuple[str, ...]
) -> None:
    assert tuple(c.alias for c in plan_query(sql, catalog).shape.capped) == capped


# -- answers on DuckDB ------------------------------------------------------------------

EXACT = [
    ("SELECT e.dept, COUNT(*) FROM employees e JOIN visits v ON e.id = v.person_id "
     "WHERE v.amount > 10 AND e.age > 30 GROUP BY e.dept",
     "SELECT e.dept, COUNT(*) FROM employees e JOIN visits v ON e.id = v.person_id "
     "WHERE v.amount > 10 AND e.age > 30 AND e.dept <> 'Other' GROUP BY e.dept"),
    ("SELECT COUNT(*) FROM employees e LEFT JOIN visits v ON e.id = v.person_id "
     "WHERE v.amount IS NULL OR e.remote",
     "SELECT COUNT(*) FROM employees e LEFT JOIN visits v ON e.id = v.person_id "
     "WHERE v.amount IS NULL OR e.remote"),
    ("SELECT COUNT(*) FROM employees a JOIN employees b ON a.id = b.id WHERE b.age > 40",
     "SELECT COUNT(*) FROM employees WHERE age > 40"),
    ("SELECT COUNT(*) FROM visits v JOIN employees e ON v.person_id = e.id "
     "JOIN departments d ON e.dept = d.dept WHERE d.floor >= 2 AND v.city = 'Oslo'",
     "SELECT COUNT(*) FROM visits v JOIN employees e ON v.person_id = e.id "
     "JOIN departments d ON e.dept = d.dept WHERE d.floor >= 2 AND v.city = 'Oslo'"),
]


@pytest.mark.parametrize(("sql", "reference"), EXACT)
def test_capped_joins_agree_with_the_original_when_everyone_is_within_the_caps(
    catalog: Catalog, sql: str, reference: str
) -> None:
    plan = plan_query(sql, catalog)
    assert plan.shape.capped
    db = database()
    expected = {tuple(r[:-1]): r[-1] for r in db.run(reference).rows}
    assert db.measures(plan)[plan.measures[0].name] == expected


def test_a_person_with_15000_rows_self_joined_adds_at_most_the_cap(catalog: Catalog) -> None:
    """Before the pre-join cap this person made 225 million joined rows."""
    plan = plan_query("SELECT COUNT(*), COUNT(DISTINCT a.person_id) FROM visits a "
                      "JOIN visits b ON a.person_id = b.person_id", catalog)
    db = database()
    heavy = Person(999999, {"visits": "person_id"}, statements=(
        "INSERT INTO visits SELECT 999999, 'Oslo', 1.0, DATE '2024-01-01' FROM range(15000)",))
    # everyone has at most 5 visits, each kept by its table's cap of 5: deterministic
    before = db.measures(plan)
    with db.added(heavy):
        start = time.perf_counter()
        after = db.measures(plan)
        elapsed = time.perf_counter() - start
    rows, people = plan.measures
    assert after[rows.name][()] - before[rows.name][()] == 5 == rows.l1
    assert after[people.name][()] - before[people.name][()] == 1
    assert elapsed < 5, f"{elapsed:.1f} s"


def test_kept_rows_are_chosen_at_random_before_the_join(catalog: Catalog) -> None:
    """Which of a heavy person's rows survive the pre-join cap changes between runs."""
    db = duckdb_database(
        "CREATE TABLE visits AS SELECT 1 AS person_id, 'Oslo' AS city, "
        "i::DOUBLE AS amount, DATE '2024-01-01' AS visit_date FROM range(200) t(i)",
        "CREATE TABLE cities AS SELECT 'Oslo' AS name, 'north' AS region, 1 AS rank")
    plan = plan_query("SELECT SUM(v.amount) FROM visits v JOIN cities c ON v.city = c.name",
                      catalog)
    sums = {db.measures(plan)[plan.measures[0].name][()] for _ in range(8)}
    assert len(sums) > 1
