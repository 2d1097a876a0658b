"""Bounding diagnostics: how much the per-person caps and the clamping removed,
estimated with differential privacy from a small share of the query's budget.

The intervals of :mod:`proxy.accuracy` cover the noise only. The bias that the
contribution bounds add (rows left out by `max_rows_per_unit` and
`max_groups_per_unit`, values clamped to `[lower, upper]`) is invisible there,
and it can be far larger than the noise. So each answer also carries:

* the share of rows the caps left out: 1 − kept / before, from two noisy
  totals over all groups: the kept rows (≤ R per person) and the rows passing
  WHERE before either cap, counting at most DIAGNOSTIC_CLIP·R per person (so
  that one person moves it by a bounded amount). A person with more rows than
  that adds only DIAGNOSTIC_CLIP·R, so the share is "at least" this much;
* per bounded argument, the share of kept values outside its bounds: noisy
  count of kept rows outside the bounds over noisy count of kept rows with a
  value (≤ R each).

Guarantee: each total is one number with the sensitivity above, noised with
the same calibrated mechanisms as every answer (discrete Laplace or Gaussian),
paid from `privacy.diagnostics_share` of the query's own charge
(:func:`proxy.calibrate.calibrate`), so the query's cost does not change.
Everything below is post-processing of those noisy totals.

Intervals: a share is a ratio of noisy totals; each total's noise is taken at
97.5 %, so both hold together 95 % of the time, and the ratio's interval is
the range of ratios they allow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from accountant import add_noise
from accountant.mechanisms.accuracy import halfwidth
from accountant.mechanisms.quantile import QuantileSpec
from rewriter import Plan
from rewriter.plan import DIAGNOSTIC_CLIP, Measure

from .calibrate import Calibrated

# An estimate is worth a sentence in the answer when it is surely above 1 %
# or likely above 5 %.
MATERIAL_SURELY = 0.01
MATERIAL_LIKELY = 0.05
# above this upper bound an estimate that is not material says it could not tell
UNCERTAIN = 0.2


@dataclass(frozen=True)
class Estimate:
    what: str  # "dropped_rows" or "clamped_values"
    column: str | None
    share: float
    low: float
    high: float
    material: bool
    words: str


@dataclass(frozen=True)
class Bounding:
    budget_share: float
    dropped: Estimate
    clamped: tuple[Estimate, ...]

    @property
    def material(self) -> tuple[Estimate, ...]:
        return tuple(e for e in (self.dropped, *self.clamped) if e.material)

    @property
    def words(self) -> str:
        found = self.material
        if found:
            return "; ".join(e.words for e in found)
        every = (self.dropped, *self.clamped)
        if all(e.high < UNCERTAIN for e in every):
            return ("the per-person limits and the bounds removed little: "
                    + "; ".join(e.words for e in every))
        return "; ".join(e.words for e in every)


def _at_most(x: float) -> str:
    return "under 0.1 %" if 0 < x < 0.001 else f"at most {_pct(x)}"


def _pct(x: float) -> str:
    if x == 0:
        return "0 %"
    if x < 0.001:
        return "under 0.1 %"
    digits = 0 if x >= 0.1 else 1
    return f"{100 * x:.{digits}f} %"


def _ratio(num: int, h_num: float, den: int, h_den: float) -> tuple[float, float, float]:
    point = min(1.0, max(0.0, num / den)) if den > 0 else 0.0
    low = max(0.0, num - h_num) / max(den + h_den, 1.0)
    high = min(1.0, (num + h_num) / max(den - h_den, 1.0))
    return point, min(low, point), max(high, point)


def _noisy_total(values: list[int], c: Calibrated) -> tuple[int, float]:
    """One noisy number and its 97.5 % half-width, in rows."""
    assert not isinstance(c.noise, QuantileSpec)
    (noisy,) = add_noise([sum(values)], c.noise)
    return noisy, halfwidth(c.noise, 0.975)


def diagnose(plan: Plan, exact: Mapping[str, list[int]],
             calibrated: Mapping[str, Calibrated]) -> Bounding | None:
    """The noisy diagnostics of one run, from the exact per-group vectors."""
    measures = {m.name: m for m in plan.diagnostic_measures}
    if not measures:
        return None
    shape = plan.shape
    kept, h_kept = _noisy_total(exact["__d_kept"], calibrated["__d_kept"])
    # each person's rows before the caps are counted once, in the group of the row
    # the caps number first, so the groups add up to the total
    raw, h_raw = _noisy_total(exact["__d_raw"], calibrated["__d_raw"])
    share, low, high = _ratio(raw - kept, h_raw + h_kept, raw, h_raw)
    material = low >= MATERIAL_SURELY or share >= MATERIAL_LIKELY
    limits = (f"max_rows_per_unit = {shape.max_rows_per_unit}, "
              f"max_groups_per_unit = {shape.max_groups_per_unit} of table {shape.table}")
    if material:
        words = (f"about {_pct(share)} of the rows (95 %: {_pct(low)} to {_pct(high)}) were "
                 f"left out by the per-person limits ({limits}), so counts and sums undercount "
                 f"by about that much; rows beyond {DIAGNOSTIC_CLIP} times the limit per "
                 "person are not counted here, so the share may be larger. An owner can "
                 "raise the limits, or a filter can leave fewer rows per person")
    elif high >= UNCERTAIN:
        words = (f"at this ε the share of rows the per-person limits left out is uncertain "
                 f"(95 %: {_pct(low)} to {_pct(high)})")
    else:
        words = f"the per-person limits left out {_at_most(high)} of the rows"
    dropped = Estimate("dropped_rows", None, share, low, high, material, words)
    clamped: list[Estimate] = []
    for name, m in measures.items():
        if not name.startswith("__d_out"):
            continue
        has = measures["__d_has" + name.removeprefix("__d_out")]
        clamped.append(_clamped(m, has, exact, calibrated))
    return Bounding(float(plan.diagnostics_share), dropped, tuple(clamped))


def _clamped(out: Measure, has: Measure, exact: Mapping[str, list[int]],
             calibrated: Mapping[str, Calibrated]) -> Estimate:
    outside, h_out = _noisy_total(exact[out.name], calibrated[out.name])
    values, h_has = _noisy_total(exact[has.name], calibrated[has.name])
    share, low, high = _ratio(outside, h_out, values, h_has)
    material = low >= MATERIAL_SURELY or share >= MATERIAL_LIKELY
    bounds = f"[{_num(out.lower)}, {_num(out.upper)}]"
    if material:
        words = (f"about {_pct(share)} of the {out.column} values (95 %: {_pct(low)} to "
                 f"{_pct(high)}) lay outside the declared bounds {bounds} and were clamped to "
                 "them; an owner can widen the bounds")
    elif high >= UNCERTAIN:
        words = (f"at this ε the share of {out.column} values outside {bounds} is uncertain "
                 f"(95 %: {_pct(low)} to {_pct(high)})")
    else:
        words = f"{_at_most(high)} of the {out.column} values lay outside {bounds}"
    return Estimate("clamped_values", out.column, share, low, high, material, words)


def _num(x: float | None) -> str:
    if x is None:
        return "?"
    return f"{x:g}" if abs(x) < 1e6 else f"{x:,.0f}"

