"""The sandbox through the real app (issue #22): it never reads a private row, charges
nothing, says its numbers are about synthetic people, refuses what /v1/query refuses,
and what it shows (cost, how many more queries fit) is what a real run then charges."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from proxy.engines.duckdb import DuckDBEngine
from proxy.engines.postgres import PostgresEngine
from tests.rewriter.test_refusals import REFUSED
from tests.security.test_adversarial import CASES

from .conftest import Proxy

GROUPED = "SELECT dept, COUNT(*) AS n, AVG(salary) AS pay FROM employees GROUP BY dept"
PRIVATE = {"employees", "visits"}


def sandbox(proxy: Proxy, path: str, sql: str, who: str = "alice", **params: Any) -> Any:
    return proxy.client.post(f"/v1/sandbox/{path}", json={"sql": sql, **params},
                             headers=proxy.headers(who))


def tables_read(sql: str, dialect: str) -> set[str]:
    return {t.name.lower() for t in sqlglot.parse_one(sql, read=dialect).find_all(exp.Table)}


@pytest.mark.parametrize("engine_kind", ["duckdb", "postgres"])
def test_the_data_engine_never_reads_a_private_table(
    make_proxy: Callable[..., Proxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[object, str]] = []
    for cls in (DuckDBEngine, PostgresEngine):
        original = cls.execute

        def recording(self: Any, sql: str, *, timeout_s: float | None = None,
                      _original: Any = original) -> Any:
            seen.append((self, sql))
            return _original(self, sql, timeout_s=timeout_s)

        monkeypatch.setattr(cls, "execute", recording)
    proxy = make_proxy()
    data = proxy.client.app.state.services.engine  # type: ignore[attr-defined]
    seen.clear()  # start-up reads public keys from the public table; from here on, sandbox only
    for sql in (GROUPED, "SELECT city, COUNT(*) AS n, SUM(amount) AS s FROM visits GROUP BY city",
                "SELECT COUNT(*) AS n FROM employees e JOIN visits v ON e.id = v.person_id",
                "SELECT d.floor, COUNT(*) AS n FROM employees e JOIN departments d "
                "ON e.dept = d.dept GROUP BY d.floor",
                "SELECT MEDIAN(age) AS m FROM employees"):
        for path in ("query", "explain"):
            r = sandbox(proxy, path, sql, epsilon=0.5, delta=1e-7)
            assert r.status_code == 200, r.text
    on_data = [sql for engine, sql in seen if engine is data]
    on_twin = [sql for engine, sql in seen if engine is not data]
    assert on_twin, "the sandbox ran nothing on its twin"
    assert all(tables_read(sql, data.dialect) <= {"departments"} for sql in on_data), on_data
    # the recorder sees what a real query reads: this test can fail
    assert proxy.query(GROUPED, epsilon=0.5).status_code == 200
    assert any(tables_read(sql, data.dialect) & PRIVATE for engine, sql in seen
               if engine is data)


@pytest.fixture
def engine_kind() -> str:
    return "duckdb"  # the remaining tests are about the sandbox, not the data engine


def test_sandbox_charges_nothing_and_says_the_people_are_synthetic(proxy: Proxy) -> None:
    before = proxy.client.get("/v1/budget", headers=proxy.headers()).json()
    ledger = proxy.client.get("/v1/ledger", headers=proxy.headers("carl")).json()
    for path in ("query", "explain"):
        r = sandbox(proxy, path, GROUPED, epsilon=1.0)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["synthetic"] is True
        assert "synthetic people" in body["notice"] and "Nothing was charged" in body["notice"]
        assert body["twin"]["people"] == {"employees": 10_000, "visits": 10_000}
    assert proxy.client.get("/v1/budget", headers=proxy.headers()).json() == before
    assert proxy.client.get("/v1/ledger", headers=proxy.headers("carl")).json() == ledger


def test_query_shows_exact_draws_intervals_bounding_and_real_cost(proxy: Proxy) -> None:
    body = sandbox(proxy, "query", GROUPED, epsilon=0.5, draws=3).json()
    assert [c["name"] for c in body["columns"]] == ["dept", "n", "pay"]
    assert len(body["draws"]) == 3
    keys = [row[0] for row in body["exact_rows"]]
    assert all([row[0] for row in d["rows"]] == keys for d in body["draws"])
    assert len({tuple(map(tuple, d["rows"])) for d in body["draws"]}) == 3  # independent noise
    assert {a["column"] for a in body["accuracy"]} == {"n", "pay"}
    # the twin gives some people more rows than max_rows_per_unit: the caps show
    whole = sandbox(proxy, "query", "SELECT COUNT(*) AS n FROM employees", epsilon=1.0).json()
    assert 0.05 < whole["bounding"]["dropped_rows"]["share"] < 0.2
    explain = proxy.explain(GROUPED, epsilon=0.5).json()
    assert body["real"]["charge"] == explain["charge"]
    assert body["real"]["fits_budget"] is True
    assert body["real"]["remaining"] == explain["remaining"]


def test_the_twin_is_built_from_the_declared_size(make_proxy: Callable[..., Proxy]) -> None:
    def small(doc: dict[str, Any]) -> None:
        doc["tables"]["employees"]["sandbox_people"] = 500
    body = sandbox(make_proxy(small), "query", "SELECT COUNT(*) AS n FROM employees").json()
    assert body["twin"]["people"]["employees"] == 500
    assert body["twin"]["rows"]["departments"] == 6  # public: copied as it is
    # about one person in ten has more rows than the cap of 1, and keeps only one
    assert body["exact_rows"] == [[500]]
    assert 520 < body["twin"]["rows"]["employees"] < 600


def _pure(budget: float) -> Callable[[dict[str, Any]], None]:
    def tweak(doc: dict[str, Any]) -> None:
        doc["privacy"]["accounting"] = "pure"
        doc["privacy"]["dataset_budget"] = {"epsilon": 100.0, "delta": 1e-3}
        doc["analysts"]["alice"]["budget"] = {"epsilon": budget, "delta": 1e-6}
    return tweak


def test_how_many_more_queries_fit_is_what_the_ledger_then_allows(
    make_proxy: Callable[..., Proxy]
) -> None:
    proxy = make_proxy(_pure(1.0))
    sql = "SELECT COUNT(*) AS n FROM employees WHERE age > {}"
    body = sandbox(proxy, "query", sql.format(0), epsilon=0.1, delta=0).json()
    assert body["real"]["affordable"] == 10
    table = sandbox(proxy, "explain", sql.format(0), epsilon=0.1, delta=0).json()
    by_eps = {row["epsilon"]: row for row in table["epsilon_table"]}
    assert by_eps[0.1]["asked"] is True and by_eps[0.1]["affordable"] == 10
    assert by_eps[0.2]["affordable"] == 5 and by_eps[0.5]["affordable"] == 2
    assert by_eps[2.0]["fits_budget"] is False and by_eps[2.0]["affordable"] == 0
    for i in range(10):
        assert proxy.query(sql.format(i), epsilon=0.1, delta=0).status_code == 200
        left = sandbox(proxy, "query", sql.format(0), epsilon=0.1, delta=0).json()["real"]
        assert left["affordable"] == 9 - i
    assert left["fits_budget"] is False and left["blocked_by"] == "analyst"
    assert proxy.query(sql.format(99), epsilon=0.1, delta=0).status_code == 403


def test_promote_runs_the_same_query_at_the_same_cost(proxy: Proxy) -> None:
    for params in ({"epsilon": 0.3}, {"accuracy": {"ci95_halfwidth": 40.0}}):
        real = sandbox(proxy, "query", GROUPED, **params).json()["real"]
        promote = real["promote"]
        assert promote["sql"] == GROUPED and promote["accuracy"] is None
        answer = proxy.client.post("/v1/query", json=promote, headers=proxy.headers())
        assert answer.status_code == 200, answer.text
        assert answer.json()["charged"] == real["charge"]
        if "accuracy" in params:
            assert real["chosen_epsilon"] == promote["epsilon"] == real["charge"]["epsilon"]


def test_explain_marks_the_accuracy_targets_pick(proxy: Proxy) -> None:
    body = sandbox(proxy, "explain", "SELECT dept, COUNT(*) AS n FROM employees GROUP BY dept",
                   accuracy={"ci95_halfwidth": 25.0}).json()
    pick = body["accuracy_pick"]
    assert pick == body["plan"]["chosen_epsilon"]
    marked = [r for r in body["epsilon_table"] if r["accuracy_pick"]]
    assert [r["epsilon"] for r in marked] == [pick]
    assert marked[0]["errors"][0]["ci95_halfwidth"] <= 25.0
    # smaller ε, wider intervals: the table reads as a curve
    widths = [w for w in body["plot"][0]["ci95_halfwidth"]]
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]


PARAMETERS = [{"epsilon": 0}, {"epsilon": -1.0}, {"epsilon": 1e9}, {"delta": 1.0},
              {"epsilon": 0.5, "accuracy": {"ci95_halfwidth": 5.0}},
              {"accuracy": {"ci95_halfwidth": 1e-9}}, {"epsilon": "0.1"}]
CORPUS = ([(sql, {"epsilon": 0.5, "delta": 1e-7}) for sql, _ in REFUSED]
          + [(sql, {"epsilon": 0.5, "delta": 1e-7}) for _, sql, _ in CASES]
          + [(GROUPED, p) for p in PARAMETERS]
          + [("SELECT COUNT(*) FROM employees GROUP BY hired", {"epsilon": 0.5, "delta": 0})])


@pytest.fixture(scope="module")
def shared(demo_db: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import pathlib

    import yaml
    from fastapi.testclient import TestClient

    from proxy.app import create_app
    from proxy.config import load_config
    from proxy.demo import demo_config_yaml

    from .conftest import KEYS
    folder = pathlib.Path(tmp_path_factory.mktemp("sandbox_parity"))
    doc = yaml.safe_load(demo_config_yaml(str(demo_db), KEYS,
                                          ledger_path=str(folder / "l.db")))
    doc["privacy"]["max_query_epsilon"] = 10.0
    doc["privacy"]["dataset_budget"] = {"epsilon": 1e6, "delta": 0.1}
    doc["analysts"]["alice"]["budget"] = {"epsilon": 1e5, "delta": 0.05}
    (folder / "dpsql.yaml").write_text(yaml.safe_dump(doc))
    with TestClient(create_app(load_config(folder / "dpsql.yaml")),
                    raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(("sql", "params"), CORPUS)
def test_refuses_exactly_what_the_real_pipeline_refuses(shared: Any, sql: str,
                                                        params: dict[str, Any]) -> None:
    headers = {"Authorization": "Bearer dpsql_alice_key"}
    real = shared.post("/v1/query", json={"sql": sql, **params}, headers=headers)
    tried = shared.post("/v1/sandbox/query", json={"sql": sql, **params, "draws": 1},
                        headers=headers)
    assert tried.status_code == real.status_code, (real.text, tried.text)
    if real.status_code != 200:
        assert tried.json() == real.json()
    else:
        assert [c for c in tried.json()["columns"]] == real.json()["columns"]


def test_an_owners_change_gives_a_new_twin(proxy: Proxy) -> None:
    sql = "SELECT COUNT(*) AS n FROM employees"
    assert sandbox(proxy, "query", sql).json()["exact_rows"] == [[10_000]]
    owner = proxy.headers("olivia")
    document = proxy.client.get("/v1/admin/tables/employees", headers=owner).json()
    document["sandbox_people"] = 2_000
    assert proxy.client.put("/v1/admin/tables/employees", json=document,
                            headers=owner).status_code == 200
    body = sandbox(proxy, "query", sql).json()
    assert body["twin"]["people"]["employees"] == 2_000
    assert body["exact_rows"] == [[2_000]]


def test_the_readme_session_runs(proxy: Proxy) -> None:
    """The README's sandbox session, as written: try, compare ε, run for real."""
    import json
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("## Try before paying: the sandbox", 1)[1].split("\n## ", 1)[0]
    calls = re.findall(r"curl -s localhost:8080(/v1/\S+) .*?-d '([^']+)'", section, re.S)
    assert [path for path, _ in calls] == ["/v1/sandbox/query", "/v1/sandbox/explain",
                                           "/v1/query"]
    tried = json.loads(calls[0][1])
    body = proxy.client.post("/v1/sandbox/query", json=tried, headers=proxy.headers()).json()
    assert body["synthetic"] is True and len(body["draws"]) == tried["draws"]
    compare = json.loads(calls[1][1])
    table = proxy.client.post("/v1/sandbox/explain", json=compare,
                              headers=proxy.headers()).json()
    assert [r["epsilon"] for r in table["epsilon_table"] if r["asked"]] == [compare["epsilon"]]
    real = json.loads(calls[2][1])
    again = proxy.client.post("/v1/sandbox/query", json={**tried, "epsilon": real["epsilon"]},
                              headers=proxy.headers()).json()
    assert again["real"]["promote"] == {**real, "accuracy": None}
    answer = proxy.client.post("/v1/query", json=real, headers=proxy.headers())
    assert answer.json()["charged"] == again["real"]["charge"]


