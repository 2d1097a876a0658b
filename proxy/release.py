"""Release: align the engine's rows with the declared keys, add noise, turn the
noisy measures into the noisy table of aggregates, and run the analyst's
post-processing (outer expressions, HAVING, ORDER BY, LIMIT) on that table.

Every declared key combination gets a row of the noisy table, whether or not
data has it (SPEC §4.4); rows for keys the engine returned but nobody declared
cannot exist, because the rewritten query filters them, and are ignored if they
did. Everything after `add_noise` reads only noisy values and public keys: it
is post-processing and costs no privacy.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from accountant import add_noise
from rewriter import Output, Plan
from rewriter.keys import INT64, UNREPRESENTABLE, canonical_key, json_key
from rewriter.planner import is_direct, noisy_columns
from rewriter.post import run_post

from .calibrate import Calibrated
from .engines.base import Result


@dataclass(frozen=True)
class Accuracy:
    column: str
    mechanism: str
    scale: float
    ci95_halfwidth: float
    approximate: bool = False


def true_vectors(plan: Plan, result: Result) -> tuple[list[tuple[Any, ...]], dict[str, list[int]]]:
    """The groups, and each measure as an exact integer vector over them (a
    histogram: `bins` entries per group, bin-major within a group).

    With public keys the groups are every declared key combination; under
    partition selection they are the groups the engine returned (candidates,
    sorted by key so no data order shows), to be thresholded after noise.
    """
    n_keys = len(plan.shape.group_columns)

    def canonical(row: Any) -> tuple[Any, ...]:
        return tuple(canonical_key(v, t) for v, t in zip(row[:n_keys], plan.key_types, strict=True))

    row_keys = [canonical(row) for row in result.rows]
    if plan.selection:
        # a key outside the releasable domain forms no group (rewriter/keys.py)
        found = {k for k in row_keys if UNREPRESENTABLE not in k}
        keys = sorted(found, key=lambda k: tuple((v is None, str(type(v)), v) for v in k))
    else:
        keys = [canonical(k) for k in plan.group_keys]
    index = {k: i for i, k in enumerate(keys)}
    positions = {
        m.name: [result.columns.index(c) for c in m.columns()] for m in plan.measures
    }
    vectors = {m.name: [0] * (len(keys) * len(m.columns())) for m in plan.measures}
    # Two engine groups may share one canonical key (a driver that maps distinct
    # values to one Python value). Their entries combine by maximum, never by
    # overwriting (one person's group would replace everyone's) nor by adding (a
    # person in both would count twice): a maximum moves by at most what either
    # entry moves, so every measure keeps its sensitivity.
    seen = [False] * len(keys)
    for row, key in zip(result.rows, row_keys, strict=True):
        slot = None if UNREPRESENTABLE in key else index.get(key)
        if slot is None:
            continue
        for name, cols in positions.items():
            for k, col in enumerate(cols):
                value = 0 if row[col] is None else int(row[col])
                at = slot * len(cols) + k
                vectors[name][at] = max(vectors[name][at], value) if seen[slot] else value
        seen[slot] = True
    declared = list(plan.group_keys) if not plan.selection else keys
    return declared, vectors


class _Noisy:
    """Noisy measures, read in the measure's own units."""

    def __init__(self, plan: Plan, noisy: dict[str, list[int]]) -> None:
        self.plan, self.noisy = plan, noisy

    def value(self, name: str, slot: int) -> Fraction:
        m = self.plan.measure(name)
        return Fraction(self.noisy[name][slot]) / m.grid_scale

    def bins(self, name: str, slot: int) -> list[int]:
        b = self.plan.measure(name).bins
        return self.noisy[name][slot * b:(slot + 1) * b]


def finite(x: Fraction) -> float:
    """`x` as a float, saturating at the largest finite double (never OverflowError)."""
    try:
        return float(x)
    except OverflowError:
        return math.copysign(sys.float_info.max, x)


def whole(x: Fraction) -> int:
    """`x` rounded, saturating at 64 bits: the released table holds BIGINTs."""
    return min(max(round(x), INT64[0]), INT64[1])


def _clip(x: Fraction, lo: Fraction, hi: Fraction) -> Fraction:
    return min(max(x, lo), hi)


