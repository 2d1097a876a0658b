"""Answers whose shape or cost could leak, and (ε, δ) tricks, on both engines.

- An empty selection answers with the same shape as a full one: every public
  key, one row when ungrouped, noised counts (SPEC §4.4).
- Differencing (two queries that differ by one person) is not refused: it is
  answered twice, each time with noise, and charged twice; the budget is the
  defence, so both answers must carry noise of positive scale.
- Repeating a query returns the first answer, marked cached and free (§4.5).
- ε and δ that are tiny, huge, NaN, infinite, strings or booleans are refused
  with `invalid_parameter`, never a 500 (§3).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import Proxy
from tests.security.support import check_body, check_error_shape

GROUPED = ("SELECT dept, COUNT(*) AS n, SUM(salary) AS s, AVG(age) AS a FROM employees{} "
           "GROUP BY dept")
UNGROUPED = "SELECT COUNT(*) AS n, SUM(salary) AS s, AVG(age) AS a FROM employees{}"


def _budget(proxy: Proxy) -> dict[str, Any]:
    response = proxy.client.get("/v1/budget", headers=proxy.headers())
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("template", [GROUPED, UNGROUPED], ids=["grouped", "ungrouped"])
def test_empty_selection_has_the_same_shape(shared_proxy: Proxy, private_values: Any,
                                            truth: Any, template: str) -> None:
    full_sql = template.format(" WHERE age >= 16")
    empty_sql = template.format(" WHERE age > 1000")
    full = check_body(shared_proxy.query(full_sql, epsilon=0.5), full_sql, private_values)
    empty = check_body(shared_proxy.query(empty_sql, epsilon=0.5), empty_sql, private_values)
    assert full["columns"] == empty["columns"]
    assert len(full["rows"]) == len(empty["rows"])
    assert [a["column"] for a in full["accuracy"]] == [a["column"] for a in empty["accuracy"]]
    # one noisy measure: its scale is the noise's, data-independent; AVG's is propagated
    # through the group's *noisy* count (post-processing), so it may differ
    exact = [(a["column"], a["scale"]) for a in full["accuracy"] if not a["approximate"]]
    assert exact and exact == [(a["column"], a["scale"]) for a in empty["accuracy"]
                               if not a["approximate"]]
    if template is GROUPED:
        assert [r[0] for r in empty["rows"]] == truth["departments"]
    else:
        assert len(empty["rows"]) == 1
    for row in empty["rows"]:
        n, a = row[-3], row[-1]
        assert n >= 0 and 16 <= a <= 100, row  # clamped count, AVG within bounds
    assert all(type(x) is type(y) or {type(x), type(y)} <= {int, float}
               for r, s in zip(full["rows"], empty["rows"], strict=True)
               for x, y in zip(r, s, strict=True))


def test_differencing_pair_is_answered_with_noise_and_charged_twice(
    shared_proxy: Proxy, private_values: Any
) -> None:
    before = _budget(shared_proxy)["spent"]["epsilon"]
    sqls = ["SELECT SUM(salary) AS d1 FROM employees WHERE age BETWEEN 16 AND 100",
            "SELECT SUM(salary) AS d1 FROM employees WHERE age BETWEEN 16 AND 100 AND id <> 17"]
    answers = [check_body(shared_proxy.query(s, epsilon=0.25), s, private_values) for s in sqls]
    for a in answers:
        assert a["cached"] is False
        assert a["charged"]["epsilon"] == 0.25
        assert a["accuracy"][0]["scale"] >= 250000 / 0.25 / 10  # the noise hides one salary
    assert _budget(shared_proxy)["spent"]["epsilon"] > before  # composed, never free
    # The difference of the two answers is dominated by noise, not by salary 17:
    # with σ ≫ 250 000 two independent draws are almost never within 1 of each other
    # plus the true difference; with noise absent they would differ by ≤ 250 000.
    diff = abs(answers[0]["rows"][0][0] - answers[1]["rows"][0][0])
    assert diff != 0.0


def test_repeated_query_is_the_cached_answer(shared_proxy: Proxy, private_values: Any) -> None:
    sql = "SELECT dept, COUNT(*) AS repeat_n FROM employees WHERE age > 40 GROUP BY dept"
    first = check_body(shared_proxy.query(sql, epsilon=0.3), sql, private_values)
    spent = _budget(shared_proxy)["spent"]["epsilon"]
    variants = [sql, sql.lower(), sql + " -- again", "  " + sql.replace(" ", "\n") + ";"]
    for variant in variants:
        again = check_body(shared_proxy.query(variant, epsilon=0.3), variant, private_values)
        assert again["cached"] is True, variant
        assert again["rows"] == first["rows"]
        assert (again["charged"]["epsilon"], again["charged"]["delta"]) == (0.0, 0.0)
    assert _budget(shared_proxy)["spent"]["epsilon"] == spent
    # another ε is another question: a new draw, charged
    other = check_body(shared_proxy.query(sql, epsilon=0.31), sql, private_values)
    assert other["cached"] is False


def test_refusals_charge_nothing(shared_proxy: Proxy, private_values: Any) -> None:
    before = _budget(shared_proxy)["spent"]
    for sql in ["SELECT name FROM employees", "SELECT MAX(name) FROM employees",
                "SELECT COUNT(*) FROM employees WHERE md5(name) = 'abc'", "SET threads = 1"]:
        response = shared_proxy.query(sql, epsilon=1.0)
        assert response.status_code == 400
        check_body(response, sql, private_values)
    assert _budget(shared_proxy)["spent"] == before


BAD_PARAMETERS: list[Any] = [
    # (id, raw JSON fragment for the parameters)
    ("eps-zero", '"epsilon": 0'),
    ("eps-negative", '"epsilon": -1'),
    ("eps-negative-zero", '"epsilon": -0.0'),
    ("eps-huge", '"epsilon": 1e300'),
    ("eps-above-cap", '"epsilon": 10.000001'),
    ("eps-overflow", '"epsilon": 1e999'),
    ("eps-nan", '"epsilon": NaN'),
    ("eps-infinity", '"epsilon": Infinity'),
    ("eps-minus-infinity", '"epsilon": -Infinity'),
    ("eps-nan-string", '"epsilon": "NaN"'),
    ("eps-inf-string", '"epsilon": "inf"'),
    ("eps-text", '"epsilon": "a lot"'),
    ("eps-bool", '"epsilon": true'),
    ("eps-numeric-string", '"epsilon": "0.1"'),
    ("eps-list", '"epsilon": [0.1]'),
    ("eps-object", '"epsilon": {"value": 0.1}'),
    ("eps-huge-int", '"epsilon": ' + "9" * 400),
    ("delta-one", '"epsilon": 0.1, "delta": 1'),
    ("delta-negative", '"epsilon": 0.1, "delta": -1e-9'),
    ("delta-nan", '"epsilon": 0.1, "delta": NaN'),
    ("delta-above-cap", '"epsilon": 0.1, "delta": 0.5'),
    ("delta-zero-zcdp", '"epsilon": 0.1, "delta": 0'),
    ("delta-text", '"epsilon": 0.1, "delta": "tiny"'),
    ("unknown-field", '"epsilon": 0.1, "noise": false'),
    ("unknown-field-seed", '"epsilon": 0.1, "seed": 42'),
]


@pytest.mark.parametrize("fragment", [
    p if hasattr(p, "marks") else pytest.param(p[1], id=p[0]) for p in BAD_PARAMETERS
])
def test_bad_privacy_parameters_are_refused(shared_proxy: Proxy, private_values: Any,
                                            fragment: str) -> None:
    before = _budget(shared_proxy)["spent"]
    sql = "SELECT COUNT(*) FROM employees WHERE id = 17"
    body = '{"sql": ' + json.dumps(sql) + ", " + fragment + "}"
    response = shared_proxy.client.post(
        "/v1/query", content=body.encode(),
        headers={**shared_proxy.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400, (fragment, response.text)
    error = check_body(response, sql, private_values)
    assert error["error"]["code"] == "invalid_parameter", error
    assert _budget(shared_proxy)["spent"] == before


@pytest.mark.parametrize("epsilon", [1e-9, 1e-30, 1e-300, 5e-324])
def test_tiny_epsilon_is_refused_or_buys_enormous_noise(
    shared_proxy: Proxy, private_values: Any, epsilon: float
) -> None:
    sql = f"SELECT COUNT(*) AS tiny_{abs(hash(epsilon)) % 1000} FROM employees WHERE id = 17"
    before = _budget(shared_proxy)["spent"]
    response = shared_proxy.query(sql, epsilon=epsilon)
    body = check_body(response, sql, private_values)
    if response.status_code == 200:
        assert body["accuracy"][0]["scale"] >= 1 / epsilon / 10
    else:
        assert body["error"]["code"] == "invalid_parameter", body
        assert _budget(shared_proxy)["spent"] == before, "a refused query must cost nothing"


def test_unauthenticated_and_wrong_role_get_the_error_shape(shared_proxy: Proxy) -> None:
    sql = {"sql": "SELECT COUNT(*) FROM employees"}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}):
        response = shared_proxy.client.post("/v1/query", json=sql, headers=headers)
        assert response.status_code == 401, response.text
        check_error_shape(response.json())
        assert response.json()["error"]["code"] == "unauthenticated"
    response = shared_proxy.client.post("/v1/query", json=sql,
                                        headers=shared_proxy.headers("carl"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_explain_of_adversarial_query_leaks_nothing(shared_proxy: Proxy,
                                                    private_values: Any) -> None:
    for sql in ["SELECT COUNT(*) FROM employees WHERE name = pg_read_file('/etc/passwd')",
                "SELECT name FROM employees", "SELECT COUNT(*) FROM employees WHERE id = 17"]:
        response = shared_proxy.explain(sql, epsilon=0.1)
        check_body(response, sql, private_values) if response.status_code != 200 else None
        assert response.status_code in (200, 400)


def test_tiny_epsilon_sum_is_not_pinned_to_the_integer_limit(shared_proxy: Proxy) -> None:
    grid = 4  # SUM(salary): bounds [0, 250000] -> grid scale 2**2 (rewriter/plan.py)
    for tag in range(2):
        sql = f"SELECT SUM(salary) AS pinned{tag} FROM employees"
        response = shared_proxy.query(sql, epsilon=1e-15)
        assert response.status_code in (200, 400), response.text
        if response.status_code == 400:
            continue
        value = response.json()["rows"][0][0]
        assert abs(abs(value * grid) - 2**63) > 1e12, (
            f"answer {value} sits at the i64 limit: truth = answer - (2**63-1)/{grid}")
