"""GROUP BY expressions and partition selection through the HTTP API, on both
engines: CASE buckets with literal outputs have public keys; keys without public
keys are released only through partition selection, which needs δ > 0 and hides
groups of too few people."""

from __future__ import annotations

from typing import Any

from .conftest import Proxy


def test_case_bucket_keys_are_its_literals(rich: Proxy) -> None:
    body = rich.query("SELECT CASE WHEN age < 40 THEN 'young' WHEN age < 60 THEN 'middle' "
                      "ELSE 'senior' END AS band, COUNT(*) AS n FROM employees GROUP BY band",
                      epsilon=1.0).json()
    assert [row[0] for row in body["rows"]] == ["young", "middle", "senior"]


def test_year_of_a_date_goes_through_partition_selection(rich: Proxy) -> None:
    sql = "SELECT YEAR(hired) AS y, COUNT(*) AS n FROM employees GROUP BY y ORDER BY y"
    plan = rich.explain(sql, epsilon=1.0, delta=1e-6).json()
    assert plan["selection_threshold"] > 1
    assert plan["selection_delta"] > 0
    body = rich.query(sql, epsilon=1.0, delta=1e-6).json()
    years = [row[0] for row in body["rows"]]
    assert years and years == sorted(years)
    assert all(isinstance(y, int) and 1990 <= y <= 2030 for y in years)
    assert body["charged"] == {"epsilon": 1.0, "delta": 1e-6}


def test_groups_of_one_person_are_hidden(rich: Proxy) -> None:
    body = rich.query("SELECT salary, COUNT(*) FROM employees GROUP BY salary",
                      epsilon=1.0, delta=1e-6).json()
    assert body["rows"] == []  # nearly every salary is one person's


def test_partition_selection_needs_delta(make_proxy: Any) -> None:
    def pure(doc: dict[str, Any]) -> None:
        doc["privacy"]["accounting"] = "pure"
        doc["privacy"].pop("dataset_budget", None)

    proxy = make_proxy(pure)
    response = proxy.query("SELECT hired, COUNT(*) FROM employees GROUP BY hired",
                           epsilon=0.5, delta=0)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unsupported_query"
    assert "δ > 0" in error["message"]
    ok = proxy.query("SELECT YEAR(hired), COUNT(*) FROM employees GROUP BY 1",
                     epsilon=0.5, delta=1e-7)
    assert ok.status_code == 200, ok.text
