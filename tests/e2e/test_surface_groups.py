"""GROUP BY expressions and partition selection through the HTTP API, on both
engines: CASE buckets with literal outputs have public keys; keys without public
keys are released only through partition selection, which needs δ > 0 and hides
groups of too few people, under pure accounting and under zCDP (where the
selection's δ is charged as an additive δ beside ρ)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from accountant import epsilon_from_rho, rho_for, to_fraction

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
    assert (body["charged"]["epsilon"], body["charged"]["delta"]) == (1.0, 1e-6)


def test_groups_of_a_few_people_are_hidden(rich: Proxy) -> None:
    # No hiring date is shared by more than 4 of the demo's people, and most by
    # one. (Salaries were used here once, but 9 people share the commonest one,
    # and a group of 9 passes a threshold near 15 often enough to fail CI.)
    sql = "SELECT hired, COUNT(*) FROM employees GROUP BY hired"
    threshold = rich.explain(sql, epsilon=1.0, delta=1e-6).json()["selection_threshold"]
    assert threshold > 10  # a 4-person group needs noise beyond 6 scales to pass
    body = rich.query(sql, epsilon=1.0, delta=1e-6).json()
    assert body["rows"] == []


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


# -- under zCDP (the demo's accounting): approximate zCDP --------------------

YEARS = "SELECT YEAR(hired) AS y, COUNT(*) AS n FROM employees GROUP BY y ORDER BY y"


def test_zcdp_selection_is_answered_charged_and_explained(make_proxy: Any) -> None:
    proxy = make_proxy()  # the demo config: zCDP, alice (3, 1e-6)
    plan = proxy.explain(YEARS, epsilon=1.0, delta=1e-6).json()
    assert plan["accounting"] == "zcdp" and plan["fits_budget"] is True
    assert plan["selection_threshold"] > 1
    assert 0 < plan["selection_delta"] < 1e-6
    assert plan["selection_delta"] + plan["conversion_delta"] == pytest.approx(1e-6, rel=1e-12)
    assert (plan["charge"]["epsilon"], plan["charge"]["delta"]) == (1.0, 1e-6)
    body = proxy.query(YEARS, epsilon=1.0, delta=1e-6).json()
    years = [row[0] for row in body["rows"]]
    assert years and years == sorted(years) and all(1990 <= y <= 2030 for y in years)
    assert (body["charged"]["epsilon"], body["charged"]["delta"]) == (1.0, 1e-6)

    # the ledger holds the exact split: δ_add beside ρ, ρ priced on the rest of δ
    page = proxy.client.get("/v1/ledger", params={"kind": "charge"},
                            headers=proxy.headers("carl")).json()
    entry = page["entries"][-1]
    detail = entry["detail"]["partition_selection"]
    delta_add = Fraction(entry["delta_add"])
    assert delta_add == to_fraction(detail["delta"]) > 0
    assert delta_add + to_fraction(detail["conversion_delta"]) == to_fraction(entry["delta"])
    assert detail["threshold"] == plan["selection_threshold"]
    conversion = to_fraction(entry["delta"]) - delta_add
    assert to_fraction(entry["rho"]) == rho_for(Fraction(1), conversion)
    assert float(plan["rho"]) == pytest.approx(float(entry["rho"]), rel=1e-5)  # 6 digits
    assert float(delta_add) == plan["selection_delta"]
    assert proxy.client.get("/v1/ledger/verify", headers=proxy.headers("carl")).json()["ok"]

    # the budget shows the additive δ as spent: what is left to convert ρ is δ_B − δ_add;
    # spent ε is the ε of the ρ at that δ (rounded up), and remaining the grant less it
    budget = proxy.client.get("/v1/budget", headers=proxy.headers()).json()
    assert budget["spent"]["delta"] == float(delta_add)
    assert budget["remaining"]["delta"] == float(Fraction(1, 10**6) - delta_add)
    assert budget["dataset"]["remaining"]["delta"] == float(Fraction(1, 10**5) - delta_add)
    left = Fraction(1, 10**6) - delta_add
    spent = epsilon_from_rho(to_fraction(entry["rho"]), left, "up")
    assert spent <= to_fraction(budget["spent"]["epsilon"]) < spent + Fraction(1, 10**5)
    assert to_fraction(budget["spent"]["epsilon"]) + to_fraction(
        budget["remaining"]["epsilon"]) == 3
    # the query converted ρ at δ − δ_add, as the grant does now: it reads as the ε it asked
    assert budget["spent"]["epsilon"] == 1.0 and budget["share_used"] == 0.333334  # rounded up
    assert body["charged"]["share"] == budget["share_used"]


def test_zcdp_selection_stops_when_its_additive_delta_would_reach_the_grant(
    make_proxy: Any,
) -> None:
    proxy = make_proxy()
    first = proxy.query(YEARS, epsilon=0.1, delta=1e-6)
    assert first.status_code == 200, first.text
    # alice's δ_B is 1e-6: a second selection at δ = 1e-6 would bring Σδ_add to
    # about 1e-6, leaving no δ to convert any ρ, however small its ε
    again = "SELECT YEAR(hired) AS y, COUNT(*) FROM employees GROUP BY y"
    plan = proxy.explain(again, epsilon=0.01, delta=1e-6).json()
    assert plan["fits_budget"] is False and plan["blocked_by"] == "analyst"
    refused = proxy.query(again, epsilon=0.01, delta=1e-6)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "budget_exhausted"
    # a plain query (no additive δ) still fits what ρ is left
    plain = proxy.query("SELECT COUNT(*) FROM employees", epsilon=0.1, delta=1e-7)
    assert plain.status_code == 200, plain.text
    # a selection with a small enough δ fits too
    small = proxy.query(again, epsilon=0.1, delta=1e-7)
    assert small.status_code == 200, small.text
    # a δ above the per-query cap is refused as a parameter, before any budget check
    capped = proxy.query(again, epsilon=0.1, delta=1e-5)
    assert capped.status_code == 400
    assert capped.json()["error"]["code"] == "invalid_parameter"
