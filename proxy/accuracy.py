"""Accuracy: what each released number's 95 % interval is, per released cell,
and a sentence that says it in plain words.

Every interval here covers the *noise* only: the distance between the released
number and the exact answer on the contribution-bounded data (each person's
rows capped, values clamped). What the bounding itself removed is reported
apart, by the bounding diagnostics (:mod:`proxy.diagnostics`).

How each kind's interval is derived (Z are the noise draws, n̂ the released
noisy count of the group):

* COUNT, SUM, COUNT(DISTINCT unit): one noisy number; the interval is the
  noise's own 95 % half-width, the same for every cell.
* AVG = ŝ/n̂: ŝ/n̂ − S/N = (Z_s − (S/N)·Z_n)/n̂ exactly, and |S/N| ≤ M (the
  larger bound in magnitude), so |error| ≤ (h_s + M·h_n)/n̂ whenever both
  noises are within their half-widths h, each taken at 97.5 % so that both
  hold 95 % of the time. Capped at the width of the bounds.
* VAR from n̂, ŝ and the sum of squares q̂ (each at 1 − 0.05/3):
  |q̂/n̂ − Q/N| ≤ (h_q + M²·h_n)/n̂ and |mean̂² − mean²| ≤ 2M·(h_s + M·h_n)/n̂;
  STDDEV uses |√a − √b| ≤ min(√|a − b|, |a − b|/√a).
* Quantiles, MEDIAN, MIN, MAX: a rank interval from the selection's own tail
  bound (:mod:`accountant.mechanisms.quantile`), in rows, plus one bin.
* The analyst's arithmetic over aggregates: interval arithmetic over the
  inputs' intervals (each at 1 − 0.05/k for k inputs), through +, −, ×, ÷,
  unary minus, ABS, casts and constants; anything else says why it has none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from sqlglot import exp

from accountant.mechanisms.accuracy import halfwidth
from accountant.mechanisms.quantile import QuantileSpec
from rewriter import Output, value_kind

from .calibrate import Calibrated

COVERAGE = 0.95
IntervalKind = Literal["value", "rank", "none"]


@dataclass(frozen=True)
class Accuracy:
    """The accuracy of one output column.

    ``ci95_halfwidth`` is the widest over the released cells (None when there is
    no interval); ``cells`` has one entry per answer row, in row order.
    """

    column: str
    mechanism: str
    scale: float | None
    ci95_halfwidth: float | None
    interval: IntervalKind = "value"
    cells: tuple[float | None, ...] = ()
    rank_halfwidth: float | None = None
    reason: str | None = None
    words: str = ""
    approximate: bool = False


# -- intervals of the noisy table's value columns ------------------------------


@dataclass(frozen=True)
class Cell:
    """What post-processing needs to know about one value column in one group."""

    value: Any
    half: float | None  # at the coverage asked; None: no value interval
    scale: float | None
    key: bool = False  # a public group key: exact, not noise


def _measure_half(c: Calibrated, coverage: float) -> float:
    assert not isinstance(c.noise, QuantileSpec)
    return halfwidth(c.noise, coverage) / float(c.measure.grid_scale)


def _measure_scale(c: Calibrated) -> float:
    return float(c.noise.scale / c.measure.grid_scale)


def value_cell(out: Output, calibrated: Mapping[str, Calibrated], value: Any,
               count: Fraction | None, coverage: float = COVERAGE) -> Cell:
    """The interval of value column `out` in a group whose released value is
    `value` and (AVG, VAR, STDDEV) whose released noisy count is `count`: its
    kind's interval (rewriter/kinds.py) from its measures' half-widths, each
    taken at 1 − (1 − coverage)/k for k measures so that all hold together."""
    kind = value_kind(out.kind)
    if kind.interval is None:
        return Cell(value, None, None)
    each = 1 - (1 - coverage) / len(out.measures)
    measures = [calibrated[m] for m in out.measures]
    n = None if count is None else float(count)
    return Cell(value, kind.interval(out, [_measure_half(c, each) for c in measures], n, value),
                kind.interval(out, [_measure_scale(c) for c in measures], n, value))


# -- the analyst's arithmetic --------------------------------------------------


class NoInterval(Exception):
    """The expression has no propagated interval; the message says why."""


_NUMERIC_CASTS = ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "BIGINT", "INT", "INTEGER", "SMALLINT",
                  "NUMERIC", "TINYINT", "HUGEINT")


def propagate(node: exp.Expr, env: Mapping[str, tuple[float, float]]) -> tuple[float, float]:
    """The interval of `node` when each column of `env` lies in its interval."""
    if isinstance(node, exp.Paren | exp.Alias):
        return propagate(node.this, env)
    if isinstance(node, exp.Column):
        if node.name not in env:
            raise NoInterval(f"it uses {node.name!r}, which has no value interval")
        return env[node.name]
    if isinstance(node, exp.Literal) and not node.is_string:
        v = float(node.this)
        return v, v
    if isinstance(node, exp.Neg):
        lo, hi = propagate(node.this, env)
        return -hi, -lo
    if isinstance(node, exp.Abs):
        lo, hi = propagate(node.this, env)
        if lo >= 0:
            return lo, hi
        if hi <= 0:
            return -hi, -lo
        return 0.0, max(-lo, hi)
    if isinstance(node, exp.Cast | exp.TryCast):
        if not any(node.to.sql().upper().startswith(t) for t in _NUMERIC_CASTS):
            raise NoInterval(f"it casts to {node.to.sql()}")
        return propagate(node.this, env)
    if isinstance(node, exp.Nullif):
        # NULLIF(x, c) is x or NULL; a NULL answer has no interval to state
        return propagate(node.this, env)
    if isinstance(node, exp.Anonymous) and node.name.upper() == "TRY" and node.expressions:
        return propagate(node.expressions[0], env)  # the rewriter's guard, not arithmetic
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div):
        a, b = propagate(node.this, env), propagate(node.expression, env)
        if isinstance(node, exp.Add):
            return a[0] + b[0], a[1] + b[1]
        if isinstance(node, exp.Sub):
            return a[0] - b[1], a[1] - b[0]
        if isinstance(node, exp.Div):
            if b[0] <= 0 <= b[1]:
                raise NoInterval("the interval of its denominator includes 0")
            b = (1 / b[1], 1 / b[0])
        products = [x * y for x in a for y in b]
        return min(products), max(products)
    raise NoInterval(f"intervals are not propagated through {node.key.upper()}")


def expression_cells(tree: exp.Expr, released: Sequence[Any],
                     cells: Sequence[Mapping[str, Cell]]) -> tuple[list[float | None], str | None]:
    """Per answer row, the half-width of `tree`'s released value, or the reason
    there is none (the same for every row)."""
    names = sorted({c.name for c in tree.find_all(exp.Column)})
    noisy = [n for n in names if cells and n in cells[0] and not cells[0][n].key]
    if not noisy:
        return [0.0 for _ in released], None  # public keys and constants only
    halves: list[float | None] = []
    for value, row in zip(released, cells, strict=True):
        env: dict[str, tuple[float, float]] = {}
        for name, cell in row.items():
            if name not in names:
                continue
            if cell.key:
                if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
                    env[name] = (float(cell.value), float(cell.value))
                continue
            if cell.half is None:
                return [None for _ in released], (
                    "a quantile's interval is a range of ranks, which does not carry "
                    "through arithmetic")
            if isinstance(cell.value, int | float):
                env[name] = (cell.value - cell.half, cell.value + cell.half)
        try:
            lo, hi = propagate(tree, env)
        except NoInterval as why:
            return [None for _ in released], f"no interval: {why}"
        except (OverflowError, ZeroDivisionError):
            return [None for _ in released], "no interval: the arithmetic overflows"
        if not isinstance(value, int | float) or not all(map(math.isfinite, (lo, hi))):
            halves.append(None)
            continue
        halves.append(max(hi - value, value - lo, 0.0))
    return halves, None


def key_cell(value: Any) -> Cell:
    return Cell(value, 0.0, None, key=True)


# -- words ---------------------------------------------------------------------


def plain(x: float) -> str:
    """A number as a person reads it: three significant digits, thousands separated."""
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{round(x):,}"
    digits = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:,.{digits}f}".rstrip("0").rstrip(".")


def value_words(out: Output, half: float, spread_over_groups: bool) -> str:
    noun = value_kind(out.kind).noun
    where = " (the widest over the groups; smaller groups are less precise)" \
        if spread_over_groups else ""
    return (f"the exact {noun} on the bounded data is within ±{plain(half)} of this, 95 % of "
            f"the time{where}; the interval is for the noise only")


def rank_words(out: Output, spec: QuantileSpec, bin_width: float) -> str:
    step = plain(bin_width)
    if spec.alpha in (0, 1):
        word, side = ("minimum", "below") if spec.alpha == 0 else ("maximum", "above")
        low = max(0, math.floor(spec.offset - spec.rank_halfwidth))
        high = math.ceil(spec.offset + spec.rank_halfwidth)
        return (f"DP never shows the exact {word} (one person's value): this is a value with "
                f"about {spec.offset:,} of the bounded rows {side} it, 95 % of the time between "
                f"{low:,} and {high:,} (read in steps of {step}); with fewer rows than that it "
                "says little")
    name = "median" if spec.alpha == Fraction(1, 2) else f"{float(spec.alpha):g} quantile"
    return (f"this is the middle of a step of {step} that, 95 % of the time, holds values "
            f"within {plain(spec.rank_halfwidth)} rows (in rank) of the exact {name} of the "
            "bounded data")


def expression_words(half: float | None, reason: str | None) -> str:
    if half is None:
        return reason or "no interval"
    return (f"within ±{plain(half)} of the same arithmetic on the exact aggregates, 95 % of "
            "the time (propagated from the aggregates it combines)")


# -- rounding ------------------------------------------------------------------


def rounded(value: Any, half: float | None) -> Any:
    """`value` rounded to the digits its interval supports: the step is a tenth of
    the half-width's order of magnitude (±317 → tens, ±1.4 → tenths)."""
    if half is None or half <= 0 or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if not math.isfinite(value):
        return value
    exponent = math.floor(math.log10(half)) - 1
    if exponent >= 0:
        step = 10**exponent
        return int(round(value / step) * step) if isinstance(value, int) else \
            float(round(value / step) * step)
    return round(float(value), -exponent)


def rounded_rows(rows: Sequence[Sequence[Any]], report: Sequence[Accuracy],
                 names: Sequence[str]) -> list[list[Any]]:
    by_name = {a.column: a for a in report}
    out: list[list[Any]] = []
    for i, row in enumerate(rows):
        new: list[Any] = []
        for name, value in zip(names, row, strict=True):
            a = by_name.get(name)
            half = a.cells[i] if a is not None and i < len(a.cells) else None
            new.append(rounded(value, half) if a is not None and a.interval == "value"
                       else value)
        out.append(new)
    return out


def mechanism_of(calibrated: Mapping[str, Calibrated], out: Output) -> str:
    names = dict.fromkeys(calibrated[m].noise.mechanism for m in out.measures)
    return " + ".join(names) if names else "none"
