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

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlglot import exp

from accountant import add_noise
from accountant.mechanisms.quantile import QuantileSpec, bin_point, select_bin
from rewriter import (
    UNREPRESENTABLE,
    Output,
    Plan,
    answer_rows,
    canonical_key,
    noisy_table,
    value_kind,
)

from .accuracy import (
    COVERAGE,
    Accuracy,
    Cell,
    expression_cells,
    expression_words,
    key_cell,
    mechanism_of,
    plain,
    rank_words,
    rounded_rows,
    value_cell,
    value_words,
)
from .calibrate import Calibrated
from .diagnostics import Bounding, diagnose
from .engines.base import Result


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
    """One group's noisy measures, read in the measure's own units (rewriter.Noisy)."""

    def __init__(self, plan: Plan, noisy: dict[str, list[int]],
                 calibrated: dict[str, Calibrated], slot: int) -> None:
        self.plan, self.noisy, self.calibrated, self.slot = plan, noisy, calibrated, slot

    def value(self, measure: str) -> Fraction:
        return Fraction(self.noisy[measure][self.slot]) / self.plan.measure(measure).grid_scale

    def position(self, measure: str) -> Fraction:
        """Where in [lower, upper] the quantile selection's chosen bin puts the answer."""
        c = self.calibrated[measure]
        assert isinstance(c.noise, QuantileSpec)
        return bin_point(c.noise, self.noisy[measure][self.slot]) / c.measure.bins


