"""The noise built for a query spends exactly what the query is charged (issue #27).

`proxy.charge.check_priced` recomputes each mechanism's ε or ρ from its scale and
sensitivity and refuses the query with `internal`, before the charge, when the sum
disagrees with the Cost; every ordinary query passes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest

import proxy.pipeline as pipeline_module
from accountant import Accounting, NoiseSpec
from accountant.mechanisms.quantile import QuantileSpec
from dpsql.errors import INTERNAL_MESSAGE
from proxy.calibrate import Priced, price
from proxy.charge import CalibrationMismatch, check_priced
from tests.e2e.conftest import Proxy

# one engine is enough: the check runs before any engine is asked anything
pytestmark = pytest.mark.parametrize("engine_kind", ["duckdb"], indirect=True)

QUERIES = [
    "SELECT COUNT(*) AS n, SUM(salary) AS total FROM employees",
    "SELECT AVG(salary) FROM employees WHERE age > 30",
    "SELECT salary, COUNT(*) AS n FROM employees GROUP BY salary",  # partition selection
    "SELECT MEDIAN(age) AS m, MAX(age) AS oldest FROM employees",  # quantiles
]


def _deployment(accounting: str, diagnostics: float) -> Callable[[dict[str, Any]], None]:
    def tweak(doc: dict[str, Any]) -> None:
        doc["privacy"]["accounting"] = accounting
        doc["privacy"]["diagnostics_share"] = diagnostics
    return tweak


def _spent(proxy: Proxy) -> dict[str, float]:
    body = proxy.client.get("/v1/budget", headers=proxy.headers()).json()
    return {"epsilon": body["spent"]["epsilon"], "delta": body["spent"]["delta"]}


def _charges(proxy: Proxy) -> list[Any]:
    ledger = proxy.client.app.state.services.ledger  # type: ignore[attr-defined]
    return [e for e in ledger.entries() if e.kind == "charge"]


@pytest.mark.parametrize("diagnostics", [0.0, 0.05], ids=["no-diagnostics", "diagnostics"])
@pytest.mark.parametrize("accounting", ["pure", "zcdp"])
def test_every_ordinary_query_passes_the_check(
    make_proxy: Callable[..., Proxy], monkeypatch: pytest.MonkeyPatch, accounting: str,
    diagnostics: float,
) -> None:
    proxy = make_proxy(_deployment(accounting, diagnostics))
    checked: list[Priced] = []

    def spy(priced: Priced, accounting: Accounting) -> None:
        checked.append(priced)
        check_priced(priced, accounting)

    monkeypatch.setattr(pipeline_module, "check_priced", spy)
    for sql in QUERIES:
        response = proxy.query(sql, epsilon=0.5, delta=1e-6)
        assert response.status_code == 200, (sql, response.text)
    assert len(checked) == len(QUERIES)
    assert any(p.selection is not None for p in checked)  # partition selection was priced
    assert any(isinstance(c.noise, QuantileSpec) for p in checked
               for c in p.calibrated.values())  # and a quantile
    if diagnostics:
        assert any(len(p.calibrated) > 2 for p in checked)  # diagnostics measures too


def _louder(priced: Priced) -> Priced:
    """The same price with the first mechanism's noise halved: it spends more (pure ε
    doubles, ρ quadruples) than the cost says."""
    name, first = next(iter(priced.calibrated.items()))
    noise = first.noise
    quieter = (dataclasses.replace(noise, scale=noise.scale / 2)
               if isinstance(noise, QuantileSpec) else NoiseSpec(noise.mechanism, noise.scale / 2))
    calibrated = {**priced.calibrated, name: dataclasses.replace(first, noise=quieter)}
    return dataclasses.replace(priced, calibrated=calibrated)


def _cheaper(priced: Priced) -> Priced:
    """The noise as built, against a cost of half the ε: charged less than spent."""
    cost = priced.cost
    half = dataclasses.replace(cost, epsilon=cost.epsilon / 2, rho=cost.rho / 2)
    return dataclasses.replace(priced, cost=half)


@pytest.mark.parametrize("disagree", [_louder, _cheaper])
@pytest.mark.parametrize("accounting", ["pure", "zcdp"])
@pytest.mark.parametrize("sql", [QUERIES[0], QUERIES[2], QUERIES[3]],
                         ids=["sum", "selection", "quantile"])
def test_a_calibration_that_disagrees_is_refused_before_the_charge(
    make_proxy: Callable[..., Proxy], monkeypatch: pytest.MonkeyPatch, accounting: str,
    disagree: Callable[[Priced], Priced], sql: str,
) -> None:
    proxy = make_proxy(_deployment(accounting, 0.05))
    before = _spent(proxy)
    monkeypatch.setattr(pipeline_module, "price",
                        lambda *args: disagree(price(*args)))
    for ask in (proxy.query, proxy.explain):
        response = ask(sql, epsilon=0.5, delta=1e-6)
        assert response.status_code == 500, response.text
        assert response.json() == {"error": {"code": "internal", "message": INTERNAL_MESSAGE}}
    assert _spent(proxy) == before
    assert _charges(proxy) == []


def test_the_check_names_what_disagrees(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy(_deployment("pure", 0.0))
    pipeline = proxy.client.app.state.services.pipeline  # type: ignore[attr-defined]
    from proxy.schemas import QueryRequest

    plan = pipeline.prepare(QueryRequest(sql=QUERIES[0]), pipeline.catalog).plan
    priced = price(plan, Accounting.PURE, Fraction(1, 2), Fraction(0))
    check_priced(priced, Accounting.PURE)
    with pytest.raises(CalibrationMismatch, match="mechanisms spend ε"):
        check_priced(_louder(priced), Accounting.PURE)
    with pytest.raises(CalibrationMismatch):
        check_priced(priced, Accounting.ZCDP)
