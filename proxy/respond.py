"""Respond: the last stage, turning what the pipeline computed into response schemas.

Budgets as every front end shows them (:func:`budget_sides`, :func:`spend`), a
query's charge, each cell's accuracy and what bounding removed
(:func:`accuracy_info`, :func:`bounding_info`), and the per-output plan of an
explain. Pure: nothing here reads the ledger or the engine.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

from accountant import Accounting, Budget, Cost
from accountant.ledger.records import BudgetStatus
from accountant.presentation import Shown, sentence
from rewriter import Plan

from .accuracy import Accuracy
from .calibrate import Calibrated, Selection
from .diagnostics import Bounding, Estimate
from .schemas import (
    AccuracyInfo,
    BoundingInfo,
    BudgetSide,
    Charge,
    EstimateInfo,
    OutputPlan,
    Spend,
)

__all__ = ["EXPLAIN_DIALECTS", "accuracy_info", "bounding_info", "budget_sides", "charge_of",
           "conversion_delta", "dataset_spend", "estimate_info", "free_charge",
           "output_plans", "spend"]

#: The dialects an explain shows the rewritten SQL in.
EXPLAIN_DIALECTS = ("duckdb", "postgres")


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


def free_charge(status: BudgetStatus) -> Charge:
    """The charge of a repeated question: nothing, of either budget."""
    return Charge(epsilon=0.0, delta=0.0, share=0.0 if status.shown else None,
                  dataset_share=0.0 if status.dataset_shown else None)


def accuracy_info(a: Accuracy, bounding: Bounding | None = None) -> AccuracyInfo:
    """One output's accuracy, with what bounding removed when that is material."""
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


def estimate_info(e: Estimate) -> EstimateInfo:
    return EstimateInfo(what=e.what, column=e.column, share=e.share,  # type: ignore[arg-type]
                        ci95=(e.low, e.high), material=e.material, words=e.words)


def bounding_info(b: Bounding | None) -> BoundingInfo | None:
    if b is None:
        return None
    return BoundingInfo(budget_share=b.budget_share, dropped_rows=estimate_info(b.dropped),
                        clamped_values=[estimate_info(e) for e in b.clamped], words=b.words)


def _part(cost: Cost, share: Fraction) -> float:
    """An output's part of the query's charge (ε under pure, ρ under zCDP), 4 decimals."""
    total = cost.epsilon if cost.accounting is Accounting.PURE else cost.rho
    return 0.0 if total == 0 else round(float(share / total), 4)


def conversion_delta(cost: Cost, selection: Selection | None) -> float | None:
    """Under zCDP, the part of δ that converts ρ to ε (all of it without selection)."""
    if cost.accounting is not Accounting.ZCDP:
        return None
    if selection is None or selection.conversion_delta is None:
        return float(cost.delta)
    return float(selection.conversion_delta)


def output_plans(plan: Plan, cost: Cost, calibrated: dict[str, Calibrated],
                 accuracies: list[Accuracy]) -> list[OutputPlan]:
    """What an explain says of each output: its mechanism, sensitivity, share and accuracy."""
    by_name = {a.column: a for a in accuracies}
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
    return outputs
