"""Regression tests for issue #17's side channels, through the real HTTP app on
both engines: each query below once answered or failed depending on one
person's values (an exact bit per query at any ε). Now it must give the same
status and the same shape whether that person is in the table or not.

The hostile person (pid 999) holds, across their rows, the extremes the column
types allow: integer minimum and maximum, NaN, ±Infinity, 1e308, infinite dates
and timestamps, years beyond 9999, a string ending in a backslash.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from fastapi.testclient import TestClient

from proxy.app import create_app
from proxy.config import load_config
from tests.e2e.conftest import write_deployment
from tests.pg import require_postgres, throwaway_database

KEY = "dpsql_side_channel_key"
SCHEMA = ("CREATE TABLE people (pid BIGINT, n INTEGER, big BIGINT, x DOUBLE PRECISION, "
          "d DATE, ts TIMESTAMP, s TEXT, k TEXT, flag BOOLEAN)")
# 40 ordinary people, each in group k = 'g<pid % 2>' (so groups pass selection)
ORDINARY = [
    f"({p}, {p % 90}, {p * 7}, {p % 10}.5, DATE '2024-01-{1 + p % 28:02d}', "
    f"TIMESTAMP '2024-01-01 10:{p % 60:02d}:00', 'abc{p}', 'g{p % 2}', {str(p % 3 == 0).lower()})"
    for p in range(1, 41)
]
HOSTILE = {
    "duckdb": [
        "(999, 2147483647, 9223372036854775807, 'NaN', DATE '294276-01-01', "
        "TIMESTAMP 'infinity', 'ab\\', 'g0', false)",
        "(999, -2147483648, -9223372036854775808, 1e308, DATE 'infinity', "
        "TIMESTAMP '-infinity', 'ab\\x', 'g1', NULL)",
        "(999, 0, 0, 'Infinity', DATE '-infinity', NULL, 'ab%', 'g0', true)",
    ],
    "postgres": [
        "(999, 2147483647, 9223372036854775807, 'NaN', DATE '5874897-01-01', "
        "TIMESTAMP 'infinity', 'ab\\', 'g0', false)",
        "(999, -2147483648, -9223372036854775808, 1e308, DATE 'infinity', "
        "TIMESTAMP '-infinity', 'ab\\x', 'g1', NULL)",
        "(999, 0, 0, 'Infinity', DATE '-infinity', NULL, 'ab%', 'g0', true)",
    ],
}
PEOPLE = {
    "privacy_unit": "pid", "max_rows_per_unit": 3, "max_groups_per_unit": 2,
    "columns": {
        "pid": {"type": "integer"},
        "n": {"type": "integer", "lower": 0, "upper": 100},
        "big": {"type": "integer", "lower": 0, "upper": 10**19},
        "x": {"type": "float", "lower": 0, "upper": 10},
        "d": {"type": "date"}, "ts": {"type": "timestamp"},
        "s": {"type": "text"}, "k": {"type": "text"}, "flag": {"type": "boolean"},
    },
}

# (class, query, request parameters): each once leaked through its status
ANSWERED = [
    ("1 integer arithmetic",
     "SELECT COUNT(*) FROM people WHERE CAST(n AS INTEGER) + 2147483647 > 0", {}),
    ("1 integer arithmetic", "SELECT COUNT(*) FROM people WHERE EXTRACT(YEAR FROM d) + 2147480000 "
     "> 0", {}),
    ("2 pass-through", "SELECT SUM(CAST(NULLIF(x, 5) AS INTEGER)) FROM people", {}),
    ("3 literal precision", "SELECT COUNT(*) FROM people WHERE big IN "
     "(1, 0.123456789012345678901234567890123456)", {}),
    ("3 literal precision", "SELECT COUNT(*) FROM people WHERE n BETWEEN "
     "0.123456789012345678901234567890123456 AND 5", {}),
    ("4 LIKE escape", "SELECT COUNT(*) FROM people WHERE s LIKE 'ab\\'", {}),
    ("4 LIKE escape", "SELECT COUNT(*) FROM people WHERE s ILIKE 'AB\\'", {}),
    ("5 dates", "SELECT SUM(YEAR(d)), SUM(MONTH(ts)) FROM people", {}),
    ("5 dates", "SELECT COUNT(*) FROM people WHERE CAST(YEAR(d) AS VARCHAR) = '2024'", {}),
    ("6 selected keys", "SELECT d, COUNT(*) FROM people GROUP BY d", {"delta": 1e-5}),
    ("6 selected keys", "SELECT ts, COUNT(*) FROM people GROUP BY ts", {"delta": 1e-5}),
    ("6 selected keys", "SELECT x, COUNT(*) FROM people GROUP BY x", {"delta": 1e-5}),
    ("6 selected keys", "SELECT k, CAST(d AS DATE) AS day, COUNT(*) FROM people GROUP BY k, day",
     {"delta": 1e-5}),
    # the hostile person's clamped 1e19 overflows the 64-bit released table
    ("7 post-processing", "SELECT SUM(big) + 0 AS total FROM people", {"epsilon": 1}),
    ("7 post-processing", "SELECT k, SUM(big) * 2 AS twice, COUNT(*) AS n FROM people GROUP BY k "
     "ORDER BY twice", {"epsilon": 1, "delta": 1e-5}),
]
REFUSED = [
    # dates Python reads but an engine may not are refused before any charge
    ("3 date literal", "SELECT COUNT(*) FROM people WHERE d > '20240101'"),
    ("3 date literal", "SELECT COUNT(*) FROM people WHERE ts > '2024-01-01T10:00:00+05:00'"),
    ("4 LIKE pattern", "SELECT COUNT(*) FROM people WHERE s LIKE k"),
]


def _config(folder: Path, engine: dict[str, Any]) -> Path:
    return write_deployment(
        folder, engine, {"people": PEOPLE}, KEY, budget={"epsilon": 1e5, "delta": 0.4},
        privacy={"accounting": "pure", "max_query_epsilon": 10, "max_query_delta": 1e-3,
                 "default_query_delta": 0, "dataset_budget": {"epsilon": 1e6, "delta": 0.5}})


def _duckdb_file(path: Path, hostile: bool) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(SCHEMA.replace("DOUBLE PRECISION", "DOUBLE"))
        con.execute("INSERT INTO people VALUES " + ", ".join(
            ORDINARY + (HOSTILE["duckdb"] if hostile else [])))


def _client(path: Path) -> TestClient:
    clock = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    return TestClient(create_app(load_config(path), clock=lambda: clock),
                      raise_server_exceptions=False)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def twins(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[bool, TestClient]]:
    """Two deployments of one engine: with and without the hostile person."""
    clients: dict[bool, TestClient] = {}
    with_pg = request.param == "postgres"
    if with_pg:
        require_postgres()
    databases = []
    try:
        for hostile in (False, True):
            folder = tmp_path_factory.mktemp(f"twin_{request.param}_{hostile}")
            if with_pg:
                database = throwaway_database("dpsql_side")
                admin, reader = database.__enter__()
                databases.append(database)
                with psycopg.connect(admin, autocommit=True) as con:
                    con.execute(SCHEMA)
                    con.execute("INSERT INTO people VALUES " + ", ".join(
                        ORDINARY + (HOSTILE["postgres"] if hostile else [])))
                engine: dict[str, Any] = {"kind": "postgres", "dsn": reader}
            else:
                _duckdb_file(folder / "people.duckdb", hostile)
                engine = {"kind": "duckdb", "database": str(folder / "people.duckdb")}
            clients[hostile] = _client(_config(folder, engine))
            clients[hostile].__enter__()
        yield clients
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)
        for database in databases:
            database.__exit__(None, None, None)


def _ask(client: TestClient, sql: str, params: dict[str, Any]) -> Any:
    return client.post("/v1/query", json={"sql": sql, **params},
                       headers={"Authorization": f"Bearer {KEY}"})


def _shape(body: dict[str, Any]) -> Any:
    if "error" in body:
        return body["error"]["code"]
    return [(c["name"], c["type"]) for c in body["columns"]]


@pytest.mark.parametrize(("cls", "sql", "params"), ANSWERED, ids=[c for c, _, _ in ANSWERED])
def test_status_does_not_depend_on_one_person(
    twins: dict[bool, TestClient], cls: str, sql: str, params: dict[str, Any]
) -> None:
    without, with_hostile = (_ask(twins[h], sql, params) for h in (False, True))
    assert without.status_code == with_hostile.status_code == 200, (
        cls, without.text[:300], with_hostile.text[:300])
    assert _shape(without.json()) == _shape(with_hostile.json())
    for row in with_hostile.json()["rows"]:
        for value in row:
            assert not isinstance(value, float) or abs(value) < 1.8e308


@pytest.mark.parametrize(("cls", "sql"), REFUSED, ids=[c for c, _ in REFUSED])
def test_refused_before_any_charge(twins: dict[bool, TestClient], cls: str, sql: str) -> None:
    for client in twins.values():
        response = _ask(client, sql, {})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "unsupported_query"


def test_unrepresentable_keys_form_no_group(twins: dict[bool, TestClient]) -> None:
    """Infinite dates and years beyond 9999 are not released as keys (keys.py)."""
    body = _ask(twins[True], "SELECT d, COUNT(*) FROM people GROUP BY d",
                {"epsilon": 5, "delta": 1e-3}).json()
    assert all(str(key).startswith("2024-") for key, _ in body["rows"]), body["rows"]


def test_like_treats_backslash_as_itself(twins: dict[bool, TestClient]) -> None:
    """One reading of a pattern on both engines: `\\` stands for itself."""
    body = _ask(twins[True], "SELECT COUNT(*) FROM people WHERE s LIKE 'ab\\%'",
                {"epsilon": 10}).json()
    assert body["rows"][0][0] < 10  # only pid 999's 'ab\\x' matches, not 'abc…'


def test_invalid_unicode_is_refused_not_failed(twins: dict[bool, TestClient]) -> None:
    """A lone surrogate (valid JSON, invalid UTF-8) is refused before it reaches an
    engine or a message that would quote it."""
    body = '{"sql": "SELECT COUNT(*) FROM people WHERE s = \'a\\ud800\'"}'
    response = twins[True].post("/v1/query", content=body, headers={
        "Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in ("parse_error", "invalid_parameter")


def test_bounds_beyond_what_is_computed_safely_are_refused() -> None:
    from rewriter import Catalog, QueryRefused, Table, plan_query

    huge = {**PEOPLE, "columns": {**PEOPLE["columns"],
                                  "x": {"type": "float", "lower": 0, "upper": 1e300}}}
    catalog = Catalog({"people": Table.model_validate(huge)})
    with pytest.raises(QueryRefused, match="beyond ±1e100"):
        plan_query("SELECT SUM(x) FROM people", catalog)


def test_reserved_column_names_are_refused() -> None:
    """The rewrite's own columns (`__unit`, `__pr`, …) cannot be shadowed by a table's."""
    from pydantic import ValidationError

    from rewriter import Table

    with pytest.raises(ValidationError, match="reserved"):
        Table.model_validate({**PEOPLE, "columns": {**PEOPLE["columns"],
                                                    "__pr": {"type": "float"}}})


@pytest.mark.parametrize("op", ["*", "/", "+"])
def test_deep_arithmetic_is_refused_before_the_charge(
    twins: dict[bool, TestClient], op: str
) -> None:
    """Just inside the nesting limit, the rewritten tree (clamps and casts at every
    step) can be too deep to generate: that is a refusal, not a 500 after paying."""
    expression = "n"
    for _ in range(31):  # with SUM( that is 32 levels, the default limit
        expression = f"({expression} {op} 1)"
    spent_before = twins[False].get("/v1/budget", headers={"Authorization": f"Bearer {KEY}"})
    response = _ask(twins[False], f"SELECT SUM({expression}) FROM people", {"epsilon": 0.5})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "unsupported_query"
        spent_after = twins[False].get("/v1/budget",
                                       headers={"Authorization": f"Bearer {KEY}"})
        assert spent_after.json() == spent_before.json()
