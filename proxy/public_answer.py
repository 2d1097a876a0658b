"""Answers to queries over public tables only: exact, free, not ledgered as charges.

`rewriter.public` checks the query; here the engine runs it and the answer takes
the shape of every other answer, with nothing charged and no accuracy entries
(there is no noise). Public tables hold no personal data, so neither the values
nor the running time say anything about a person (SPEC §4.7).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from accountant import Accounting, Ledger
from accountant.ledger.records import BudgetStatus
from rewriter.public import PublicQuery

from .charge import new_query_id
from .engines.base import Engine, EngineError, EngineTimeout
from .respond import EXPLAIN_DIALECTS, budget_sides, dataset_spend, free_charge, spend
from .schemas import ColumnInfo, ExplainResponse, OutputPlan, QueryResponse

__all__ = ["answer_public", "explain_public"]

log = logging.getLogger("dpsql.pipeline")


def _type(values: list[Any]) -> str:
    """The dpsql type of an output column, from the values the engine returned."""
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int):
            return "integer"
        if isinstance(value, (float, Decimal)):
            return "float"
        if isinstance(value, dt.datetime):
            return "timestamp"
        if isinstance(value, dt.date):
            return "date"
        return "text"
    return "text"


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def answer_public(plan: PublicQuery, engine: Engine, ledger: Ledger,
                  clock: Callable[[], dt.datetime], analyst: str) -> QueryResponse:
    """Run `plan` on `engine` (the data engine, or the sandbox's twin)."""
    try:
        result = engine.execute(plan.sql(engine.dialect))
    except EngineTimeout:
        raise
    except EngineError as exc:  # e.g. a cast that fails on a stored (public) value
        raise EngineError("the database engine could not run this query over public tables "
                          "(nothing was charged); the server log has the error class",
                          cause=exc.cause) from None
    status = ledger.status(analyst, clock())
    columns = [ColumnInfo(name=name, type=_type([row[i] for row in result.rows]))
               for i, name in enumerate(result.columns)]
    mine, theirs = budget_sides(status)
    return QueryResponse(
        query_id=new_query_id(),
        columns=columns,
        rows=[[_cell(v) for v in row] for row in result.rows],
        charged=free_charge(status),  # nothing, of either budget
        remaining=spend(status.remaining),
        dataset_remaining=dataset_spend(status),
        budget=mine,
        dataset_budget=theirs,
        accuracy=[],
        cached=False,
    )


def explain_public(plan: PublicQuery, engine_dialect: str, accounting: Accounting,
                   status: BudgetStatus) -> ExplainResponse:
    outputs = [OutputPlan(column=item.alias_or_name, kind="exact (public tables only)")
               for item in plan.tree.expressions]
    return ExplainResponse(
        rewritten_sql={d: plan.sql(d) for d in EXPLAIN_DIALECTS},
        engine_dialect=engine_dialect,
        outputs=outputs,
        groups=0,
        accounting=accounting.value,
        charge=free_charge(status),
        fits_budget=True,
        remaining=spend(status.remaining),
        dataset_remaining=dataset_spend(status),
        budget=budget_sides(status)[0],
        dataset_budget=budget_sides(status)[1],
    )