def _select_bins(values: list[int], slots: range | list[int], spec: QuantileSpec,
                 bins: int) -> list[int]:
    """One selected bin per group (for `slots` only; the others are never read)
    from the exact histograms in `values`, which are never released."""
    out = [0] * (len(values) // bins)
    for slot in slots:
        out[slot] = select_bin(values[slot * bins:(slot + 1) * bins], spec)
    return out


def _noised(values: list[int], slots: range | list[int], measure_width: int,
            calibrated: Calibrated) -> list[int]:
    """A measure's exact vector made private: noise, or for a histogram the
    quantile selection, for the groups at `slots`."""
    if isinstance(calibrated.noise, QuantileSpec):
        return _select_bins(values, slots, calibrated.noise, calibrated.measure.bins)
    if isinstance(slots, range) and len(slots) * measure_width == len(values):
        return add_noise(values, calibrated.noise)
    return _noise_slots(values, list(slots), measure_width, calibrated)


def _noise_slots(values: list[int], slots: list[int], width: int,
                 calibrated: Calibrated) -> list[int]:
    """`values` (`width` entries per group) with noise added at `slots` only; the
    other entries are never read."""
    assert not isinstance(calibrated.noise, QuantileSpec)
    positions = [slot * width + k for slot in slots for k in range(width)]
    out = [0] * len(values)
    if positions:
        drawn = add_noise([values[p] for p in positions], calibrated.noise)
        for p, v in zip(positions, drawn, strict=True):
            out[p] = v
    return out


def release(
    plan: Plan, result: Result, calibrated: dict[str, Calibrated], threshold: int | None = None
) -> Released:
    """Noise, partition selection (when `threshold` is set), post-processing.

    Partition selection keeps a group only if its noisy count (the plan's
    `selection_measure`: its own COUNT(*) when it has one) is at least
    `threshold`; the keys of kept groups are released unchanged, the others
    never appear. The other measures get noise only for kept groups: each
    draw is independent of the selection's, so what is released of a kept group
    has the same distribution as if every candidate had been noised, while the
    noise work follows the released groups (themselves DP) rather than the
    number of candidates the data holds (SPEC §4.7).
    """
    groups, exact = true_vectors(plan, result)
    bounding = diagnose(plan, exact, calibrated)
    exact = {m.name: exact[m.name] for m in plan.output_measures}
    released: list[int] | None = None
    if plan.selection:
        units = plan.selection_measure()  # the count thresholded (calibrate.py)
        if threshold is None or units is None:
            raise ValueError("partition selection needs a threshold and a count measure")
        noisy = {units.name: _noised(exact[units.name], range(len(groups)), 1,
                                     calibrated[units.name])}
        released = [i for i, n in enumerate(noisy[units.name]) if n >= threshold]
        for name, values in exact.items():
            if name != units.name:
                noisy[name] = _noised(values, released, len(plan.measure(name).columns()),
                                      calibrated[name])
    else:
        noisy = {name: _noised(values, range(len(groups)),
                               len(plan.measure(name).columns()), calibrated[name])
                 for name, values in exact.items()}
    slots = range(len(groups)) if released is None else released
    table, counts = noisy_table(plan, groups, slots,
                                lambda slot: _Noisy(plan, noisy, calibrated, slot))
    cells = _cells(plan, calibrated, table, counts)
    rows, slots = answer_rows(plan, table)
    return Released(rows, answer_accuracy(plan, calibrated, rows, slots, cells, counts),
                    bounding)


@dataclass(frozen=True)
class Released:
    rows: list[list[Any]]
    accuracy: list[Accuracy]
    bounding: Bounding | None = None

    def rounded(self, names: list[str]) -> list[list[Any]]:
        return rounded_rows(self.rows, self.accuracy, names)


def _cells(plan: Plan, calibrated: dict[str, Calibrated], table: list[list[Any]],
           counts: dict[tuple[str, int], Fraction]) -> dict[int, dict[str, Cell]]:
    """Per released slot, each noisy-table column's value and interval."""
    cells: dict[int, dict[str, Cell]] = {}
    for row in table:
        slot = row[0]
        cells[slot] = {
            v.name: key_cell(value) if v.kind == "key"
            else value_cell(v, calibrated, value, counts.get((v.name, slot)))
            for v, value in zip(plan.values, row[1:], strict=True)
        }
    return cells


def answer_accuracy(plan: Plan, calibrated: dict[str, Calibrated], rows: list[list[Any]],
                    slots: list[int], cells: dict[int, dict[str, Cell]],
                    counts: dict[tuple[str, int], Fraction]) -> list[Accuracy]:
    """Each noisy output's interval per answer row, and in words."""
    report: list[Accuracy] = []
    grouped = len(rows) > 1
    # the noisy table's aggregate columns an output's expression may read (keys are exact)
    noisy_inputs = {v.name for v in plan.values if v.kind != "key"}
    for i, out in enumerate(plan.outputs):
        if out.kind == "key" or not out.measures:
            continue
        mechanism = mechanism_of(calibrated, out)
        if out.source is not None:
            value = plan.value(out.source)
            if value_kind(value.kind).ranked:
                report.append(_rank_accuracy(out.name, value, calibrated, len(rows)))
                continue
            row_cells = [cells[s][out.source] for s in slots]
            halves = tuple(c.half for c in row_cells)
            widest = max((h for h in halves if h is not None), default=None)
            scale = max((c.scale for c in row_cells if c.scale is not None), default=None)
            if widest is None:  # nothing released: the interval before running
                return accuracy(plan, calibrated)
            report.append(Accuracy(
                out.name, mechanism, scale, widest, "value", halves,
                words=value_words(value, widest, grouped and not value_kind(value.kind).exact),
                approximate=not value_kind(value.kind).exact))
            continue
        k = max(1, sum(1 for c in plan.shape.items[i].expr.find_all(exp.Column)
                       if c.name in noisy_inputs))
        # k noisy inputs, each at 1 − 0.05/k: all hold together 95 % of the time
        wide = [{n: c if plan.value(n).kind == "key" else value_cell(
                    plan.value(n), calibrated, c.value, counts.get((n, s)), 1 - (1 - COVERAGE) / k)
                 for n, c in cells[s].items()} for s in slots]
        halves_list, reason = expression_cells(plan.shape.items[i].expr,
                                               [r[i] for r in rows], wide)
        known = [h for h in halves_list if h is not None]
        widest = max(known) if known and reason is None else None
        report.append(Accuracy(
            out.name, mechanism, None, widest, "value" if reason is None else "none",
            tuple(halves_list), reason=reason, words=expression_words(widest, reason),
            approximate=True))
    return report


def _rank_accuracy(name: str, value: Output, calibrated: dict[str, Calibrated],
                   rows: int) -> Accuracy:
    c = calibrated[value.measures[0]]
    assert isinstance(c.noise, QuantileSpec) and value.lower is not None
    assert value.upper is not None
    bin_width = (float(value.upper) - float(value.lower)) / c.measure.bins
    spec = c.noise
    return Accuracy(
        name, spec.mechanism, float(spec.scale), None, "rank", tuple(None for _ in range(rows)),
        rank_halfwidth=spec.rank_halfwidth, words=rank_words(value, spec, bin_width),
        approximate=True)


def accuracy(plan: Plan, calibrated: dict[str, Calibrated]) -> list[Accuracy]:
    """Before running (`explain`): each output's interval where it does not depend
    on the data (COUNT, SUM, quantiles' ranks); AVG, VAR and STDDEV depend on the
    group's size, so their entry gives the interval for a group of 100 and of
    10,000 rows in words."""
    report: list[Accuracy] = []
    for out in plan.outputs:
        if out.kind == "key" or not out.measures:
            continue
        mechanism = mechanism_of(calibrated, out)
        if out.source is None:
            report.append(Accuracy(out.name, mechanism, None, None, "value", approximate=True,
                                   words="propagated from the aggregates it combines, per row "
                                         "of the answer"))
            continue
        value = plan.value(out.source)
        if value_kind(value.kind).ranked:
            report.append(_rank_accuracy(out.name, value, calibrated, 0))
            continue
        if value_kind(value.kind).exact:
            cell = value_cell(value, calibrated, None, None)
            assert cell.half is not None
            report.append(Accuracy(out.name, mechanism, cell.scale, cell.half, "value",
                                   words=value_words(value, cell.half, False)))
            continue
        small, large = (value_cell(value, calibrated, None, Fraction(n)) for n in (100, 10_000))
        assert small.half is not None and large.half is not None
        noun = value_kind(value.kind).noun
        report.append(Accuracy(
            out.name, mechanism, None, None, "value", approximate=True,
            words=(f"depends on the group's size: the exact {noun} on the bounded data is "
                   f"within ±{plain(small.half)} for a group of 100 rows and "
                   f"±{plain(large.half)} for 10,000 rows, 95 % of the time")))
    return report
