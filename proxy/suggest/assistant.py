"""The bounds and caps assistant (issue #19): `dpsql suggest TABLE` and
`POST /v1/admin/tables/{name}/suggest`.

Wrong bounds and caps silently bias every answer; this proposes them from the
data, with differential privacy, and says what each proposal costs in words.

For a private table it proposes

- `max_rows_per_unit`: a DP quantile (default 95 %) of each person's row count;
- `max_groups_per_unit`: the same of each person's number of distinct values of a
  GROUP BY column (one with public keys, or the one the owner names);
- `lower`/`upper` of each numeric column: DP quantiles (default 1 % and 99 %) of
  one value per person, drawn at random in SQL.

Every quantile is chosen among a fixed grid of round numbers by the query path's
exponential mechanism (`accountant.mechanisms.quantile`, OpenDP's noisy max) with a
tie-break for tails (`accountant.selection`), over counts computed in SQL on the
engine: only a few hundred integers leave the database. The trade-off is then measured, with DP too:
for the caps, a noisy histogram of the per-person counts (each person in one bin)
gives the share of rows (or person-group pairs) the cap drops; for bounds, noisy
counts of the rows the proposed caps keep that fall below, inside and above the
proposed bounds give the share clamped. Each share comes with an interval (95 %
unless the owner asks otherwise) for its noise. Beside it, the noise scale and 95 %
interval a COUNT and a SUM at the deployment's default ε would have under the
proposal, from the query planner itself.

The whole run spends the ε the owner chooses from the dataset-wide budget, charged
durably (an `owner_charge` ledger entry) before any row is read, split evenly over
the mechanisms. Nothing is applied: the answer carries a merge patch the owner
sends to `PATCH /v1/admin/tables/{name}` (or `dpsql suggest --apply`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from sqlglot import exp

from accountant import Accounting, Ledger, cost_of, to_fraction
from rewriter import Catalog, Table
from rewriter.metadata import NUMERIC_TYPES

from ..engines.base import Engine
from ..errors import InvalidParameter
from ..pipeline import Pipeline, new_query_id
from ..schemas import QueryRequest
from .noise import (
    QUANTILE_WEIGHT,
    RunBudget,
    dropped_share,
    interval_of,
    noisy_counts,
    noisy_quantile,
)
from .sql import (
    EXCESS,
    cap_counts,
    col_ref,
    engine_sql,
    grid_counts,
    ident,
    indicator,
    number_literal,
    one_value_per_person,
    per_person,
    rows_kept,
    total_count,
)

__all__ = ["COUNT_GRID", "VALUE_GRID", "Proposal", "Suggestion", "suggest"]

# Candidates fixed before any data is read (a data-dependent grid would leak).
COUNT_GRID: tuple[int, ...] = (
    *range(1, 51), 60, 70, 80, 90, 100, 120, 150, 200, 250, 300, 400, 500, 600, 800,
    1000, 1500, 2000, 3000, 5000, 10_000, 20_000, 50_000, 100_000, 1_000_000)


# few candidates: the noisy max's error grows with the log of their number
_NICE = (1, 1.5, 2, 3, 5, 7.5)


_POSITIVE = tuple(m * 10.0**k for k in range(-2, 10) for m in _NICE)


VALUE_GRID: tuple[float, ...] = (*sorted(-v for v in _POSITIVE), 0.0, *_POSITIVE)


@dataclass(frozen=True)
class Proposal:
    setting: str  # "max_rows_per_unit", "max_groups_per_unit", "columns.<name>"
    current: Any
    proposed: Any
    what: str  # what the share counts: "rows dropped", "values clamped", …
    share: float  # the estimated share (0..1)
    interval: tuple[float, float]  # for the noise of the estimate, at the run's confidence
    count_noise: dict[str, float] | None = None  # {"scale", "ci95_halfwidth"} of a COUNT
    sum_noise: dict[str, float] | None = None  # of a SUM of the column
    words: str = ""


@dataclass(frozen=True)
class Suggestion:
    table: str
    charged_epsilon: float
    charged_delta: float
    query_id: str
    proposals: list[Proposal]
    patch: dict[str, Any]
    notes: list[str]
    confidence: float = 0.95


def _group_column(table: Table, wanted: str | None) -> str | None:
    if wanted is not None:
        name = table.canonical(wanted)
        if name is None or name == table.privacy_unit:
            raise InvalidParameter(f"group_by: {wanted!r} is not a column of the table (other "
                                   "than its privacy unit)")
        return name
    for name, col in table.columns.items():
        if col.public_keys is not None and name != table.privacy_unit:
            return name
    return None


def _bounded_columns(table: Table, only: Sequence[str] | None) -> list[str]:
    numeric = [n for n, c in table.columns.items()
               if c.type in NUMERIC_TYPES and n != table.privacy_unit]
    if only is None:
        return numeric
    missing = [c for c in only if table.canonical(c) not in numeric]
    if missing:
        raise InvalidParameter(f"columns: {', '.join(missing)} are not numeric columns of the "
                               f"table (numeric: {', '.join(numeric) or 'none'})")
    return [table.canonical(c) or c for c in only]


def _noise_of(pipeline: Pipeline, name: str, table: Table, sql: str) -> dict[str, float] | None:
    """What the planner says a query would carry under the proposed metadata."""
    current = pipeline.catalog
    tables = dict(current.tables)
    tables[name] = table
    trial = Catalog(tables, current.resolved_keys)
    try:
        plan = pipeline.explain("", QueryRequest(sql=sql), trial)
    except Exception:  # noqa: BLE001 - a statement the planner refuses shows no figure
        return None
    out = next((o for o in plan.outputs if o.scale is not None and o.ci95_halfwidth is not None),
               None)
    if out is None or out.scale is None or out.ci95_halfwidth is None:
        return None
    return {"scale": float(out.scale), "ci95_halfwidth": float(out.ci95_halfwidth),
            "epsilon": float(plan.charge.epsilon)}


def _pct(x: float) -> str:
    return f"{x * 100:.1f} %" if x >= 0.001 or x == 0 else f"{x * 100:.2f} %"


def suggest(name: str, table: Table, *, engine: Engine, ledger: Ledger, pipeline: Pipeline,
            owner: str, epsilon: object, delta: object, reason: str,
            coverage: float = 0.98, cap_quantile: float = 0.95,
            group_by: str | None = None, columns: Sequence[str] | None = None,
            confidence: float = 0.95) -> Suggestion:
    """Propose caps and bounds for `table`, spending (ε, δ) of the dataset-wide budget."""
    if table.public:
        raise InvalidParameter(f"table {name} is public: its rows are answered exactly, with "
                               "no caps or bounds to choose")
    if not 0.5 < coverage < 1 or not 0.5 <= cap_quantile < 1 or not 0.5 <= confidence < 1:
        raise InvalidParameter("coverage must lie in (0.5, 1), cap_quantile and confidence "
                               "in [0.5, 1)")
    unit = table.privacy_unit
    assert unit is not None  # a private table has one
    group = _group_column(table, group_by)
    bounded = _bounded_columns(table, columns)
    accounting = pipeline.privacy.accounting
    eps = to_fraction(epsilon)
    dlt = to_fraction(delta) if accounting is Accounting.ZCDP else Fraction(0)
    if eps <= 0:
        raise InvalidParameter("epsilon: the assistant needs a positive ε to spend")
    cost = cost_of(accounting, eps, dlt)
    # shares: per cap a quantile (2) and two measurements (kept/dropped, people beyond);
    # per column two quantiles (2 each) and one measurement (below/inside/above)
    per_cap = QUANTILE_WEIGHT + 2
    uses = per_cap * (2 if group else 1) + (2 * QUANTILE_WEIGHT + 1) * len(bounded)
    whole = cost.epsilon if accounting is Accounting.PURE else cost.rho
    budget = RunBudget(accounting, whole / uses)
    query_id = new_query_id()
    detail = {"assistant": "suggest", "table": name, "accounting": accounting.value,
              "mechanisms": uses, "share": str(budget.share), "coverage": coverage,
              "cap_quantile": cap_quantile, "group_by": group, "columns": bounded}
    # durable before any row is read, like every charge (SPEC §4.5)
    ledger.charge_owner(owner, cost, query_id=query_id, sql=f"suggest {name}", detail=detail,
                        reason=reason)

    proposals: list[Proposal] = []
    notes: list[str] = []
    patch: dict[str, Any] = {}
    proposed = table

    def cap(setting: str, value: exp.Expression, what: str) -> int:
        nonlocal proposed
        population = per_person(name, unit, value)
        _, at_most = grid_counts(engine, population, COUNT_GRID)
        n = total_count(engine, population)
        chosen = COUNT_GRID[noisy_quantile(at_most, n, cap_quantile, budget)]
        kept, dropped, beyond = cap_counts(engine, population, chosen)
        # a person moves `kept` by at most the cap and `dropped` by at most 3 × the cap
        noisy, spec = noisy_counts([kept, dropped], EXCESS * chosen + chosen, budget)
        share, lo, hi = interval_of(dropped_share, noisy, spec, confidence)
        over, over_spec = noisy_counts([beyond], 1, budget)
        if over[0] > 2 * float(over_spec.scale) + 1:  # clearly some: the share is a floor
            notes.append(f"{setting}: about {max(0, int(over[0]))} people have more than "
                         f"{chosen * (EXCESS + 1)}; their rows beyond that are not counted "
                         "in the dropped share, which is then a lower bound")
        proposed = proposed.model_copy(update={setting: chosen})
        patch[setting] = chosen
        proposals.append(Proposal(setting, getattr(table, setting), chosen, what, share,
                                  (lo, hi)))
        return chosen

    rows_cap = cap("max_rows_per_unit", exp.Count(this=exp.Star()), "rows dropped")
    if group:
        cap("max_groups_per_unit",
            exp.Count(this=exp.Distinct(expressions=[col_ref(group)])),
            f"(person, {group}) pairs dropped from GROUP BY {group} answers")
    else:
        notes.append("no column has public keys: name one with group_by to size "
                     "max_groups_per_unit")

    for column in bounded:
        sample = one_value_per_person(name, unit, column)
        below, at_most = grid_counts(engine, sample, VALUE_GRID)
        n = total_count(engine, sample)
        if n == 0:
            notes.append(f"{column}: no values; nothing to propose")
            continue
        tail = (1 - coverage) / 2
        i_lo = noisy_quantile(below, n, tail, budget)
        i_hi = noisy_quantile(at_most, n, 1 - tail, budget)
        lower, upper = sorted((VALUE_GRID[i_lo], VALUE_GRID[i_hi]))
        if lower == upper:  # a constant column: keep an interval around it
            upper = VALUE_GRID[min(len(VALUE_GRID) - 1, VALUE_GRID.index(upper) + 1)]
        kind = table.columns[column].type
        if kind == "integer":
            lower, upper = math.floor(lower), math.ceil(upper)
        kept = rows_kept(name, unit, column, rows_cap)
        v = col_ref("v", "s")
        counts = exp.select(
            indicator(exp.LT(this=v.copy(), expression=number_literal(lower))),
            indicator(exp.GT(this=v.copy(), expression=number_literal(upper))),
            exp.Count(this=exp.Star())).from_(kept.subquery("s"))
        low_n, high_n, total = (int(x or 0) for x in
                                engine.execute(engine_sql(engine, counts)).rows[0])
        # a person moves these three disjoint counts by at most rows_cap in total
        noisy, spec = noisy_counts([low_n, high_n, total - low_n - high_n], rows_cap, budget)

        def clamped(h: np.ndarray) -> np.ndarray:
            h = np.maximum(h, 0)
            whole = h.sum(axis=1)
            return np.where(whole > 0, (h[:, 0] + h[:, 1]) / np.maximum(whole, 1), 0.0)

        share, lo, hi = interval_of(clamped, noisy, spec, confidence)
        current = table.columns[column]
        new_col = current.model_copy(update={"lower": lower, "upper": upper})
        proposed = proposed.model_copy(
            update={"columns": {**proposed.columns, column: new_col}})
        patch.setdefault("columns", {})[column] = {"lower": lower, "upper": upper}
        proposals.append(Proposal(f"columns.{column}", None if current.lower is None else
                                  [current.lower, current.upper], [lower, upper],
                                  "values clamped", share, (lo, hi)))

    # the noise these choices imply, from the planner, at the default query ε
    source = exp.Table(this=ident(name))
    count = _noise_of(pipeline, name, proposed,
                      exp.select(exp.Count(this=exp.Star())).from_(source.copy()).sql())
    per_group = None
    if group:
        grouped = (exp.select(col_ref(group), exp.Count(this=exp.Star())).from_(source.copy())
                   .group_by(col_ref(group)))
        per_group = _noise_of(pipeline, name, proposed, grouped.sql())
    final: list[Proposal] = []
    for p in proposals:
        sum_noise = None
        if p.setting == "max_groups_per_unit":
            final.append(_worded(p, per_group, None, pipeline, confidence, group))
            continue
        if p.setting.startswith("columns."):
            column = p.setting.removeprefix("columns.")
            summed = exp.select(exp.Sum(this=col_ref(column))).from_(source.copy())
            sum_noise = _noise_of(pipeline, name, proposed, summed.sql())
        final.append(_worded(p, count, sum_noise, pipeline, confidence))
    return Suggestion(name, float(cost.epsilon), float(cost.delta), query_id, final, patch,
                      notes, confidence)


def _worded(p: Proposal, count: dict[str, float] | None, sum_noise: dict[str, float] | None,
            pipeline: Pipeline, confidence: float, group: str | None = None) -> Proposal:
    eps = float(pipeline.privacy.default_epsilon)  # type: ignore[arg-type]
    share = (f"about {_pct(p.share)} of {p.what} ({confidence * 100:g} % interval "
             f"{_pct(p.interval[0])} to {_pct(p.interval[1])})")
    if p.setting.startswith("columns."):
        lower, upper = p.proposed
        text = f"{p.setting.removeprefix('columns.')} in [{lower}, {upper}]: {share}"
        if sum_noise:
            text += (f"; a SUM at ε = {eps:g} then carries noise of scale "
                     f"{sum_noise['scale']:,.0f} (95 % within ±{sum_noise['ci95_halfwidth']:,.0f})")
    else:
        text = f"{p.setting} = {p.proposed} (now {p.current}): {share}"
        if count and p.setting == "max_rows_per_unit":
            text += (f"; a COUNT(*) at ε = {eps:g} then carries noise of scale "
                     f"{count['scale']:,.1f} (95 % within ±{count['ci95_halfwidth']:,.0f}); "
                     "a larger cap drops fewer rows and adds proportionally more noise")
        elif count and group:
            text += (f"; each group's COUNT(*) in a GROUP BY {group} at ε = {eps:g} then "
                     f"carries noise of scale {count['scale']:,.1f} (95 % within "
                     f"±{count['ci95_halfwidth']:,.0f})")
    return Proposal(p.setting, p.current, p.proposed, p.what, p.share, p.interval,
                    count if not p.setting.startswith("columns.") else None, sum_noise, text)
