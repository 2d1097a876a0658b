"""Golden rewrites: titled input SQL and the SQL each engine receives, in
tests/rewriter/fixtures/rewrites.sql (in the manner of sqlglot's
tests/fixtures/optimizer). The file documents the rewrite; this test keeps it
true. With DPSQL_UPDATE_GOLDENS=1 the test writes the file anew instead."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlglot

from rewriter import KINDS, Catalog, Plan, plan_query

from .goldens import UPDATE, Case, format_cases, parse

FIXTURES = Path(__file__).parent / "fixtures" / "rewrites.sql"
DIALECTS = ("duckdb", "postgres", "spark")  # spark: keyed hashes, no RANDOM()
# diagnostics on, as the proxy plans by default: the goldens show what engines run
DIAGNOSTICS = 0.05


SALT = 1234567  # Spark's per-query secret salt (rewriter/distributed.py), fixed here


def _rewrite(sql: str, catalog: Catalog, dialect: str) -> str:
    plan = plan_query(sql.rstrip(";"), catalog, diagnostics=DIAGNOSTICS)
    return sqlglot.transpile(plan.sql(dialect), read=dialect, write=dialect, pretty=True)[0]


PREAMBLE, CASES = parse(FIXTURES.read_text())


def test_every_case_has_a_title_and_one_golden_per_engine() -> None:
    assert len({c.title for c in CASES}) == len(CASES) >= 10
    if not UPDATE:
        assert all(set(c.expected) == set(DIALECTS) for c in CASES), \
            "run with DPSQL_UPDATE_GOLDENS=1 to fill in the goldens"


# Each form of the bounding rewrite (rewriter/bound.py), by what its plan and SQL hold.
FORMS: dict[str, Callable[[Plan, str], bool]] = {
    "counts only, no row choice": lambda p, sql: '"__partial"' in sql and '"__rows"' not in sql,
    "rows numbered at random, no group cap": lambda p, sql: '"__rows"' in sql
    and '"__salt"' not in sql,
    "groups ranked by a salted hash, one pass": lambda p, sql: '"__salt"' in sql
    and '"__ranked"' not in sql,
    "groups ranked, then rows among the kept groups": lambda p, sql: '"__ranked"' in sql,
    "a per-(person, group) level": lambda p, sql: '"__partial"' in sql and '"__rows"' in sql,
    "private tables capped before the joins": lambda p, sql: '"__prn"' in sql,
    "partition selection": lambda p, sql: p.selection and bool(p.shape.group_columns),
    "declared public keys": lambda p, sql: bool(p.shape.group_columns) and not p.selection,
    "bounding diagnostics": lambda p, sql: bool(p.diagnostic_measures),
}


def test_the_goldens_cover_every_aggregate_kind_and_bounding_form(catalog: Catalog) -> None:
    plans = [plan_query(c.sql.rstrip(";"), catalog, diagnostics=DIAGNOSTICS) for c in CASES]
    assert {a.kind for p in plans for a in p.shape.aggregates} == set(KINDS)
    missing = [form for form, holds in FORMS.items()
               if not any(holds(p, p.sql("duckdb")) for p in plans)]
    assert not missing, missing


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_the_rewrite_is_the_golden_one(case: Case, dialect: str, catalog: Catalog,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rewriter.distributed.fresh_salt", lambda: SALT)
    got = _rewrite(case.sql, catalog, dialect)
    if UPDATE:
        case.expected[dialect] = got
        FIXTURES.write_text(format_cases(PREAMBLE, CASES, DIALECTS))
        return
    assert got == case.expected.get(dialect), (
        f"{case.title} ({dialect}) rewrites differently; if intended, regenerate with "
        "DPSQL_UPDATE_GOLDENS=1 and review the diff")
