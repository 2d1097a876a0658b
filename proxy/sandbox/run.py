"""The sandbox's query path: the real pipeline's stages, on the twin, charging nothing.

    parameters → plan (parse, validate, rewrite) → price      (Pipeline.prepare)
    → rewritten SQL for the data engine's dialect             (same refusals)
    → execute on the twin → release: exact, and noisy draws   (proxy.release)

Never called: the answer cache and ``ledger.charge``. The ledger is only read,
for the analyst's remaining budget.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction
from typing import Any

from accountant import Cost, InvalidParameter, NoiseSpec, to_fraction
from accountant.ledger.records import BudgetStatus
from accountant.mechanisms.quantile import QuantileSpec
from rewriter import Catalog, Plan

from ..affordable import MAX_AFFORDABLE, affordable
from ..calibrate import Calibrated, price
from ..pipeline import Pipeline, rewritten_sql
from ..public_answer import answer_public, explain_public
from ..release import Released, release
from ..respond import accuracy_info, bounding_info, charge_of, dataset_spend, spend
from ..schemas import ColumnInfo, QueryRequest, Spend
from .schemas import (
    EpsilonRow,
    ErrorAtEpsilon,
    PlotSeries,
    RealCost,
    SandboxDraw,
    SandboxExplainResponse,
    SandboxQueryResponse,
    SandboxRequest,
    TwinInfo,
)
from .store import Twin, TwinStore

__all__ = ["EPSILON_GRID", "Sandbox", "affordable", "noiseless", "twin_info"]

EPSILON_GRID = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
TABLE_DRAWS = 20


def noiseless(calibrated: dict[str, Calibrated]) -> dict[str, Calibrated]:
    """The same measures without noise (quantiles: a selection cold enough to be the
    exact bin), for the twin's exact answer. Never used on real data."""
    out = {}
    for name, c in calibrated.items():
        noise: NoiseSpec | QuantileSpec
        if isinstance(c.noise, QuantileSpec):
            noise = replace(c.noise, scale=Fraction(1, 10**9))
        else:
            noise = NoiseSpec(c.noise.mechanism, Fraction(0))
        out[name] = replace(c, noise=noise)
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def cell_errors(plan: Plan, exact: list[list[Any]], draws: list[list[list[Any]]]
                ) -> dict[str, list[float]]:
    """|draw − exact| per noisy output, over the rows both have (matched by their keys)."""
    keys = [i for i, o in enumerate(plan.outputs) if o.kind == "key"]
    noisy = [i for i, o in enumerate(plan.outputs) if o.kind != "key" and o.measures]
    by_key = {tuple(row[i] for i in keys): row for row in exact} if keys else {}
    errors: dict[str, list[float]] = {plan.outputs[i].name: [] for i in noisy}
    for rows in draws:
        for n, row in enumerate(rows):
            truth = by_key.get(tuple(row[i] for i in keys)) if keys else (
                exact[n] if n < len(exact) else None)
            if truth is None:
                continue
            for i in noisy:
                a, b = _number(row[i]), _number(truth[i])
                if a is not None and b is not None:
                    errors[plan.outputs[i].name].append(abs(a - b))
    return errors


def _percentile95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


