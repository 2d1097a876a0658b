"""Property B (issue #17, SPEC §4.7): through the real app, a query gets the same HTTP
status, error code and answer shape on a database with and without one hostile person.

Two apps per engine, one per database, each with its own ledger and a budget no run can
exhaust. Identical SQL repeated by hypothesis is answered from the cache on both, which
is also a status. The shape is the column names and types, and, unless partition
selection or HAVING (on noisy values) decides which groups appear, the row count.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import assume, event, given

from tests.sparkutil import spark_engine

from .conftest import FUZZ, LONG, SPARK_FULL, Survey
from .hostile import KEY, hostile_app
from .queries import queries
from .test_engine_totality import plan_or_none

REQUEST = {"epsilon": 100.0, "delta": 1e-6}  # as in test_engine_totality


@pytest.fixture(scope="module", params=["duckdb", "postgres", "spark"])
def apps(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[dict[bool, TestClient]]:
    """The app over the database with (True) and without (False) the hostile person."""
    if request.param == "spark" and not (SPARK_FULL or LONG):
        pytest.skip("two Spark apps per example: run by make test-spark (DPSQL_SPARK_FULL=1)")
    clients = {}
    for hostile in (True, False):
        if request.param == "spark":
            engine = spark_engine(request.getfixturevalue("hostile_spark")[hostile])
        elif request.param == "duckdb":
            engine = {"kind": "duckdb",
                      "database": str(request.getfixturevalue("hostile_duckdb")[hostile])}
        else:
            engine = {"kind": "postgres",
                      "dsn": request.getfixturevalue("hostile_postgres")[hostile][1]}
        folder = tmp_path_factory.mktemp(f"app_{request.param}_{hostile}")
        clients[hostile] = hostile_app(folder, engine)
        clients[hostile].__enter__()
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)


def _outcome(client: TestClient, sql: str) -> tuple[int, Any]:
    response = client.post("/v1/query", json={"sql": sql, **REQUEST},
                           headers={"Authorization": f"Bearer {KEY}"})
    return response.status_code, response.json()


@pytest.mark.slow
def test_status_does_not_depend_on_one_person(apps: dict[bool, TestClient]) -> None:
    survey = Survey()

    @FUZZ
    @given(sql=queries())
    def search(sql: str) -> None:
        try:
            check_parity(apps, sql)
        except AssertionError as err:
            if not LONG:
                raise
            survey.record(sql, str(err).split("; with: ")[0])

    search()
    survey.check()


def check_parity(apps: dict[bool, TestClient], sql: str) -> None:
    plan = plan_or_none(sql)
    assume(plan is not None)
    assert plan is not None
    with_status, with_body = _outcome(apps[True], sql)
    without_status, without_body = _outcome(apps[False], sql)
    event(f"status {with_status}/{without_status}")
    codes = [body.get("error", {}).get("code", "answer") for body in (with_body, without_body)]
    # the first part names the kind of failure (the survey groups by it)
    summary = (f"with the hostile person {with_status} {codes[0]}, without {without_status} "
               f"{codes[1]}; with: {str(with_body)[:200]}; without: {str(without_body)[:200]}; "
               f"for {sql!r}")
    assert with_status == without_status, summary
    if with_status != 200:
        assert with_body["error"]["code"] == without_body["error"]["code"], summary
        return
    assert with_body["columns"] == without_body["columns"], summary
    if not plan.selection and " HAVING " not in sql:
        assert len(with_body["rows"]) == len(without_body["rows"]), summary