@pytest.mark.parametrize("sql", [
    "SELECT dept, COUNT(*) AS n FROM employees WHERE age > -{} GROUP BY dept",
    # partition selection: each charge also spends an additive δ under zCDP
    "SELECT hired, COUNT(*) AS n FROM employees WHERE age > -{} GROUP BY hired",
])
def test_how_many_more_under_zcdp_is_what_the_ledger_allows(proxy: Proxy, sql: str) -> None:
    """The demo's zCDP grant of ε = 3.0: queries at ε = 1.0 compose to less than their
    sum, and the sandbox's count is exactly how many the ledger then accepts."""
    real = sandbox(proxy, "query", sql.format(0), epsilon=1.0, delta=1e-7,
                   draws=1).json()["real"]
    k = real["affordable"]
    assert 3 < k < 100
    for i in range(k):
        r = proxy.query(sql.format(i), epsilon=1.0, delta=1e-7)
        assert r.status_code == 200, (i, r.text)
    assert sandbox(proxy, "query", sql.format(0), epsilon=1.0, delta=1e-7,
                   draws=1).json()["real"]["affordable"] == 0
    assert proxy.query(sql.format(k), epsilon=1.0, delta=1e-7).status_code == 403


def test_grouped_queries_report_the_rows_the_caps_dropped(proxy: Proxy) -> None:
    # ε = 10: the diagnostics' own share (5 %) of ε = 1 left the estimate noisy enough
    # to fall outside the range now and then
    body = sandbox(proxy, "query", GROUPED, epsilon=10.0).json()
    assert 0.05 < body["bounding"]["dropped_rows"]["share"] < 0.2, body["bounding"]