def _variance(out: Output, n: Fraction, s: Fraction, ss: Fraction) -> float:
    assert out.lower is not None and out.upper is not None
    n = max(n, Fraction(1))
    mean = _clip(s / n, Fraction(out.lower), Fraction(out.upper))
    pop = ss / n - mean * mean
    width = Fraction(out.upper) - Fraction(out.lower)
    ceiling = width * width / 4
    if not out.population and n > 1:
        pop, ceiling = pop * n / (n - 1), ceiling * n / (n - 1)
    return float(_clip(pop, Fraction(0), ceiling))


def _quantile(out: Output, counts: list[int]) -> tuple[float, int]:
    """The q-quantile read from a noisy histogram's CDF (negative bins read as 0)."""
    assert out.lower is not None and out.upper is not None and out.quantile is not None
    lo, hi = float(out.lower), float(out.upper)
    clipped = [max(0, c) for c in counts]
    total = sum(clipped)
    if total == 0 or hi == lo:
        return (lo + hi) / 2, total
    width = (hi - lo) / len(clipped)
    q = out.quantile
    if q == 0:
        first = next(i for i, c in enumerate(clipped) if c > 0)
        return lo + first * width, total
    if q == 1:
        last = max(i for i, c in enumerate(clipped) if c > 0)
        return lo + (last + 1) * width, total
    target = q * total
    seen = 0
    for i, c in enumerate(clipped):
        if c > 0 and seen + c >= target:
            return lo + (i + (target - seen) / c) * width, total
        seen += c
    return hi, total


def value_rows(
    plan: Plan, noisy: _Noisy, stats: dict[str, Fraction], groups: list[tuple[Any, ...]],
    released: list[int] | None = None,
) -> list[list[Any]]:
    """The noisy table: one row per released group (every declared key combination,
    or the groups that passed partition selection)."""
    rows: list[list[Any]] = []
    for slot in (range(len(groups)) if released is None else released):
        keys = groups[slot]
        row: list[Any] = [slot]
        for out in plan.values:
            if out.kind == "key":
                assert out.key_index is not None
                row.append(json_key(keys[out.key_index]))
            elif out.kind in ("count", "units"):
                row.append(max(0, whole(noisy.value(out.measures[0], slot))))
            elif out.kind == "sum":
                total = noisy.value(out.measures[0], slot)
                row.append(whole(total) if out.type == "integer" else finite(total))
            elif out.kind == "avg":
                total = noisy.value(out.measures[0], slot)
                count = noisy.value(out.measures[1], slot)
                assert out.lower is not None and out.upper is not None
                count = max(count, Fraction(1))
                stats[out.name] = min(count, stats.get(out.name, count))
                row.append(finite(_clip(total / count, Fraction(out.lower), Fraction(out.upper))))
            elif out.kind in ("var", "stddev"):
                n, s, ss = (noisy.value(m, slot) for m in out.measures)
                stats[out.name] = min(max(n, Fraction(1)), stats.get(out.name, max(n, Fraction(1))))
                var = _variance(out, n, s, ss)
                row.append(var if out.kind == "var" else math.sqrt(var))
            else:
                value, total = _quantile(out, noisy.bins(out.measures[0], slot))
                t = Fraction(max(total, 1))
                stats[out.name] = min(t, stats.get(out.name, t))
                row.append(value)
        rows.append(row)
    return rows


def _noise_slots(values: list[int], slots: list[int], width: int,
                 calibrated: Calibrated) -> list[int]:
    """`values` (`width` entries per group) with noise added at `slots` only; the
    other entries are never read."""
    positions = [slot * width + k for slot in slots for k in range(width)]
    out = [0] * len(values)
    if positions:
        drawn = add_noise([values[p] for p in positions], calibrated.noise)
        for p, v in zip(positions, drawn, strict=True):
            out[p] = v
    return out


