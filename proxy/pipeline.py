"""The query pipeline, callable from any front end (JSON API, Trino, UI, CLI):

    parameters → plan (parse, validate, rewrite) → cache → calibrate → charge
    → execute → noise → respond

Everything that can refuse a query happens before the charge, and the charge
is durable before the engine reads a row (SPEC §4.5). A failed or timed-out
engine run stays charged: the answer might have been computed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from accountant import (
    Accounting,
    Budget,
    Cost,
    InvalidParameter,
    Ledger,
    to_fraction,
    validate_query_parameters,
)
from accountant.budget import format_fraction
from accountant.ledger.records import BudgetStatus
from accountant.presentation import Shown, sentence
from rewriter import Catalog, Plan, QueryRefused, plan_query
from rewriter.limits import Limits
from rewriter.public import PublicQuery, public_query

from .accuracy import Accuracy
from .affordable import affordable
from .calibrate import Calibrated, Selection, price
from .diagnostics import Bounding, Estimate
from .engines.base import Engine, EngineError, EngineTimeout
from .errors import FailedAfterCharge
from .plan_cache import PlanCache
from .public_answer import answer_public, explain_public
from .release import accuracy, release
from .schemas import (
    AccuracyInfo,
    BoundingInfo,
    BudgetSide,
    Charge,
    ColumnInfo,
    EstimateInfo,
    ExplainResponse,
    OutputPlan,
    QueryRequest,
    QueryResponse,
    Spend,
)
from .target import epsilon_for

EXPLAIN_DIALECTS = ("duckdb", "postgres")
log = logging.getLogger("dpsql.pipeline")
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class PrivacyDefaults:
    accounting: Accounting
    default_epsilon: object
    default_delta: object
    max_epsilon: object
    max_delta: object
    diagnostics_share: object = 0


def spend(budget: Budget | None) -> Spend:
    if budget is None:
        return Spend(epsilon=0.0, delta=0.0)
    return Spend(epsilon=float(budget.epsilon), delta=float(budget.delta))


def dataset_spend(status: BudgetStatus) -> Spend | None:
    """What remains of the dataset-wide budget, if there is one."""
    if status.dataset_remaining is None:
        return None
    return spend(status.dataset_remaining)


def _side(shown: Shown | None, whose: Literal["analyst", "dataset"],
          expired_at: str | None = None) -> BudgetSide:
    if shown is None:
        return BudgetSide(granted=None, spent=spend(None), remaining=spend(None),
                          share_used=None, summary=sentence(None, whose))
    return BudgetSide(
        granted=spend(shown.granted), spent=spend(shown.spent),
        remaining=spend(shown.remaining),
        share_used=None if shown.share_shown is None else float(shown.share_shown),
        summary=sentence(shown, whose, expired_at=expired_at),
    )


def budget_sides(status: BudgetStatus) -> tuple[BudgetSide, BudgetSide | None]:
    """The analyst's and the dataset's budget as every front end shows them."""
    expired_at = status.expires.isoformat() if status.expired and status.expires else None
    mine = _side(status.shown, "analyst", expired_at)
    theirs = None if status.dataset_shown is None else _side(status.dataset_shown, "dataset")
    return mine, theirs


def charge_of(cost: Cost, shares: tuple[Fraction | None, Fraction | None]) -> Charge:
    mine, theirs = shares
    return Charge(epsilon=float(cost.epsilon), delta=float(cost.delta),
                  share=None if mine is None else float(mine),
                  dataset_share=None if theirs is None else float(theirs))


def rewritten_sql(plan: Plan, dialect: str) -> str:
    """The plan's SQL for an engine, generated before anything is charged: a tree
    deep enough to exhaust the generator's recursion is refused, not failed."""
    try:
        return plan.sql(dialect)
    except RecursionError:
        raise QueryRefused(
            "the rewritten query nests too deeply to be generated (each arithmetic step "
            "adds clamps and casts around its operands); simplify the expression or split "
            "it over several queries"
        ) from None


def new_query_id() -> str:
    """Sortable by time (milliseconds), unguessable after that."""
    return f"q_{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


def _with_dp_options(request: QueryRequest, plan: Plan) -> QueryRequest:
    """The request with the ε and δ of Google's `WITH DIFFERENTIAL_PRIVACY OPTIONS(…)`;
    a request naming other values is refused rather than one silently winning."""
    options = plan.dp_options
    if options is None:
        return request
    update: dict[str, Any] = {}
    for name, value in (("epsilon", options.epsilon), ("delta", options.delta)):
        if value is None:
            continue
        asked = getattr(request, name)
        if asked is not None and to_fraction(asked) != value:
            raise InvalidParameter(
                f"the query's OPTIONS say {name} = {format_fraction(value)} but the request "
                f"says {asked}; name it in one place")
        update[name] = value
    return request.model_copy(update=update) if update else request