class Sandbox:
    """Answers `/v1/sandbox/*` for one deployment."""

    def __init__(self, store: TwinStore) -> None:
        self.store = store

    def close(self) -> None:
        self.store.close()

    def _run(self, pipeline: Pipeline, request: QueryRequest, catalog: Catalog
             ) -> tuple[Plan, Cost, dict[str, Calibrated], int | None, Twin, Any]:
        plan, cost, calibrated, selection = pipeline.prepare(request, catalog)
        rewritten_sql(plan, pipeline.engine.dialect)  # refuses exactly where /v1/query does
        twin = self.store.twin(catalog)
        result = twin.engine.execute(rewritten_sql(plan, twin.engine.dialect))
        return plan, cost, calibrated, selection.threshold if selection else None, twin, result

    def _real(self, pipeline: Pipeline, analyst: str, request: QueryRequest,
              cost: Cost) -> tuple[RealCost, BudgetStatus]:
        status = pipeline.ledger.status(analyst, pipeline.clock())
        blocked = status.blocked_by(cost)
        return RealCost(
            charge=charge_of(cost, status.share_of(cost)),
            chosen_epsilon=float(cost.epsilon) if request.accuracy else None,
            fits_budget=blocked is None, blocked_by=blocked, remaining=spend(status.remaining),
            dataset_remaining=dataset_spend(status), affordable=affordable(status, cost),
            promote=QueryRequest(sql=request.sql, epsilon=float(cost.epsilon),
                                 delta=float(cost.delta)),
        ), status

    def query(self, pipeline: Pipeline, analyst: str,
              request: SandboxRequest) -> SandboxQueryResponse:
        catalog = pipeline.catalog  # one catalog for the whole request
        public = pipeline.public(request, catalog)
        if public is not None:  # public tables only: exact and free, on the twin's copies
            twin = self.store.twin(catalog)
            answer = answer_public(public, twin.engine, pipeline.ledger, pipeline.clock,
                                   analyst)
            return SandboxQueryResponse(
                columns=answer.columns, exact_rows=answer.rows, draws=[], accuracy=[],
                real=RealCost(charge=answer.charged, fits_budget=True,
                              remaining=answer.remaining,
                              dataset_remaining=answer.dataset_remaining,
                              affordable=MAX_AFFORDABLE,
                              promote=QueryRequest(sql=request.sql)),
                twin=twin_info(twin))
        plan, cost, calibrated, threshold, twin, result = self._run(pipeline, request, catalog)
        exact = release(plan, result, noiseless(calibrated), threshold)
        draws = [release(plan, result, calibrated, threshold) for _ in range(request.draws)]
        real, _ = self._real(pipeline, analyst, request, cost)
        first = draws[0]
        return SandboxQueryResponse(
            columns=[ColumnInfo(name=o.name, type=o.type) for o in plan.outputs],
            exact_rows=exact.rows,
            draws=[SandboxDraw(rows=d.rows, accuracy=_accuracy(d)) for d in draws],
            accuracy=_accuracy(first), bounding=bounding_info(first.bounding),
            real=real, twin=twin_info(twin),
        )

    def explain(self, pipeline: Pipeline, analyst: str,
                request: SandboxRequest) -> SandboxExplainResponse:
        """What ε do I need: ε → error on the twin, the asked ε and the target's pick."""
        catalog = pipeline.catalog  # one catalog for the whole request
        public = pipeline.public(request, catalog)
        if public is not None:  # public tables only: no ε to choose
            plan_public = explain_public(public, pipeline.engine.dialect,
                                         pipeline.privacy.accounting,
                                         pipeline.ledger.status(analyst, pipeline.clock()))
            twin = self.store.twin(catalog)
            return SandboxExplainResponse(
                plan=plan_public, epsilon_table=[], plot=[], asked_epsilon=0.0,
                remaining=plan_public.remaining, dataset_remaining=plan_public.dataset_remaining,
                affordable=MAX_AFFORDABLE, twin=twin_info(twin))
        plan_info = pipeline.explain(analyst, request, catalog)
        plan, cost, calibrated, threshold, twin, result = self._run(pipeline, request, catalog)
        real, status = self._real(pipeline, analyst, request, cost)
        exact = release(plan, result, noiseless(calibrated), threshold).rows
        # ε as people write it (0.1 is 1/10), so that 10 × 0.1 fits a budget of 1
        cap = to_fraction(pipeline.privacy.max_epsilon)
        grid = sorted({e for e in map(to_fraction, EPSILON_GRID) if e <= cap} | {cost.epsilon})
        draws = max(request.draws, TABLE_DRAWS)
        table: list[EpsilonRow] = []
        for eps in grid:
            row = self._row(plan, pipeline, status, result, exact, eps, cost.delta, threshold,
                            draws)
            row.asked = eps == cost.epsilon
            row.accuracy_pick = row.asked and request.accuracy is not None
            table.append(row)
        columns = [o.name for o in plan.outputs if o.kind != "key" and o.measures]
        plot = [PlotSeries(
            column=c, epsilon=[r.epsilon for r in table if r.refused is None],
            ci95_halfwidth=[_error(r, c).ci95_halfwidth for r in table if r.refused is None],
            observed_error95=[_error(r, c).observed_error95 for r in table if r.refused is None],
        ) for c in columns]
        return SandboxExplainResponse(
            plan=plan_info, epsilon_table=table, plot=plot, asked_epsilon=float(cost.epsilon),
            accuracy_pick=float(cost.epsilon) if request.accuracy else None,
            remaining=real.remaining, dataset_remaining=real.dataset_remaining,
            affordable=real.affordable, twin=twin_info(twin),
        )

    def _row(self, plan: Plan, pipeline: Pipeline, status: BudgetStatus, result: Any,
             exact: list[list[Any]], epsilon: Fraction, delta: Fraction,
             threshold: int | None, draws: int) -> EpsilonRow:
        accounting = pipeline.privacy.accounting
        try:
            priced = price(plan, accounting, epsilon, delta)
        except InvalidParameter as exc:
            return EpsilonRow(epsilon=float(epsilon), charge=Spend(epsilon=float(epsilon),
                              delta=float(delta)), fits_budget=False, affordable=0,
                              refused=exc.message)
        cost = priced.cost
        at = priced.selection.threshold if priced.selection else threshold
        released = [release(plan, result, priced.calibrated, at) for _ in range(draws)]
        errors = cell_errors(plan, exact, [r.rows for r in released])
        widest: dict[str, list[float]] = {}
        ranks: dict[str, float | None] = {}
        for r in released:
            for a in r.accuracy:
                if a.ci95_halfwidth is not None:
                    widest.setdefault(a.column, []).append(a.ci95_halfwidth)
                ranks[a.column] = a.rank_halfwidth
        return EpsilonRow(
            epsilon=float(epsilon), charge=Spend(epsilon=float(cost.epsilon),
                                                 delta=float(cost.delta)),
            fits_budget=status.blocked_by(cost) is None, affordable=affordable(status, cost),
            errors=[ErrorAtEpsilon(
                column=name,
                # the median over the draws of the widest stated interval
                ci95_halfwidth=sorted(widest[name])[len(widest[name]) // 2]
                if widest.get(name) else None,
                rank_halfwidth=ranks.get(name), observed_error95=_percentile95(values),
            ) for name, values in errors.items()],
        )


def twin_info(twin: Twin) -> TwinInfo:
    return TwinInfo(people=twin.people, rows=twin.rows, marginals=list(twin.marginals))


def _error(row: EpsilonRow, column: str) -> ErrorAtEpsilon:
    return next((e for e in row.errors if e.column == column), ErrorAtEpsilon(column=column))


def _accuracy(released: Released) -> list[Any]:
    return [accuracy_info(a, released.bounding) for a in released.accuracy]
