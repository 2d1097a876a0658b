"""Charge: what the ledger records for one query, and the check made before it.

:func:`check_priced` recomputes, from the noise actually built (scales and
sensitivities, not the shares calibration meant to hand out), what the query's
mechanisms spend, and refuses the query with ``internal`` unless that composes to
the :class:`~accountant.Cost` about to be charged: a calibration that disagrees
with the charge is a bug, and it is never silent. :func:`charge_detail` is what
the ledger keeps beside the charge, enough to recompute it independently of
dpsql's code; :func:`failed` the error of a run that failed after its charge.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from fractions import Fraction
from typing import Any, NoReturn

from accountant import Accounting, Cost, NoiseSpec, cost_of
from accountant.budget import format_fraction
from accountant.mechanisms.quantile import QuantileSpec, per_row
from rewriter import Plan

from .calibrate import Calibrated, Priced, Selection
from .engines.base import EngineError, EngineTimeout
from .errors import FailedAfterCharge, InternalError

__all__ = ["CalibrationMismatch", "cache_key", "charge_detail", "check_priced",
           "failed", "mechanism_cost", "new_query_id"]

log = logging.getLogger("dpsql.pipeline")

# The exponential mechanism's zCDP temperature is computed with a float square root
# and rounded up to 12 significant digits, which can leave it a hair (well below
# 1e-12 relative) too cold for a huge temperature; `quantile_for` accepts OpenDP's
# map within the same 1e-9. Every other mechanism is held to exact equality.
_EM_ZCDP_SLACK = Fraction(1, 10**9)


class CalibrationMismatch(InternalError):
    """The mechanisms built for a query do not spend what it is about to be charged."""


def mechanism_cost(c: Calibrated) -> Fraction:
    """What one calibrated mechanism spends, from its noise alone: ε under pure
    accounting, ρ under zCDP (the privacy maps of `accountant.mechanisms`)."""
    noise, measure = c.noise, c.measure
    if isinstance(noise, QuantileSpec):
        # s = 2cR/ε (pure), or s = 2cR/√(8ρ) (zCDP): ε = 2cR/s, ρ = ε²/8
        epsilon = Fraction(2 * per_row(noise.alpha) * measure.l1) / noise.scale
        return epsilon if noise.accounting == "pure" else epsilon * epsilon / 8
    assert isinstance(noise, NoiseSpec)
    if noise.mechanism not in ("discrete_laplace", "discrete_gaussian"):
        raise CalibrationMismatch(f"measure {measure.name}: unknown mechanism "
                                  f"{noise.mechanism}")
    laplace = noise.mechanism == "discrete_laplace"
    sensitivity = Fraction(measure.l1 if laplace else measure.l2_squared)
    if noise.scale == 0:  # no noise: free only when no row can move the answer
        if sensitivity == 0:
            return Fraction(0)
        raise CalibrationMismatch(f"measure {measure.name}: no noise on a sensitivity "
                                  f"of {sensitivity}")
    if laplace:  # b = Δ1/ε
        return sensitivity / noise.scale
    return sensitivity / (2 * noise.scale * noise.scale)  # Δ2²/(2σ²)-zCDP


def check_priced(priced: Priced, accounting: Accounting) -> None:
    """Raise :class:`CalibrationMismatch` unless the calibrated mechanisms compose to
    exactly the cost that will be charged (see the module docstring)."""
    cost, selection = priced.cost, priced.selection
    if cost.accounting is not accounting:
        _mismatch([f"cost under {cost.accounting.value}, deployment {accounting.value}"])
    problems: list[str] = []
    delta_add = selection.delta if selection is not None else Fraction(0)
    if accounting is Accounting.ZCDP:
        expected = cost_of(accounting, cost.epsilon, cost.delta, delta_add)
    else:
        expected = cost_of(accounting, cost.epsilon, cost.delta)
        if selection is not None and selection.delta != cost.delta:
            problems.append(f"selection δ {format_fraction(selection.delta)}, charged "
                            f"δ {format_fraction(cost.delta)}")
    if expected != cost:
        problems.append(f"cost {cost} is not the cost of its (ε, δ): {expected}")
    spent = [mechanism_cost(c) for c in priced.calibrated.values()]
    total = sum(spent, Fraction(0))
    if accounting is Accounting.PURE:
        if total != cost.epsilon:
            problems.append(f"mechanisms spend ε = {format_fraction(total)}, charged "
                            f"ε = {format_fraction(cost.epsilon)}")
    else:
        slack = sum((s for s, c in zip(spent, priced.calibrated.values(), strict=True)
                     if isinstance(c.noise, QuantileSpec)), Fraction(0)) * _EM_ZCDP_SLACK
        # Gaussian σ and the selection's temperature are rounded up: a mechanism may
        # spend a little less than its share, never more
        if total > cost.rho + slack or total < cost.rho * (1 - Fraction(1, 10**6)):
            problems.append(f"mechanisms spend ρ = {float(total)!r}, charged "
                            f"ρ = {float(cost.rho)!r}")
    if problems:
        _mismatch(problems)


def _mismatch(problems: list[str]) -> NoReturn:
    log.error("calibration disagrees with the charge: %s", "; ".join(problems))
    raise CalibrationMismatch("; ".join(problems))


def charge_detail(plan: Plan, cost: Cost, calibrated: dict[str, Calibrated],
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


def new_query_id() -> str:
    """Sortable by time (milliseconds), unguessable after that."""
    return f"q_{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


def cache_key(plan: Plan, cost: Cost) -> str:
    """The answer cache's key: the same question at the same (ε, δ)."""
    text = json.dumps(
        [plan.normalized_sql, format_fraction(cost.epsilon), format_fraction(cost.delta)]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def failed(exc: Exception, query_id: str, cost: Cost, *,
           log_details: bool = False) -> FailedAfterCharge:
    """The error for a run that failed after its charge. The log gets the
    error's class and the query id; its text (which may quote stored values)
    only with ``logging.engine_errors: true``."""
    cause = exc.cause if isinstance(exc, EngineError) else None
    what = type(exc).__name__ + (f" ({cause})" if cause else "")
    log.error("query %s failed after its charge: %s", query_id, what,
              exc_info=exc if log_details else None)
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
