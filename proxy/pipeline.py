"""The query pipeline, callable from any front end (JSON API, Trino, UI, CLI):

    parameters → plan (parse, validate, rewrite) → cache → calibrate → charge
    → execute → noise → respond

Everything that can refuse a query happens before the charge, and the charge
is durable before the engine reads a row (SPEC §4.5). A failed or timed-out
engine run stays charged: the answer might have been computed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

from accountant import (
    Accounting,
    Cost,
    InvalidParameter,
    Ledger,
    to_fraction,
    validate_query_parameters,
)
from accountant.budget import format_fraction
from rewriter import Catalog, Plan, QueryRefused, plan_query
from rewriter.limits import Limits
from rewriter.public import PublicQuery, public_query

from .affordable import affordable
from .calibrate import Calibrated, Selection, price
from .charge import cache_key, charge_detail, check_priced, failed, new_query_id
from .engines.base import Engine
from .plan_cache import PlanCache
from .public_answer import answer_public, explain_public
from .release import accuracy, release
from .respond import (
    EXPLAIN_DIALECTS,
    accuracy_info,
    bounding_info,
    budget_sides,
    charge_of,
    conversion_delta,
    dataset_spend,
    free_charge,
    output_plans,
    spend,
)
from .schemas import ColumnInfo, ExplainResponse, QueryRequest, QueryResponse
from .target import epsilon_for

__all__ = ["EXPLAIN_DIALECTS", "Clock", "Pipeline", "Prepared", "PrivacyDefaults",
           "new_query_id", "rewritten_sql", "utc_now"]

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



class Prepared(NamedTuple):
    """A query planned and priced: everything decided before the charge."""

    plan: Plan
    cost: Cost
    calibrated: dict[str, Calibrated]
    selection: Selection | None


class Pipeline:
    """The query path of one deployment. Holds no per-request state: each call reads
    the catalog once (the one given, or the source's current one) and hands it on."""

    def __init__(
        self,
        *,
        catalog: Catalog | Callable[[], Catalog],
        engine: Engine,
        ledger: Ledger,
        privacy: PrivacyDefaults,
        clock: Clock = utc_now,
        input_dialect: str | None = None,
        limits: Limits | None = None,
        log_details: bool = False,
    ) -> None:
        # a fixed catalog, or where the current one is read (the TableStore's refresh)
        self._catalog: Callable[[], Catalog]
        if isinstance(catalog, Catalog):
            fixed = catalog
            self._catalog = lambda: fixed
        else:
            self._catalog = catalog
        self.engine = engine
        self.ledger = ledger
        self.privacy = privacy
        self.clock = clock
        self.input_dialect = input_dialect
        self.limits = limits or Limits()
        self.log_details = log_details  # logging.engine_errors: may expose stored values
        self.plans = PlanCache()  # plans depend on the text and metadata only (plan_cache)

    @property
    def catalog(self) -> Catalog:
        """The catalog as it stands now; a change by an owner, or by another proxy
        sharing the ledger, shows here (within ``tables.REFRESH_SECONDS``)."""
        return self._catalog()

    # -- entry points ------------------------------------------------------

    def query(self, analyst: str, request: QueryRequest,
              catalog: Catalog | None = None) -> QueryResponse:
        catalog = self.catalog if catalog is None else catalog
        public = self.public(request, catalog)
        if public is not None:
            return answer_public(public, self.engine, self.ledger, self.clock, analyst)
        plan, cost, calibrated, selection = self.prepare(request, catalog)
        key = cache_key(plan, cost)
        cached = self.ledger.cached_answer(analyst, key)
        if cached is not None:
            return self._repeat(analyst, cached)
        # may refuse: before the charge
        engine_sql = self._engine_sql(catalog, request.sql, plan, self.engine.dialect)
        query_id = new_query_id()
        receipt = self.ledger.charge(
            analyst, cost, query_id=query_id, sql=plan.normalized_sql,
            detail=charge_detail(plan, cost, calibrated, selection), now=self.clock(),
        )
        try:
            result = self.engine.execute(engine_sql)
            released = release(plan, result, calibrated,
                               selection.threshold if selection else None)
        except Exception as exc:  # noqa: BLE001 - the charge stands; say so, leak nothing
            raise failed(exc, query_id, cost, log_details=self.log_details) from None
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
            accuracy=[accuracy_info(a, released.bounding) for a in released.accuracy],
            bounding=bounding_info(released.bounding),
            cached=False,
            chosen_epsilon=float(cost.epsilon) if request.accuracy else None,
        )
        self.ledger.store_answer(analyst, key, query_id, answer.model_dump(mode="json"))
        return answer

    def explain(self, analyst: str, request: QueryRequest,
                catalog: Catalog | None = None) -> ExplainResponse:
        catalog = self.catalog if catalog is None else catalog
        public = self.public(request, catalog)
        if public is not None:
            return explain_public(public, self.engine.dialect, self.privacy.accounting,
                                  self.ledger.status(analyst, self.clock()))
        plan, cost, calibrated, selection = self.prepare(request, catalog)
        status = self.ledger.status(analyst, self.clock())
        # A repeat is answered from the cache, free, whatever the budget; anything else
        # meets the very test the ledger's charge makes, on the same status.
        cached = self.ledger.cached_answer(analyst, cache_key(plan, cost)) is not None
        blocked = None if cached else status.blocked_by(cost)
        mine, theirs = budget_sides(status)
        return ExplainResponse(
            chosen_epsilon=float(cost.epsilon) if request.accuracy else None,
            rewritten_sql={d: rewritten_sql(plan, d) for d in EXPLAIN_DIALECTS},
            engine_dialect=self.engine.dialect,
            outputs=output_plans(plan, cost, calibrated, accuracy(plan, calibrated)),
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
            conversion_delta=conversion_delta(cost, selection),
        )

    # -- stages ------------------------------------------------------------

    def public(self, request: QueryRequest, catalog: Catalog) -> PublicQuery | None:
        """The exact plan of a query over public tables only (free, no noise)."""
        self._parameters(request)  # the same parameter rules for every query
        sql = request.sql
        return self.plans.get(
            catalog, ("public", sql, self.input_dialect, self.limits),
            lambda: public_query(sql, catalog, self.input_dialect, self.limits))

    def prepare(self, request: QueryRequest, catalog: Catalog) -> Prepared:
        """Plan and price a query, refusing it if anything is wrong: nothing is charged
        yet, and nothing the ledger or the engine holds has been read."""
        # planned first: Google's OPTIONS(…) in the text may name ε and δ
        plan = self._plan(catalog, request.sql)
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
        check_priced(priced, accounting)  # the noise built spends exactly the charge
        return Prepared(plan, priced.cost, priced.calibrated, priced.selection)

    def _parameters(self, request: QueryRequest) -> tuple[Fraction, Fraction]:
        if request.accuracy is not None and request.epsilon is not None:
            raise InvalidParameter(
                "give either epsilon or an accuracy target, not both: with a target dpsql "
                "picks the smallest epsilon that meets it"
            )
        epsilon = self.privacy.default_epsilon if request.epsilon is None else request.epsilon
        delta = self.privacy.default_delta if request.delta is None else request.delta
        return validate_query_parameters(epsilon, delta, max_epsilon=self.privacy.max_epsilon,
                                         max_delta=self.privacy.max_delta)

    def _plan(self, catalog: Catalog, sql: str) -> Plan:
        share = to_fraction(self.privacy.diagnostics_share)
        return self.plans.get(
            catalog, ("plan", sql, self.input_dialect, self.limits, share),
            lambda: plan_query(sql, catalog, self.input_dialect, self.limits, share))

    def _engine_sql(self, catalog: Catalog, sql: str, plan: Plan, dialect: str) -> str:
        """The plan's SQL for an engine (see `rewritten_sql`), cached beside the plan."""
        share = to_fraction(self.privacy.diagnostics_share)
        return self.plans.get(
            catalog, ("sql", sql, self.input_dialect, self.limits, share, dialect),
            lambda: rewritten_sql(plan, dialect))

    def _repeat(self, analyst: str, cached: dict[str, Any]) -> QueryResponse:
        """The same question at the same (ε, δ) gets the same answer, free: asking
        again must not let anyone average the noise away."""
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
