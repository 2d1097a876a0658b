"""The vertical slice through the real app: a DP answer, its charge and its
accuracy, budget exhaustion, restart durability, and bad input without 500s."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import Proxy

GROUPED = "SELECT dept, COUNT(*) AS n, SUM(salary) AS total, AVG(age) AS mean_age " \
          "FROM employees GROUP BY dept"


def test_grouped_answer_has_every_public_key_and_its_accuracy(proxy: Proxy, truth: Any) -> None:
    response = proxy.query(GROUPED, epsilon=1.0)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [row[0] for row in body["rows"]] == truth["departments"]
    assert [c["name"] for c in body["columns"]] == ["dept", "n", "total", "mean_age"]
    assert [c["type"] for c in body["columns"]] == ["text", "integer", "float", "float"]
    assert (body["charged"]["epsilon"], body["charged"]["delta"]) == (1.0, 1e-7)
    assert body["cached"] is False
    assert body["query_id"].startswith("q_")
    assert {a["column"] for a in body["accuracy"]} == {"n", "total", "mean_age"}
    for a in body["accuracy"]:
        assert a["mechanism"] == "discrete_gaussian"
        assert a["ci95_halfwidth"] > 0
    for _, n, _total, mean_age in body["rows"]:
        assert n >= 0
        assert 16 <= mean_age <= 100


def test_repeated_query_returns_the_first_answer_free(proxy: Proxy) -> None:
    first = proxy.query(GROUPED, epsilon=0.5).json()
    again = proxy.query("select dept, count(*) as n, sum(salary) as total, avg(age) as mean_age "
                        "from employees  group by dept -- same question", epsilon=0.5).json()
    assert again["cached"] is True
    assert again["rows"] == first["rows"]
    assert (again["charged"]["epsilon"], again["charged"]["delta"]) == (0.0, 0.0)
    assert again["charged"]["share"] == 0.0 and again["budget"] == first["budget"]
    assert again["remaining"] == first["remaining"]


def test_explain_reads_no_data_and_charges_nothing(proxy: Proxy) -> None:
    before = proxy.client.get("/v1/budget", headers=proxy.headers()).json()
    plan = proxy.explain("SELECT COUNT(*), SUM(salary) FROM employees", epsilon=0.4)
    assert plan.status_code == 200, plan.text
    body = plan.json()
    assert set(body["rewritten_sql"]) == {"duckdb", "postgres"}
    assert "ROW_NUMBER" in body["rewritten_sql"]["duckdb"]
    assert body["fits_budget"] is True
    count, total = body["outputs"]
    assert count["sensitivity_l1"] == 1 and total["sensitivity_l1"] == 250000
    assert count["ci95_halfwidth"] > 0
    after = proxy.client.get("/v1/budget", headers=proxy.headers()).json()
    assert after == before


def _pure(budget: float) -> Callable[[dict[str, Any]], None]:
    def tweak(doc: dict[str, Any]) -> None:
        doc["privacy"]["accounting"] = "pure"
        doc["privacy"].pop("dataset_budget", None)
        doc["analysts"]["alice"]["budget"] = {"epsilon": budget, "delta": 1e-6}
    return tweak


def test_ten_queries_at_a_tenth_fit_a_budget_of_one_and_no_more(make_proxy: Any) -> None:
    proxy = make_proxy(_pure(1.0))
    for i in range(10):
        r = proxy.query(f"SELECT COUNT(*) FROM employees WHERE age > {i}", epsilon=0.1, delta=0)
        assert r.status_code == 200, r.text
    refused = proxy.query("SELECT COUNT(*) FROM employees WHERE age > 99", epsilon=0.1, delta=0)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "budget_exhausted"
    budget = proxy.client.get("/v1/budget", headers=proxy.headers()).json()
    assert budget["remaining"]["epsilon"] == 0


def test_a_charge_is_never_refunded_and_survives_restart(make_proxy: Any, tmp_path: Any) -> None:
    ledger = tmp_path / "shared-ledger.db"
    first = make_proxy(_pure(1.0), ledger=ledger)
    assert first.query("SELECT COUNT(*) FROM employees", epsilon=0.6, delta=0).status_code == 200
    first.client.__exit__(None, None, None)
    second = make_proxy(_pure(1.0), ledger=ledger)
    budget = second.client.get("/v1/budget", headers=second.headers()).json()
    assert budget["spent"]["epsilon"] == pytest.approx(0.6)
    refused = second.query("SELECT SUM(age) FROM employees", epsilon=0.6, delta=0)
    assert refused.json()["error"]["code"] == "budget_exhausted"
    verify = second.client.get("/v1/ledger/verify", headers=second.headers("carl")).json()
    assert verify["ok"] is True and verify["entries"] >= 2


BAD_INPUT = [
    ({"sql": ""}, 400, "parse_error"),
    ({"sql": "SELECT COUNT(*) FROM employees; SELECT 1"}, 400, "unsupported_query"),
    ({"sql": "SELECT * FROM employees"}, 400, "unsupported_query"),
    ({"sql": "SELECT COUNT(*) FROM salaries"}, 400, "unsupported_query"),
    ({"sql": "SELECT SUM(bonus) FROM employees"}, 400, "unsupported_query"),
    # (GROUP BY a column without public keys is answered by partition selection when δ > 0)
    ({"sql": "SELECT id, COUNT(*) FROM employees GROUP BY id"}, 400, "unsupported_query"),
    ({"sql": "SELECT COUNT(*) FROM employees", "epsilon": -1}, 400, "invalid_parameter"),
    ({"sql": "SELECT COUNT(*) FROM employees", "epsilon": 0}, 400, "invalid_parameter"),
    ({"sql": "SELECT COUNT(*) FROM employees", "epsilon": "abc"}, 400, "invalid_parameter"),
    ({"sql": "SELECT COUNT(*) FROM employees", "epsilon": 1e300}, 400, "invalid_parameter"),
    ({"sql": "SELECT COUNT(*) FROM employees", "delta": 1}, 400, "invalid_parameter"),
    ({"sql": "SELECT COUNT(*) FROM employees", "delta": -0.1}, 400, "invalid_parameter"),
    ({"sql": "SELECT COUNT(*) FROM employees", "colour": "red"}, 400, "invalid_parameter"),
    ({"epsilon": 0.1}, 400, "invalid_parameter"),
    ({"sql": 42}, 400, "invalid_parameter"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_INPUT)
def test_bad_input_gets_its_documented_code(proxy: Proxy, body: Any, status: int,
                                            code: str) -> None:
    response = proxy.client.post("/v1/query", json=body, headers=proxy.headers())
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert len(error["message"]) > 10
    assert "Traceback" not in response.text


def test_nan_epsilon_is_invalid(proxy: Proxy) -> None:
    response = proxy.client.post(
        "/v1/query", content=b'{"sql": "SELECT COUNT(*) FROM employees", "epsilon": NaN}',
        headers={**proxy.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"


def test_malformed_json_is_invalid(proxy: Proxy) -> None:
    response = proxy.client.post("/v1/query", content=b'{"sql": ',
                                 headers={**proxy.headers(), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_missing_or_wrong_key_is_unauthenticated(proxy: Proxy, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = proxy.client.post("/v1/query", json={"sql": "SELECT COUNT(*) FROM employees"},
                                 headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_roles_are_enforced(proxy: Proxy) -> None:
    as_owner = proxy.query("SELECT COUNT(*) FROM employees", who="olivia")
    assert as_owner.status_code == 403 and as_owner.json()["error"]["code"] == "forbidden"
    as_analyst = proxy.client.get("/v1/ledger/verify", headers=proxy.headers())
    assert as_analyst.status_code == 403


def test_unknown_route_and_method_use_the_error_shape(proxy: Proxy) -> None:
    missing = proxy.client.get("/v1/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = proxy.client.get("/v1/query")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_refusal_carries_position(proxy: Proxy) -> None:
    response = proxy.query("SELECT name FROM employees")
    error = response.json()["error"]
    assert error["code"] == "unsupported_query"
    assert error["position"] == {"line": 1, "column": 8}


def test_an_expression_of_k_noisy_aggregates_takes_each_at_one_minus_005_over_k(
    proxy: Proxy,
) -> None:
    """`b` reads two noisy aggregates (the count only through `0 *`), so its SUM is
    taken at 97.5 % to keep the whole at 95 %: wider than `a`, which reads one."""
    body = proxy.query("SELECT SUM(salary) * 1 AS a, SUM(salary) + 0 * COUNT(*) AS b "
                       "FROM employees").json()
    half = {acc["column"]: acc["ci95_halfwidths"][0] for acc in body["accuracy"]}
    # Laplace: ln(40) / ln(20) = 1.23; Gaussian: z(0.9875) / z(0.975) = 1.14
    assert 1.05 * half["a"] < half["b"] < 1.4 * half["a"], half
