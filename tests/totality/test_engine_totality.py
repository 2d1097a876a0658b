"""Property A (issue #17): every query the rewriter accepts runs on both engines over
the hostile data without an engine error, and its release (noise, partition selection,
post-processing) does not raise either. A query's status must not depend on a value.

Refusals are fine (they depend on the text only); `test_most_generated_queries_plan`
keeps the generator honest by demanding that most of what it writes plans.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

import duckdb
import psycopg
import pytest
from hypothesis import assume, event, given

from accountant import Accounting
from proxy.calibrate import price
from proxy.engines.base import EngineError, Result
from proxy.release import release
from rewriter import Plan, QueryRefused, RewriteError, plan_query
from tests.sparkutil import MASTER, TEST_CONF

from .conftest import CATALOG, FUZZ, LONG, Survey, examples_for
from .queries import queries

# ε = 100: the selection threshold (6 units) lets the benign groups through, so
# post-processing sees released keys
EPSILON, DELTA = Fraction(100), Fraction(1, 10**6)
Run = Callable[[str], Result]


def plan_or_none(sql: str) -> Plan | None:
    try:
        return plan_query(sql, CATALOG)
    except (QueryRefused, RewriteError):
        return None


@pytest.fixture(scope="module", params=["duckdb", "postgres", "spark"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, Run]]:
    """(dialect, run) over the database holding the hostile person; run raises the
    driver's own error so that a failure names it."""
    if request.param == "duckdb":
        paths = request.getfixturevalue("hostile_duckdb")
        copy = tmp_path_factory.mktemp("engine") / "h.duckdb"  # the app holds the original
        shutil.copyfile(paths[True], copy)
        con = duckdb.connect(str(copy), read_only=True)

        def run_duck(sql: str) -> Result:
            cursor = con.cursor()
            try:
                cursor.execute(sql)
                return Result(tuple(d[0] for d in cursor.description or ()), cursor.fetchall())
            finally:
                cursor.close()
        yield "duckdb", run_duck
        con.close()
        return
    if request.param == "spark":
        # the proxy's own engine: its statement check is part of what must accept the SQL
        from proxy.config import SparkSource
        from proxy.engines.spark import SparkEngine
        sources = request.getfixturevalue("hostile_spark")[True]
        spark = SparkEngine(sources={n: SparkSource.model_validate(s) for n, s in sources.items()},
                            master=MASTER, conf=TEST_CONF, statement_timeout_s=120)
        yield "spark", spark.execute
        spark.close()
        return
    _, reader = request.getfixturevalue("hostile_postgres")[True]
    with psycopg.connect(reader, autocommit=True) as pg:
        def run_pg(sql: str) -> Result:
            with pg.cursor() as cur:
                # as proxy/engines/postgres.py: binary results, one statement
                cur.execute(sql, binary=True, prepare=False)
                rows: list[tuple[Any, ...]] = [tuple(r) for r in cur.fetchall()]
                return Result(tuple(d.name for d in cur.description or ()), rows)
        yield "postgres", run_pg


class NotTotal(AssertionError):
    """A query whose status depends on the data."""


@functools.cache
def failure(where: str, cause: str) -> type[NotTotal]:
    """One exception class per (where, cause): hypothesis tells bugs apart by the type
    and line of their exception, so each kind of failure (engine and driver error class,
    or release's exception) is shrunk and reported on its own."""
    return type(f"NotTotal_{where}_{cause}", (NotTotal,), {})


def check_total(sql: str, dialect: str, run: Run) -> None:
    plan = plan_or_none(sql)
    event("planned" if plan is not None else "refused")
    assume(plan is not None)
    assert plan is not None
    if plan.selection:
        event("partition selection")
    rewritten = plan.sql(dialect)
    try:
        result = run(rewritten)
    except (duckdb.Error, psycopg.Error, EngineError) as err:
        if isinstance(err, EngineError):  # Spark: the driver's class is the cause
            raise failure(dialect, str(err.cause))(
                f"{dialect} engine error ({err.cause}) for {sql!r}") from None
        raise failure(dialect, type(err).__name__)(
            f"{dialect} engine error ({type(err).__name__}: {str(err).splitlines()[0]}) "
            f"for {sql!r}") from None
    priced = price(plan, Accounting.ZCDP, EPSILON, DELTA)
    threshold = priced.selection.threshold if priced.selection else None
    try:
        release(plan, result, priced.calibrated, threshold)
    except Exception as err:  # noqa: BLE001 - any exception after the charge is the bug
        raise failure(f"release_{dialect}", type(err).__name__)(
            f"release raised ({type(err).__name__}: {err}) on {dialect} for {sql!r}") from None


@pytest.mark.slow
def test_rewritten_queries_are_total(engine: tuple[str, Run]) -> None:
    survey = Survey()

    @examples_for(engine[0])
    @given(sql=queries())
    def search(sql: str) -> None:
        try:
            check_total(sql, *engine)
        except NotTotal as err:
            if not LONG:
                raise
            survey.record(sql, str(err))

    search()
    survey.check()


def test_most_generated_queries_plan() -> None:
    outcomes: list[bool] = []

    @FUZZ
    @given(sql=queries())
    def collect(sql: str) -> None:
        outcomes.append(plan_or_none(sql) is not None)

    collect()
    assert sum(outcomes) >= 0.5 * len(outcomes), f"{sum(outcomes)}/{len(outcomes)} planned"


