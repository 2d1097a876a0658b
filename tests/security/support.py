"""Helpers shared by tests/security, tests/fuzz and tests/audit."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from fastapi.testclient import TestClient

from proxy.app import create_app
from proxy.config import load_config
from proxy.demo import demo_config_yaml
from tests.e2e.conftest import KEYS, Proxy

ERROR_CODES = {"parse_error", "unsupported_query", "invalid_parameter", "unauthenticated",
               "forbidden", "budget_exhausted", "timeout", "internal"}

# What a driver or Python would print; none of it may reach a client.
LEAK_MARKERS = re.compile(
    r"Traceback|File \"|line \d+, in |duckdb\.|psycopg|Binder Error|Catalog Error|"
    r"Conversion Error|Invalid Input Error|Parser Error|ERROR:  |sqlstate|"
    r"ZeroDivision|KeyError|ValueError|TypeError|AssertionError|"
    r"/work/|site-packages|\.py\b",
)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def shared_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, demo_db: Path
) -> Iterator[Proxy]:
    """The demo deployment on one engine, with a budget no test here can exhaust."""
    engine: dict[str, Any] = {"kind": "duckdb", "database": str(demo_db)}
    if request.param == "postgres":
        engine = {"kind": "postgres", "dsn": request.getfixturevalue("pg_demo")}
    folder = tmp_path_factory.mktemp(f"shared_{request.param}")
    document = yaml.safe_load(
        demo_config_yaml(str(demo_db), KEYS, ledger_path=str(folder / "l.db"))
    )
    document["engine"] = {**engine, "statement_timeout_s": 30}
    document["privacy"]["max_query_epsilon"] = 10.0
    document["privacy"]["dataset_budget"] = {"epsilon": 1.0e6, "delta": 0.5}
    for name in ("alice", "bob"):
        document["analysts"][name]["budget"] = {"epsilon": 1.0e5, "delta": 0.1}
    path = folder / "dpsql.yaml"
    path.write_text(yaml.safe_dump(document))
    clock = [dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)]
    client = TestClient(create_app(load_config(path), clock=lambda: clock[0]),
                        raise_server_exceptions=False)
    with client:
        yield Proxy(client, path, clock)


@pytest.fixture(scope="session")
def private_values(demo_db: Path) -> dict[str, set[str]]:
    """Raw values of private columns that no DP answer may contain verbatim."""
    with duckdb.connect(str(demo_db), read_only=True) as con:
        names = {r[0] for r in con.execute("SELECT DISTINCT name FROM employees").fetchall()}
        salaries = {r[0] for r in con.execute(
            "SELECT DISTINCT salary FROM employees WHERE salary > 250000").fetchall()}
        amounts = {r[0] for r in con.execute(
            "SELECT DISTINCT amount FROM visits WHERE amount <> round(amount) "
            "ORDER BY amount LIMIT 200").fetchall()}
    return {
        "names": names,
        # salaries above the bound cannot come out of a clamped answer
        "numbers": {repr(float(s)) for s in salaries} | {repr(float(a)) for a in amounts},
    }


def check_body(response: Any, sql: str, private: dict[str, set[str]]) -> dict[str, Any]:
    """The checks every response must pass: a documented status and shape, no
    stack trace or driver text, no private value the query text did not contain."""
    assert response.status_code in (200, 400, 401, 403, 504), (
        response.status_code, sql, response.text[:500])
    text = response.text
    body = response.json()
    assert not LEAK_MARKERS.search(text), (sql, text[:500])
    for name in private["names"]:
        if name in text:
            assert name.lower() in sql.lower(), f"private name {name!r} leaked for {sql!r}"
    if response.status_code == 200:
        # numbers in an answer are noisy; a raw unclamped value would be a leak
        numbers = set(re.findall(r"-?\d+\.\d+", json.dumps(body["rows"])))
        assert not (numbers & private["numbers"]) or all(n in sql for n in numbers
                                                          & private["numbers"]), (sql, text)
    else:
        check_error_shape(body)
    return body


def check_error_shape(body: Any) -> None:
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) <= {"code", "message", "position"}, error
    assert error["code"] in ERROR_CODES, error
    assert isinstance(error["message"], str) and error["message"], error
    if "position" in error:
        assert set(error["position"]) == {"line", "column"}, error
        assert all(isinstance(v, int) and v >= 1 for v in error["position"].values()), error
