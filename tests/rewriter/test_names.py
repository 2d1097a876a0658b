"""Schema- and catalog-qualified names (issue #26): the deployment's names are
accepted and dropped, any other is refused from the text alone."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rewriter import Catalog, QueryRefused, plan_query


@pytest.fixture
def named(catalog: Catalog) -> Catalog:
    return replace(catalog, schemas=catalog.schemas | {"HR"}, catalogs=catalog.catalogs | {"corp"})


@pytest.mark.parametrize("sql", [
    "SELECT COUNT(*) FROM main.employees", "SELECT COUNT(*) FROM PUBLIC.employees",
    "SELECT COUNT(*) FROM dpsql.main.employees", "SELECT COUNT(*) FROM corp.hr.employees",
    'SELECT COUNT(*) FROM "hr"."employees"',
    "SELECT SUM(main.employees.age) FROM main.employees",
    "WITH t AS (SELECT id, age FROM public.employees) SELECT SUM(age) FROM t",
])
def test_accepted_qualifiers_name_the_same_table(named: Catalog, sql: str) -> None:
    plain = plan_query("SELECT COUNT(*) FROM employees", named)
    plan = plan_query(sql, named)
    assert plan.shape.table == "employees"
    if sql.startswith("SELECT COUNT(*)") and '"' not in sql:  # (quoting shows in the text)
        assert plan.normalized_sql == plain.normalized_sql  # one cache entry


@pytest.mark.parametrize(("sql", "dialect", "fragment"), [
    ("SELECT COUNT(*) FROM sales.employees", None, "schema sales holds no table"),
    ("SELECT COUNT(*) FROM other.main.employees", None, "catalog other holds no table"),
    ("SELECT COUNT(*) FROM pg_catalog.pg_user", None, "schema pg_catalog"),
    ('SELECT COUNT(*) FROM "hr".employees', "postgres", "schema \"hr\" holds no table"),
    ("SELECT SUM(x.employees.age) FROM employees", None, "write the column as table.column"),
    ("WITH employees AS (SELECT id, age FROM employees) SELECT COUNT(*) FROM main.employees",
     None, "CTE named employees"),
])
def test_other_qualifiers_are_refused(named: Catalog, sql: str, dialect: str | None,
                                      fragment: str) -> None:
    with pytest.raises(QueryRefused, match=fragment):
        plan_query(sql, named, dialect)


def test_quoted_qualifiers_match_exactly_in_a_case_sensitive_dialect(named: Catalog) -> None:
    assert plan_query('SELECT COUNT(*) FROM "HR".employees', named, "postgres").shape.table \
        == "employees"


def test_unbounded_numbers_in_where_and_group_by_are_clamped_there_only() -> None:
    """WHERE and GROUP BY keys clamp a number without bounds to ±1e15 before arithmetic
    (issue #26); an aggregate argument still needs declared bounds."""
    from rewriter import Table

    table = Table.model_validate({"privacy_unit": "pid", "columns": {
        "pid": {"type": "integer"}, "n": {"type": "integer"}}})
    cat = Catalog({"t": table})
    plan = plan_query("SELECT n * 2 AS k, COUNT(*) FROM t WHERE n / 3 > 1 GROUP BY k", cat)
    assert plan.selection and "1000000000000000" in plan.sql("duckdb")
    with pytest.raises(QueryRefused, match="no declared bounds"):
        plan_query("SELECT SUM(n * 2) FROM t", cat)