class Pipeline:
    def __init__(
        self,
        *,
        catalog: Catalog,
        engine: Engine,
        ledger: Ledger,
        privacy: PrivacyDefaults,
        clock: Clock = utc_now,
        input_dialect: str | None = None,
        limits: Limits | None = None,
        log_details: bool = False,
    ) -> None:
        self.catalog = catalog
        self.engine = engine
        self.ledger = ledger
        self.privacy = privacy
        self.clock = clock
        self.input_dialect = input_dialect
        self.limits = limits or Limits()
        self.log_details = log_details  # logging.engine_errors: may expose stored values
        self.plans = PlanCache()  # plans depend on the text and metadata only (plan_cache)

    # -- stages ------------------------------------------------------------

    def _parameters(self, request: QueryRequest) -> tuple[Fraction, Fraction]:
        if request.accuracy is not None and request.epsilon is not None:
            raise InvalidParameter(
                "give either epsilon or an accuracy target, not both: with a target dpsql "
                "picks the smallest epsilon that meets it"
            )
        epsilon = self.privacy.default_epsilon if request.epsilon is None else request.epsilon
        delta = self.privacy.default_delta if request.delta is None else request.delta
        return validate_query_parameters(
            epsilon, delta, max_epsilon=self.privacy.max_epsilon, max_delta=self.privacy.max_delta
        )

    def _prepare(self, request: QueryRequest) -> tuple[Plan, Cost, dict[str, Calibrated]]:
        plan, cost, calibrated, _ = self._prepare_all(request)
        return plan, cost, calibrated

    def _prepare_all(
        self, request: QueryRequest
    ) -> tuple[Plan, Cost, dict[str, Calibrated], Selection | None]:
        # planned first: Google's OPTIONS(…) in the text may name ε and δ
        plan = self._plan(request.sql)
        epsilon, delta = self._parameters(_with_dp_options(request, plan))
        if plan.selection and delta <= 0:
            hidden = [c for c, d in zip(plan.shape.group_columns, plan.shape.declared,
                                        strict=True) if d is None]
            raise QueryRefused(
                f"GROUP BY {', '.join(hidden)}: no public keys are declared, so groups can be "
                "released only through partition selection, which needs δ > 0; ask again with "
                "a positive delta, or ask the data owner to declare `public_keys`"
            )
        accounting = self.privacy.accounting
        if accounting is Accounting.PURE and not plan.selection:
            # No pure mechanism but partition selection uses δ: charge none (SPEC §4.5,
            # "δ only where one needs it"). zCDP always needs δ to turn ρ into ε.
            delta = Fraction(0)
        if request.accuracy is not None:
            epsilon = epsilon_for(plan, request.accuracy.ci95_halfwidth, delta, accounting,
                                  to_fraction(self.privacy.max_epsilon))
        # Under zCDP, selection's δ_sel is charged as an additive δ beside ρ
        # (approximate zCDP; see calibrate.price), which the ledger sums.
        priced = price(plan, accounting, epsilon, delta)
        return plan, priced.cost, priced.calibrated, priced.selection

    def _plan(self, sql: str) -> Plan:
        share, catalog = to_fraction(self.privacy.diagnostics_share), self.catalog
        return self.plans.get(
            catalog, ("plan", sql, self.input_dialect, self.limits, share),
            lambda: plan_query(sql, catalog, self.input_dialect, self.limits, share))

    def _engine_sql(self, sql: str, plan: Plan, dialect: str) -> str:
        """The plan's SQL for an engine (see `rewritten_sql`), cached beside the plan."""
        share = to_fraction(self.privacy.diagnostics_share)
        return self.plans.get(
            self.catalog, ("sql", sql, self.input_dialect, self.limits, share, dialect),
            lambda: rewritten_sql(plan, dialect))

    @staticmethod
    def cache_key(plan: Plan, cost: Cost) -> str:
        text = json.dumps(
            [plan.normalized_sql, format_fraction(cost.epsilon), format_fraction(cost.delta)]
        )
        return hashlib.sha256(text.encode()).hexdigest()

    # -- entry points ------------------------------------------------------

    def _public(self, request: QueryRequest) -> PublicQuery | None:
        """The exact plan of a query over public tables only (free, no noise)."""
        self._parameters(request)  # the same parameter rules for every query
        sql, catalog = request.sql, self.catalog
        return self.plans.get(
            catalog, ("public", sql, self.input_dialect, self.limits),
            lambda: public_query(sql, catalog, self.input_dialect, self.limits))

    def query(self, analyst: str, request: QueryRequest) -> QueryResponse:
        public = self._public(request)
        if public is not None:
            return answer_public(public, self, analyst)
        plan, cost, calibrated, selection = self._prepare_all(request)
        key = self.cache_key(plan, cost)
        cached = self.ledger.cached_answer(analyst, key)
        if cached is not None:
            # The same question at the same (ε, δ) gets the same answer, free:
            # asking again must not let anyone average the noise away.
            status = self.ledger.status(analyst, self.clock())
            answer = QueryResponse.model_validate(cached)
            mine, theirs = budget_sides(status)
            return answer.model_copy(update={
                "charged": free_charge(status),
                "remaining": spend(status.remaining),
                "dataset_remaining": dataset_spend(status),
                "budget": mine,
                "dataset_budget": theirs,
                "cached": True,
            })

        # may refuse: before the charge
        engine_sql = self._engine_sql(request.sql, plan, self.engine.dialect)
        query_id = new_query_id()
        receipt = self.ledger.charge(
            analyst, cost, query_id=query_id, sql=plan.normalized_sql,
            detail=self._charge_detail(plan, cost, calibrated, selection), now=self.clock(),
        )
        try:
            result = self.engine.execute(engine_sql)
            released = release(plan, result, calibrated,
                               selection.threshold if selection else None)
        except Exception as exc:  # noqa: BLE001 - the charge stands; say so, leak nothing
            raise self._failed(exc, query_id, cost) from None
        status = receipt.status
        mine, theirs = budget_sides(status)
        answer = QueryResponse(
            query_id=query_id,
            columns=[ColumnInfo(name=o.name, type=o.type) for o in plan.outputs],
            rows=released.rows,
            rounded_rows=released.rounded([o.name for o in plan.outputs]),
            charged=charge_of(cost, status.share_taken(cost)),
            remaining=spend(status.remaining),
            dataset_remaining=dataset_spend(status),
            budget=mine,
            dataset_budget=theirs,
            accuracy=[_accuracy_info(a, released.bounding) for a in released.accuracy],
            bounding=_bounding_info(released.bounding),
            cached=False,
            chosen_epsilon=float(cost.epsilon) if request.accuracy else None,
        )
        self.ledger.store_answer(analyst, key, query_id, answer.model_dump(mode="json"))
        return answer

    def _failed(self, exc: Exception, query_id: str, cost: Cost) -> FailedAfterCharge:
        """The error for a run that failed after its charge. The log gets the
        error's class and the query id; its text (which may quote stored values)
        only with ``logging.engine_errors: true``."""
        cause = exc.cause if isinstance(exc, EngineError) else None
        what = type(exc).__name__ + (f" ({cause})" if cause else "")
        log.error("query %s failed after its charge: %s", query_id, what,
                  exc_info=exc if self.log_details else None)
        charged = (f"ε = {format_fraction(cost.epsilon)}"
                   + (f", δ = {format_fraction(cost.delta)}" if cost.delta else ""))
        if isinstance(exc, EngineTimeout):
            return FailedAfterCharge(
                "timeout", f"the query ran past the engine's time limit and was cancelled "
                f"(query {query_id}, {charged} charged; charges are never refunded)",
                query_id, float(cost.epsilon), float(cost.delta))
        return FailedAfterCharge(
            "internal", f"the query failed in the engine after it was charged (query "
            f"{query_id}, {charged} charged; charges are never refunded); the server log "
            "has the error class", query_id, float(cost.epsilon), float(cost.delta))

    def explain(self, analyst: str, request: QueryRequest) -> ExplainResponse:
        public = self._public(request)
        if public is not None:
            return explain_public(public, self, analyst)
        plan, cost, calibrated, selection = self._prepare_all(request)
        status = self.ledger.status(analyst, self.clock())
        # A repeat is answered from the cache, free, whatever the budget; anything else
        # meets the very test the ledger's charge makes, on the same status.
        cached = self.ledger.cached_answer(analyst, self.cache_key(plan, cost)) is not None
        blocked = None if cached else status.blocked_by(cost)
        mine, theirs = budget_sides(status)
        by_name = {a.column: a for a in accuracy(plan, calibrated)}
        outputs: list[OutputPlan] = []
        for out in plan.outputs:
            if out.kind == "key":
                outputs.append(OutputPlan(column=out.name, kind="group key"))
                continue
            if not out.measures:
                outputs.append(OutputPlan(column=out.name, kind=out.kind))
                continue
            first = calibrated[out.measures[0]]
            acc = by_name.get(out.name)
            outputs.append(OutputPlan(
                column=out.name, kind=out.kind, mechanism=first.noise.mechanism,
                sensitivity_l1=float(Fraction(first.measure.l1) / first.measure.grid_scale),
                sensitivity_l2=float(first.measure.l2_squared ** 0.5 / first.measure.grid_scale),
                budget_share=_part(cost, sum((calibrated[m].share for m in out.measures),
                                             Fraction(0))),
                scale=acc.scale if acc else None,
                ci95_halfwidth=acc.ci95_halfwidth if acc else None,
                rank_halfwidth=acc.rank_halfwidth if acc else None,
                words=acc.words if acc else None,
                approximate=acc.approximate if acc else True,
            ))
        return ExplainResponse(
            chosen_epsilon=float(cost.epsilon) if request.accuracy else None,
            rewritten_sql={d: rewritten_sql(plan, d) for d in EXPLAIN_DIALECTS},
            engine_dialect=self.engine.dialect,
            outputs=outputs,
            groups=len(plan.group_keys),
            accounting=self.privacy.accounting.value,
            charge=free_charge(status) if cached else charge_of(cost, status.share_of(cost)),
            cached=cached,
            rho=f"{float(cost.rho):.6g}" if cost.accounting is Accounting.ZCDP else None,
            fits_budget=blocked is None,
            blocked_by=blocked,
            affordable=None if cached else affordable(status, cost),
            remaining=spend(status.remaining),
            dataset_remaining=dataset_spend(status),
            diagnostics_share=float(plan.diagnostics_share) if plan.diagnostic_measures else 0,
            budget=mine,
            dataset_budget=theirs,
            selection_threshold=selection.threshold if selection else None,
            selection_delta=float(selection.delta) if selection else None,
            conversion_delta=_conversion_delta(cost, selection),
        )

    @staticmethod
    def _charge_detail(plan: Plan, cost: Cost, calibrated: dict[str, Calibrated],
                       selection: Selection | None = None) -> dict[str, Any]:
        """Enough to recompute the charge independently of dpsql's code."""
        return {
            "partition_selection": None if selection is None else {
                "threshold": selection.threshold, "delta": format_fraction(selection.delta),
                **({} if selection.conversion_delta is None else {
                    "conversion_delta": format_fraction(selection.conversion_delta)}),
            },
            "accounting": cost.accounting.value,
            "groups": len(plan.group_keys),
            "measures": [
                {
                    "name": c.measure.name, "kind": c.measure.kind, "column": c.measure.column,
                    "l1": c.measure.l1, "l2_squared": c.measure.l2_squared,
                    "grid_scale": format_fraction(c.measure.grid_scale),
                    "mechanism": c.noise.mechanism, "scale": format_fraction(c.noise.scale),
                    "share": format_fraction(c.share),
                }
                for c in calibrated.values()
            ],
        }