def release(
    plan: Plan, result: Result, calibrated: dict[str, Calibrated], threshold: int | None = None
) -> tuple[list[list[Any]], list[Accuracy]]:
    """Noise, partition selection (when `threshold` is set), post-processing.

    Partition selection keeps a group only if its noisy distinct-unit count is
    at least `threshold`; the keys of kept groups are released unchanged, the
    others never appear. The other measures get noise only for kept groups: each
    draw is independent of the selection's, so what is released of a kept group
    has the same distribution as if every candidate had been noised, while the
    noise work follows the released groups (themselves DP) rather than the
    number of candidates the data holds (SPEC §4.7).
    """
    groups, exact = true_vectors(plan, result)
    released: list[int] | None = None
    if plan.selection:
        units = plan.units_measure()
        if threshold is None or units is None:
            raise ValueError("partition selection needs a threshold and a units measure")
        noisy = {units.name: add_noise(exact[units.name], calibrated[units.name].noise)}
        released = [i for i, n in enumerate(noisy[units.name]) if n >= threshold]
        for name, values in exact.items():
            if name != units.name:
                noisy[name] = _noise_slots(values, released, len(plan.measure(name).columns()),
                                           calibrated[name])
    else:
        noisy = {name: add_noise(values, calibrated[name].noise)
                 for name, values in exact.items()}
    stats: dict[str, Fraction] = {}
    table = value_rows(plan, _Noisy(plan, noisy), stats, groups, released)
    if is_direct(plan.shape):
        # each output is a key or an aggregate unchanged: pick the columns
        position = {v.name: 1 + i for i, v in enumerate(plan.values)}
        rows = [[row[position[o.source or ""]] for o in plan.outputs] for row in table]
    else:
        assert plan.post is not None
        _, rows = run_post(plan.post, noisy_columns(plan.values), table)
    return rows, accuracy(plan, calibrated, stats)


def _value_accuracy(
    out: Output, calibrated: dict[str, Calibrated], stats: dict[str, Fraction]
) -> Accuracy:
    first = calibrated[out.measures[0]]
    grid = first.measure.grid_scale
    scale = float(first.noise.scale / grid)
    mech = first.noise.mechanism
    if out.kind in ("count", "units", "sum"):
        return Accuracy(out.name, mech, scale, float(Fraction(first.ci95_grid) / grid))
    assert out.lower is not None and out.upper is not None
    width = float(Fraction(out.upper) - Fraction(out.lower))
    spread = float(max(abs(Fraction(out.lower)), abs(Fraction(out.upper))))
    n = stats.get(out.name)
    if out.kind == "avg":
        if n is None:
            return Accuracy(out.name, mech, scale, width, True)
        sum_ci = first.ci95_grid / float(grid)
        count_ci = calibrated[out.measures[1]].ci95_grid
        half = min((sum_ci + spread * count_ci) / float(n), width)
        return Accuracy(out.name, mech, scale, half, True)
    if out.kind in ("var", "stddev"):
        ceiling = width * width / 4
        if n is not None:
            count_ci = first.ci95_grid
            s = calibrated[out.measures[1]]
            ss = calibrated[out.measures[2]]
            sum_ci = s.ci95_grid / float(s.measure.grid_scale)
            ss_ci = ss.ci95_grid / float(ss.measure.grid_scale)
            ceiling = min(ceiling, (ss_ci + 2 * spread * sum_ci + spread**2 * count_ci) / float(n))
        half = ceiling if out.kind == "var" else math.sqrt(ceiling)
        return Accuracy(out.name, mech, scale, half, True)
    # quantiles: the bin width plus the rank error of the noisy CDF, at most the width
    bins = first.measure.bins
    half = width
    if n is not None:
        rank_error = math.sqrt(bins) * first.ci95_grid / float(n)
        half = min(width, width / bins + width * rank_error)
    return Accuracy(out.name, mech, scale, half, True)


def accuracy(
    plan: Plan, calibrated: dict[str, Calibrated], stats: dict[str, Fraction] | None = None
) -> list[Accuracy]:
    """The noise of each output that shows an aggregate unchanged, in its own units.

    AVG, VAR, STDDEV and quantiles combine noisy numbers, so their intervals are
    approximate: propagated from the measures' intervals over the smallest noisy
    count among the groups (post-processing of noisy values only), or, before
    running (`explain`), the width the bounds allow. Outputs computed by the
    analyst's own arithmetic carry no interval.
    """
    by_value = {
        v.name: _value_accuracy(v, calibrated, stats or {})
        for v in plan.values if v.kind != "key"
    }
    report: list[Accuracy] = []
    for out in plan.outputs:
        if out.source is not None and out.source in by_value:
            a = by_value[out.source]
            report.append(Accuracy(out.name, a.mechanism, a.scale, a.ci95_halfwidth,
                                   a.approximate))
    return report
