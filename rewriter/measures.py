"""Decide which integer measures a shape needs and bound their sensitivity.

Contribution bounds (SPEC §4.2): after WHERE, each unit keeps at most R =
max_rows_per_unit rows in total and touches at most G = max_groups_per_unit
groups. So one unit adds at most R to the count vector in L1 and L2 (all R rows
may fall in one group), at most R * M to a sum vector whose grid values are
within [-M, M], at most R to a histogram (each row lands in one bin of one
group), and at most min(G, R, #groups) to the distinct-unit counts.

Derived aggregates are post-processing of noisy measures: AVG = sum / count,
VAR and STDDEV from count, sum and sum of squares (the square's bounds are
[L², U²], [U², L²] or [0, max(L², U²)] depending on the signs), quantiles,
MEDIAN, MIN and MAX select a bin edge of the exact histogram of the clamped
values by the exponential mechanism (accountant/mechanisms/quantile.py): one
histogram per requested quantile, as each selection is paid for separately.
"""

from __future__ import annotations

from sqlglot import exp

from .expressions import double
from .kinds import KINDS, value_of
from .naming import key_column, value_column
from .plan import DIAGNOSTIC_CLIP, HIST_BINS, Measure, Output, grid_bound, grid_scale
from .shape import Shape


def groups_touched(shape: Shape) -> int:
    """How many groups one unit can reach after bounding (L0 of the output)."""
    if shape.selection:
        return min(shape.max_groups_per_unit, shape.max_rows_per_unit)
    return min(shape.max_groups_per_unit, shape.max_rows_per_unit, len(shape.group_keys))


def plan_measures(
    shape: Shape, key_types: tuple[str, ...], diagnostics: bool = False
) -> tuple[tuple[Measure, ...], tuple[Output, ...]]:
    """The measures, and the noisy table's columns (`values`) computed from them;
    with `diagnostics`, also those of the bounding diagnostics."""
    rows = shape.max_rows_per_unit
    measures: dict[tuple[str, str | None, float | None], Measure] = {}

    def need(kind: str, column: str | None, arg: exp.Expr | None = None,
             lower: float | None = None, upper: float | None = None,
             quantile: float | None = None) -> str:
        key = (kind, column, quantile)
        if key not in measures:
            name = f"__m{len(measures)}"
            if kind == "units":
                g = groups_touched(shape)
                measures[key] = Measure(name, "units", None, l1=g, l2_squared=g)
            elif kind in ("count", "count_distinct"):
                # a distinct count over kept rows: each of a person's R rows adds at
                # most one value to one group, as for COUNT(col)
                measures[key] = Measure(name, "count", column, l1=rows, l2_squared=rows * rows,
                                        arg=arg, distinct=kind == "count_distinct")
            elif kind == "hist":
                measures[key] = Measure(name, "hist", column, l1=rows, l2_squared=rows * rows,
                                        arg=arg, lower=lower, upper=upper, bins=HIST_BINS,
                                        quantile=quantile)
            else:
                assert lower is not None and upper is not None
                scale = grid_scale(lower, upper)
                bound = rows * grid_bound(lower, upper, scale)
                measures[key] = Measure(
                    name, "sum", column, l1=bound, l2_squared=bound * bound, grid_scale=scale,
                    arg=arg, lower=lower, upper=upper,
                )
        return measures[key].name

    if shape.selection and not any(KINDS[a.kind].counts for a in shape.aggregates):
        # partition selection thresholds a count (Plan.selection_measure); a query
        # with none (quantiles only) gets the noisy distinct-unit count
        need("units", None)
    values: list[Output] = [
        Output(key_column(i), "key", key_types[i], key_index=i)
        for i in range(len(shape.group_columns))
    ]
    values += [value_of(value_column(j), agg, need) for j, agg in enumerate(shape.aggregates)]
    # a plain SUM whose measure a VAR also uses keeps one measure: `need` dedupes by key
    found = tuple(measures.values())
    return (found + diagnostic_measures(shape, found) if diagnostics else found), tuple(values)


def diagnostic_measures(shape: Shape, measures: tuple[Measure, ...]) -> tuple[Measure, ...]:
    """What the bounding diagnostics count (each summed over all groups, so one
    unit moves each total by its bound below, whatever the groups):

    * ``rows kept``: the kept rows (≤ R per unit);
    * ``rows before the caps``: Σ min(rows of the unit, DIAGNOSTIC_CLIP·R) over the
      rows passing WHERE, before either cap (≤ DIAGNOSTIC_CLIP·R);
    * per bounded argument: the kept rows whose value lies outside its bounds,
      and the kept rows with a value (≤ R each).
    """
    rows = shape.max_rows_per_unit
    clip = DIAGNOSTIC_CLIP * rows
    out = [
        Measure("__d_kept", "count", "rows kept", l1=rows, l2_squared=rows * rows,
                diagnostic=True),
        Measure("__d_raw", "raw", "rows before the caps", l1=clip, l2_squared=clip * clip,
                diagnostic=True),
    ]
    seen: set[str | None] = set()
    # each bounded argument as the analyst wrote it (a VAR's sums are of x − c and
    # (x − c)², but its clamping is of x to [L, U]), in the order of the measures
    for agg in shape.aggregates:
        if agg.arg is None or agg.lower is None or agg.upper is None or agg.column in seen:
            continue
        if not KINDS[agg.kind].bounded:
            continue
        seen.add(agg.column)
        value = double(agg.arg.copy())
        outside = exp.Case(ifs=[exp.If(
            this=exp.or_(exp.LT(this=value.copy(), expression=_number(agg.lower)),
                         exp.GT(this=value.copy(), expression=_number(agg.upper))),
            true=exp.Literal.number(1))])
        i = len(seen) - 1
        out.append(Measure(f"__d_out{i}", "count", agg.column, l1=rows,
                           l2_squared=rows * rows, arg=outside, lower=agg.lower,
                           upper=agg.upper, diagnostic=True))
        out.append(Measure(f"__d_has{i}", "count", agg.column, l1=rows, l2_squared=rows * rows,
                           arg=agg.arg.copy(), diagnostic=True))
    return tuple(out)


def _number(value: float) -> exp.Expr:
    """A DOUBLE constant (bounds are compared in DOUBLE, like the clamp)."""
    return exp.cast(exp.Literal.number(repr(float(value))), exp.DataType.build("DOUBLE"))
