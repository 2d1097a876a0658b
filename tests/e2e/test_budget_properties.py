"""Budgets people read correctly, through the real app on DuckDB (issue #18).

Over random sequences of queries (random ε and δ; ungrouped, grouped by a
column with public keys, and grouped by one without, which with δ > 0 goes
through partition selection) by two analysts sharing a dataset-wide budget,
interleaved with an owner raising, lowering and expiring grants, under pure
and zCDP accounting:

* ``explain``'s ``fits_budget`` holds exactly when ``/v1/query`` answers, and
  ``blocked_by`` names the limit the refusal names;
* explain's charge is what the query is then charged, shares included, and a
  repeated question is free in both (the cached answer), whatever the budget;
* every presentation (``/v1/budget``, explain, the answer; the analyst's and
  the dataset's) adds up as shown: spent + remaining = granted, for ε and for
  δ, read from the JSON numbers as written, or remaining is 0 when the grant
  expired or was lowered below what was spent;
* a pure query without partition selection is charged δ = 0.

CI runs a few derandomized examples; ``DPSQL_BUDGET_EXAMPLES=200`` runs a long,
random search (the ``slow`` variant runs 60).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from accountant import to_fraction
from proxy.app import create_app
from proxy.config import load_config
from tests.search import BUDGET_EXAMPLES, BUDGET_LONG, search

LONG = BUDGET_LONG
EXAMPLES = 6 if BUDGET_EXAMPLES is None else BUDGET_EXAMPLES
KEYS = {"alice": "k_alice", "bob": "k_bob", "olivia": "k_olivia"}
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
GRANT_DELTAS = [1e-6, 2e-6]
SHAPES = {
    "total": "SELECT COUNT(*) AS n FROM people WHERE age > {i}",
    "by_dept": "SELECT dept, COUNT(*) AS n FROM people WHERE age > {i} GROUP BY dept",
    "by_city": "SELECT city, COUNT(*) AS n FROM people WHERE age > {i} GROUP BY city",
}


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("budget") / "people.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE people (id INTEGER, dept TEXT, city TEXT, age INTEGER)")
        con.executemany("INSERT INTO people VALUES (?, ?, ?, ?)",
                        [(i, "ab"[i % 2], f"c{i % 3}", 20 + i % 50) for i in range(60)])
    return path


def deployment(folder: Path, db: Path, accounting: str) -> Path:
    def analyst(role: str, key: str, budget: dict[str, Any] | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {"role": role,
                                 "api_key_sha256": hashlib.sha256(key.encode()).hexdigest()}
        if budget:
            entry["budget"] = budget
        return entry

    document = {
        "engine": {"kind": "duckdb", "database": str(db)},
        "ledger": {"url": f"sqlite:///{folder / 'ledger.db'}"},
        "privacy": {"accounting": accounting, "default_query_epsilon": 0.1,
                    "default_query_delta": 1e-7, "max_query_epsilon": 10.0,
                    "max_query_delta": 1e-5,
                    "dataset_budget": {"epsilon": 4.0, "delta": 3e-6}},
        "tables": {"people": {
            "privacy_unit": "id", "max_rows_per_unit": 1, "max_groups_per_unit": 1,
            "columns": {"id": {"type": "integer"},
                        "dept": {"type": "text", "public_keys": ["a", "b"]},
                        "city": {"type": "text"},
                        "age": {"type": "integer", "lower": 0, "upper": 100}}}},
        "analysts": {"alice": analyst("analyst", KEYS["alice"], {"epsilon": 3.0, "delta": 1e-6}),
                     "bob": analyst("analyst", KEYS["bob"], {"epsilon": 2.0, "delta": 2e-6}),
                     "olivia": analyst("owner", KEYS["olivia"])},
    }
    path = folder / "dpsql.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


queries = st.tuples(
    st.just("query"), st.sampled_from(["alice", "bob"]),
    st.decimals(min_value="0.05", max_value="2.5", places=2).map(float),
    st.sampled_from([None, 0.0, 1e-7, 5e-7, 1e-6]), st.sampled_from(sorted(SHAPES)),
)
grants = st.tuples(
    st.just("grant"), st.sampled_from(["alice", "bob"]),
    st.sampled_from([0.0, 0.5, 1.0, 3.0, 6.0]), st.sampled_from(GRANT_DELTAS), st.booleans(),
)
dataset = st.tuples(st.just("dataset"), st.sampled_from([0.5, 2.0, 4.0, 8.0]),
                    st.sampled_from([3e-6, 1e-5]))
repeats = st.tuples(st.just("repeat"), st.integers(0, 20))
operations = st.lists(st.one_of(queries, queries, queries, grants, dataset, repeats),
                      min_size=1, max_size=12)


def exact(x: float) -> Fraction:
    return to_fraction(x)  # the decimal the JSON number shows


def check_adds_up(side: dict[str, Any] | None, where: str, expired: bool = False) -> None:
    if side is None:
        return
    assert side["summary"], where
    granted, spent, remaining = side["granted"], side["spent"], side["remaining"]
    if granted is None:
        assert spent == remaining == {"epsilon": 0.0, "delta": 0.0}, where
        return
    share = side["share_used"]
    if expired or share is None or share > 1:
        assert remaining == {"epsilon": 0.0, "delta": 0.0}, where
        return
    for key in ("epsilon", "delta"):
        assert exact(spent[key]) + exact(remaining[key]) == exact(granted[key]), (where, side)
    assert 0 <= share <= 1
    assert "never refills" in side["summary"] or "no privacy budget" in side["summary"], where


def run_sequence(client: TestClient, ops: list[tuple[Any, ...]], accounting: str,
                 clock: list[dt.datetime]) -> None:
    def headers(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEYS[who]}"}

    answered: list[tuple[str, dict[str, Any]]] = []
    for i, op in enumerate(ops):
        if op[0] == "grant":
            _, who, eps, dlt, expired = op
            # an expiry must be in the future when granted: grant until tomorrow, then
            # let two days pass (the clock only moves forward)
            until = (clock[0] + dt.timedelta(days=1)).date().isoformat() if expired else None
            body = {"epsilon": eps, "delta": dlt, "expires": until}
            r = client.patch(f"/v1/admin/analysts/{who}/budget", json=body,
                             headers=headers("olivia"))
            assert r.status_code == 200, r.text
            if expired:
                clock[0] += dt.timedelta(days=2)
            continue
        if op[0] == "dataset":
            _, eps, dlt = op
            r = client.patch("/v1/admin/budget", json={"epsilon": eps, "delta": dlt,
                                                       "reason": "test"},
                             headers=headers("olivia"))
            assert r.status_code == 200, r.text
            continue
        if op[0] == "repeat":  # the same question again: the cached answer, free
            if not answered:
                continue
            who, request = answered[op[1] % len(answered)]
        else:
            _, who, eps, dlt, shape = op
            request = {"sql": SHAPES[shape].format(i=i), "epsilon": eps}
            if dlt is not None:
                request["delta"] = dlt
        plan = client.post("/v1/explain", json=request, headers=headers(who))
        answer = client.post("/v1/query", json=request, headers=headers(who))
        if plan.status_code == 400:  # refused on its own terms, before any budget
            assert answer.status_code == 400 and (
                answer.json()["error"]["code"] == plan.json()["error"]["code"]), answer.text
            continue
        assert plan.status_code == 200, plan.text
        p = plan.json()
        expired = client.get("/v1/budget", headers=headers(who)).json()["expired"]
        check_adds_up(p["budget"], f"explain {i}", expired=expired)
        assert (p["blocked_by"] == "expired") is (expired and not p["cached"])
        check_adds_up(p["dataset_budget"], f"explain {i} (dataset)")
        selection = p["selection_threshold"] is not None
        if accounting == "pure" and not selection:
            assert p["charge"]["delta"] == 0.0  # nothing in it uses δ
        if p["fits_budget"]:
            assert answer.status_code == 200, (p, answer.text)
            a = answer.json()
            assert a["charged"] == p["charge"]  # the same cost, the same shares
            assert a["cached"] is p["cached"] is (op[0] == "repeat")
            answered.append((who, request))
            check_adds_up(a["budget"], f"answer {i}", expired=expired)
            check_adds_up(a["dataset_budget"], f"answer {i} (dataset)")
        else:
            assert answer.status_code == 403, (p, answer.text)
            assert answer.json()["error"]["code"] == "budget_exhausted"
            message = answer.json()["error"]["message"]
            expected = {"expired": "expired", "dataset": "dataset-wide budget",
                        "analyst": "analyst"}[p["blocked_by"]]
            assert expected in message, (p["blocked_by"], message)
        budget = client.get("/v1/budget", headers=headers(who)).json()
        check_adds_up(budget, f"budget {i}", expired=budget["expired"])
        check_adds_up(budget["dataset"], f"budget {i} (dataset)")


def property_test(small_db: Path, tmp_path: Path, accounting: str, examples: int) -> None:
    runs = iter(range(10**6))

    @search(examples, long=LONG, report_multiple_bugs=True)
    @given(operations)
    def check(ops: list[tuple[Any, ...]]) -> None:
        folder = tmp_path / f"run{next(runs)}"
        folder.mkdir()
        clock = [NOW]
        app = create_app(load_config(deployment(folder, small_db, accounting)),
                         clock=lambda: clock[0])
        with TestClient(app, raise_server_exceptions=False) as client:
            run_sequence(client, ops, accounting, clock)

    check()


@pytest.mark.parametrize("accounting", ["pure", "zcdp"])
def test_explain_fits_exactly_what_the_query_admits_and_budgets_add_up(
    small_db: Path, tmp_path: Path, accounting: str
) -> None:
    property_test(small_db, tmp_path, accounting, EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("accounting", ["pure", "zcdp"])
def test_the_same_over_a_longer_search(small_db: Path, tmp_path: Path, accounting: str) -> None:
    property_test(small_db, tmp_path, accounting, max(EXAMPLES, 60))


def test_pure_defaults_do_not_lock_an_analyst_out_through_delta(
    small_db: Path, tmp_path: Path
) -> None:
    # grant δ = 1e-6, default δ = 1e-7: charging δ to every query would refuse the 11th
    app = create_app(load_config(deployment(tmp_path, small_db, "pure")), clock=lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        auth = {"Authorization": f"Bearer {KEYS['alice']}"}
        for i in range(25):
            r = client.post("/v1/query", json={"sql": SHAPES["by_dept"].format(i=i)},
                            headers=auth)
            assert r.status_code == 200, (i, r.text)
            assert r.json()["charged"]["delta"] == 0.0
        budget = client.get("/v1/budget", headers=auth).json()
        assert budget["spent"] == {"epsilon": 2.5, "delta": 0.0}
        assert budget["remaining"] == {"epsilon": 0.5, "delta": 1e-6}
        assert budget["share_used"] == pytest.approx(2.5 / 3, abs=1e-6)
        assert budget["summary"].startswith("You have used 83.34 % of your privacy budget")
        # partition selection does use δ, and is charged it
        r = client.post("/v1/query", json={"sql": SHAPES["by_city"].format(i=99),
                                           "epsilon": 0.1, "delta": 1e-7}, headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["charged"]["delta"] == 1e-7
