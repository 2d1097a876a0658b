"""The plan: what the engine computes and how sensitive each number is.

A plan holds *measures* (integer vectors over the groups, computed by the
rewritten SQL, each with the sensitivity its bounds imply) and *outputs* (the
columns the analyst asked for, each a group key or a post-processing of noisy
measures). The accountant calibrates noise from the measures alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from sqlglot import exp

from .google import DpOptions
from .metadata import KeyValue
from .shape import Shape

MeasureKind = Literal["count", "sum", "units", "hist", "raw"]
OutputKind = Literal[
    "key", "count", "sum", "avg", "units", "var", "stddev", "quantile", "expression"
]
HIST_BINS = 64
# Bounding diagnostics count at most this many times R rows per person before
# the caps: the "rows before the caps" total needs a bounded sensitivity too.
DIAGNOSTIC_CLIP = 4


@dataclass(frozen=True)
class Measure:
    """An integer-valued vector (one entry per group) computed in SQL.

    `l1` and `l2_squared` bound how far one privacy unit can move the whole
    vector (all groups together), in grid units: sums are computed on the grid
    value * `grid_scale`, so `value = measured / grid_scale`.
    """

    name: str
    kind: MeasureKind
    column: str | None  # the canonical SQL of the argument (a column name when plain)
    l1: int
    l2_squared: int
    grid_scale: Fraction = Fraction(1)
    # the argument rebuilt from allowed nodes; sums and histograms clamp it to [lower, upper]
    arg: exp.Expr | None = field(default=None, compare=False, repr=False)
    lower: float | None = None
    upper: float | None = None
    bins: int = 0  # histograms: equal-width bins over [lower, upper], one column each
    # histograms: the quantile fraction whose edge is selected from them (0 = MIN, 1 = MAX);
    # the bins themselves are never released
    quantile: float | None = None
    # bounding diagnostics: summed over the groups into one number before noise
    # (kind "raw" is already one number: rows before the caps, ≤ DIAGNOSTIC_CLIP·R
    # per unit); paid from the plan's diagnostics share
    diagnostic: bool = False
    # counts: COUNT(DISTINCT arg) over the kept rows rather than COUNT(arg)
    distinct: bool = False

    def __post_init__(self) -> None:
        if self.l1 < 1 or self.l2_squared < 1:
            raise ValueError(f"measure {self.name}: sensitivities must be ≥ 1, got {self.l1}")
        if self.grid_scale <= 0:
            raise ValueError(f"measure {self.name}: grid scale must be positive")
        if (self.kind == "hist") != (self.bins > 0):
            raise ValueError(f"measure {self.name}: only histograms have bins, got {self.bins}")
        if (self.kind == "hist") != (self.quantile is not None):
            raise ValueError(f"measure {self.name}: a histogram selects exactly one quantile")
        if self.distinct and (self.kind != "count" or self.arg is None):
            raise ValueError(f"measure {self.name}: only a count of an argument is distinct")
        if self.kind in ("sum", "hist") and (self.lower is None or self.upper is None
                                             or self.arg is None):
            raise ValueError(f"measure {self.name}: a {self.kind} needs an argument and bounds")

    def columns(self) -> tuple[str, ...]:
        """The engine result columns holding this measure."""
        if self.kind == "hist":
            return tuple(f"{self.name}_b{k}" for k in range(self.bins))
        return (self.name,)


@dataclass(frozen=True)
class Output:
    name: str
    kind: OutputKind
    type: str  # the column type reported to clients
    key_index: int | None = None
    measures: tuple[str, ...] = ()
    lower: int | float | None = None  # AVG, VAR and quantiles are clamped to the bounds
    upper: int | float | None = None
    source: str | None = None  # the noisy-table column (`__g<i>`/`__a<j>`) shown unchanged
    quantile: float | None = None
    population: bool = False
    # VAR/STDDEV: the midpoint c of the bounds; their sums are of x − c and (x − c)²
    center: float = 0.0


@dataclass(frozen=True)
class Plan:
    shape: Shape
    measures: tuple[Measure, ...]
    outputs: tuple[Output, ...]  # what the analyst sees, in order
    key_types: tuple[str, ...]  # declared type of each group column
    normalized_sql: str
    tree: exp.Expr = field(compare=False, repr=False)
    # the noisy table: keys `__g<i>` then aggregates `__a<j>`, each an Output
    values: tuple[Output, ...] = ()
    post: exp.Select | None = field(default=None, compare=False, repr=False)
    # the share of the query's budget the bounding diagnostics spend (0: none)
    diagnostics_share: Fraction = Fraction(0)
    # Google's `WITH DIFFERENTIAL_PRIVACY OPTIONS(…)`, when the query has it (google.py)
    dp_options: DpOptions | None = None
    # the rewritten tree for another engine's dialect (the planner binds bound.py's
    # builder here, so this module imports no later stage)
    build: Callable[[str], exp.Expr] | None = field(default=None, compare=False, repr=False)

    @property
    def output_measures(self) -> tuple[Measure, ...]:
        return tuple(m for m in self.measures if not m.diagnostic)

    @property
    def diagnostic_measures(self) -> tuple[Measure, ...]:
        return tuple(m for m in self.measures if m.diagnostic)

    @property
    def group_keys(self) -> tuple[tuple[KeyValue, ...], ...]:
        """Every declared key combination; empty under partition selection."""
        return self.shape.group_keys

    @property
    def selection(self) -> bool:
        return self.shape.selection

    def units_measure(self) -> Measure | None:
        return next((m for m in self.measures if m.kind == "units"), None)

    def selection_measure(self) -> Measure | None:
        """The noisy count partition selection thresholds (SPEC §4.4), under selection.

        Any per-group count of the query's own measures will do: after the caps, a
        group that one person alone creates holds at most R of their rows (R =
        max_rows_per_unit) and one distinct person, and one person creates at most
        L0 = min(G, R) groups. So the answer's own COUNT(*) is preferred (no share
        of ε is spent on a count nobody asked for, and it is the count of people
        when R = 1), then COUNT(DISTINCT unit), then a COUNT(col) (an AVG's, say);
        `measures.py` adds a distinct-unit count only when the query has no count.
        """
        if not self.selection:
            return None
        outputs = self.output_measures
        for wanted in (lambda m: m.kind == "count" and m.arg is None,
                       lambda m: m.kind == "units",
                       lambda m: m.kind == "count"):
            found = next((m for m in outputs if wanted(m)), None)
            if found is not None:
                return found
        return None

    @property
    def selection_offset(self) -> int:
        """The largest value the selection measure has in a group one person alone
        creates: 1 distinct person, or R rows."""
        measure = self.selection_measure()
        return 1 if measure is None or measure.kind == "units" else self.shape.max_rows_per_unit

    @property
    def selection_groups(self) -> int:
        """L0: how many groups one person can create, min(G, R)."""
        return min(self.shape.max_groups_per_unit, self.shape.max_rows_per_unit)

    def sql(self, dialect: str) -> str:
        """The rewritten query in the engine's dialect.

        `tree` is DuckDB's; other engines get a tree of their own, as the salted
        hash that ranks groups is a different function in each.
        """
        if dialect == "duckdb" or self.build is None:
            return self.tree.sql(dialect=dialect)
        return self.build(dialect).sql(dialect=dialect)

    def value(self, name: str) -> Output:
        for v in self.values:
            if v.name == name:
                return v
        raise KeyError(name)

    def measure(self, name: str) -> Measure:
        for m in self.measures:
            if m.name == name:
                return m
        raise KeyError(name)


GRID_STEPS_PER_BOUND = 2**20


def grid_scale(lower: float, upper: float) -> Fraction:
    """A power of two putting the larger bound near 2**20 grid steps.

    Fine enough that rounding to the grid is negligible next to the noise, coarse
    enough that per-unit partial sums stay far inside 64-bit integers.
    """
    largest = max(abs(lower), abs(upper))
    if largest == 0:
        return Fraction(1)
    exponent = 20 - math.ceil(math.log2(largest))
    return Fraction(2) ** exponent


def grid_bound(lower: float, upper: float, scale: Fraction) -> int:
    """The largest |value| a clamped, rounded grid value can take."""
    largest = max(abs(Fraction(lower)), abs(Fraction(upper)))
    return max(1, math.ceil(largest * scale))