def free_charge(status: BudgetStatus) -> Charge:
    """The charge of a repeated question: nothing, of either budget."""
    return Charge(epsilon=0.0, delta=0.0, share=0.0 if status.shown else None,
                  dataset_share=0.0 if status.dataset_shown else None)


def _part(cost: Cost, share: Fraction) -> float:
    """An output's part of the query's charge (ε under pure, ρ under zCDP), 4 decimals."""
    total = cost.epsilon if cost.accounting is Accounting.PURE else cost.rho
    return 0.0 if total == 0 else round(float(share / total), 4)


def _conversion_delta(cost: Cost, selection: Selection | None) -> float | None:
    """Under zCDP, the part of δ that converts ρ to ε (all of it without selection)."""
    if cost.accounting is not Accounting.ZCDP:
        return None
    if selection is None or selection.conversion_delta is None:
        return float(cost.delta)
    return float(selection.conversion_delta)


def _accuracy_info(a: Accuracy, bounding: Bounding | None = None) -> AccuracyInfo:
    words = a.words
    if bounding is not None and bounding.material:
        words += "; beyond the noise, " + bounding.words
    return AccuracyInfo(
        column=a.column, mechanism=a.mechanism, interval=a.interval, scale=a.scale,
        ci95_halfwidth=a.ci95_halfwidth,
        ci95_halfwidths=list(a.cells) if a.interval == "value" else None,
        rank_halfwidth=a.rank_halfwidth, reason=a.reason, words=words,
        approximate=a.approximate,
    )


def _estimate_info(e: Estimate) -> EstimateInfo:
    return EstimateInfo(what=e.what, column=e.column, share=e.share,  # type: ignore[arg-type]
                        ci95=(e.low, e.high), material=e.material, words=e.words)


def _bounding_info(b: Bounding | None) -> BoundingInfo | None:
    if b is None:
        return None
    return BoundingInfo(budget_share=b.budget_share, dropped_rows=_estimate_info(b.dropped),
                        clamped_values=[_estimate_info(e) for e in b.clamped], words=b.words)
