"""Every aggregate kind, defined once.

A kind says everything the rest of dpsql needs to know about one aggregate:

* which SQL spellings mean it (`spellings`; `aggregates.py` recognises them),
* which integer measures the engine computes for it (`needs`, see `measures.py`
  for their sensitivities) and the type of the released value (`output_type`),
* how the released value is finished from its noisy measures (`finish`), and
  the type of its column in the noisy table the post-processing reads,
* the 95 % half-width of that value from its measures' half-widths (`interval`;
  None for the quantiles, whose accuracy is a rank interval), in words (`noun`).

Adding an aggregate is one entry in `KINDS` (and its spelling in
`aggregates.py`); `tests/rewriter/test_kinds.py` fails for a kind with a part
missing. Everything here after `needs` is post-processing of noisy values.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

from sqlglot import exp

from .expressions import double, snap
from .keys import INT64
from .plan import Output, OutputKind
from .shape import Aggregate, AggregateKind


class Need(Protocol):
    """Ask for a measure; the same request twice gets the same measure (`measures.py`)."""

    def __call__(self, kind: str, column: str | None, arg: exp.Expr | None = None,
                 lower: float | None = None, upper: float | None = None,
                 quantile: float | None = None) -> str: ...


class Noisy(Protocol):
    """One group's noisy measures, read in each measure's own units."""

    def value(self, measure: str) -> Fraction: ...

    def position(self, measure: str) -> Fraction:
        """A histogram's selected point, as a fraction of [lower, upper]."""
        ...


@dataclass(frozen=True)
class Kind:
    name: AggregateKind
    output: OutputKind  # `Output.kind` of its value column; kinds sharing it finish alike
    spellings: str
    noun: str
    needs: Callable[[Aggregate, Need], tuple[str, ...]]
    output_type: Callable[[Aggregate], str]
    finish: Callable[[Output, Noisy], Any]
    noisy_type: Callable[[Output], str]  # DuckDB type of its column in the noisy table
    # the half-width of the value from its measures' half-widths (each taken at
    # 1 − 0.05/len(measures)), the group's noisy count and the released value
    interval: Callable[[Output, Sequence[float], float | None, Any], float] | None
    count_measure: int | None = None  # which of its measures is the group's noisy count
    counts: bool = True  # holds a noisy count partition selection can threshold
    bounded: bool = False  # its argument is clamped to derived bounds
    clamped: bool = False  # the released value itself is clamped to those bounds
    centered: bool = False  # its sums are of x − c and (x − c)², c the bounds' midpoint

    @property
    def ranked(self) -> bool:
        """Its accuracy is a rank interval (quantiles): no interval on the value."""
        return self.interval is None

    @property
    def exact(self) -> bool:
        """Its interval is one noisy number's, the same in every group (COUNT, SUM);
        AVG, VAR and STDDEV depend on the group's noisy count, quantiles have ranks."""
        return self.interval is not None and self.count_measure is None


# -- finishing: plain arithmetic on noisy values --------------------------------


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


def _bounds(out: Output) -> tuple[Fraction, Fraction]:
    assert out.lower is not None and out.upper is not None
    return Fraction(out.lower), Fraction(out.upper)


def _count(out: Output, noisy: Noisy) -> int:
    return max(0, whole(noisy.value(out.measures[0])))


def _sum(out: Output, noisy: Noisy) -> int | float:
    total = noisy.value(out.measures[0])
    return whole(total) if out.type == "integer" else finite(total)


def _avg(out: Output, noisy: Noisy) -> float:
    total, count = (noisy.value(m) for m in out.measures)
    lo, hi = _bounds(out)
    return finite(_clip(total / max(count, Fraction(1)), lo, hi))


def _variance(out: Output, noisy: Noisy) -> float:
    n, s, ss = (noisy.value(m) for m in out.measures)
    lo, hi = _bounds(out)
    n = max(n, Fraction(1))
    # s and ss sum x − c and (x − c)² (`_centered`, `_square`): the mean of x − c
    # lies in [L − c, U − c], and the variance is the same for x and x − c
    c = Fraction(out.center)
    mean = _clip(s / n, lo - c, hi - c)
    pop = ss / n - mean * mean
    ceiling = (hi - lo) ** 2 / 4
    if not out.population and n > 1:
        pop, ceiling = pop * n / (n - 1), ceiling * n / (n - 1)
    return float(_clip(pop, Fraction(0), ceiling))


def _stddev(out: Output, noisy: Noisy) -> float:
    return math.sqrt(_variance(out, noisy))


def _quantile(out: Output, noisy: Noisy) -> float:
    lo, hi = _bounds(out)
    return finite(lo + (hi - lo) * noisy.position(out.measures[0]))


# -- intervals: see proxy/accuracy.py for the derivations -------------------------


def _spread(out: Output) -> tuple[float, float]:
    assert out.lower is not None and out.upper is not None
    # VAR and STDDEV read sums of x − c (Output.center), AVG of x (center 0)
    lo, hi = float(out.lower) - out.center, float(out.upper) - out.center
    return max(abs(lo), abs(hi)), hi - lo


def _one(out: Output, halves: Sequence[float], n: float | None, value: Any) -> float:
    return halves[0]


def _avg_interval(out: Output, halves: Sequence[float], n: float | None, value: Any) -> float:
    spread, width = _spread(out)
    h_s, h_n = halves
    return width if n is None or n < 1 else min(width, (h_s + spread * h_n) / n)


def _var_interval(out: Output, halves: Sequence[float], n: float | None, value: Any) -> float:
    spread, width = _spread(out)
    h_n, h_s, h_q = halves
    ceiling = _var_ceiling(out, n)
    if n is None or n < 2:
        return ceiling
    half = (h_q + 2 * spread * h_s + 3 * spread * spread * h_n) / n
    if not out.population:
        # n̂/(n̂ − 1) multiplies the estimate; its own error is second order
        # and bounded by ceiling · h_n / (n̂ − 1)²
        half = half * n / (n - 1) + ceiling * h_n / (n - 1) ** 2
    return min(ceiling, half)


def _var_ceiling(out: Output, n: float | None) -> float:
    _, width = _spread(out)
    ceiling = width * width / 4
    if not out.population and n is not None and n > 1:
        ceiling *= n / (n - 1)
    return ceiling


def _stddev_interval(out: Output, halves: Sequence[float], n: float | None, value: Any) -> float:
    """|√a − √b| ≤ min(√|a − b|, |a − b| / √a), for a the released variance."""
    var_half, ceiling = _var_interval(out, halves, n, value), _var_ceiling(out, n)
    bound = math.sqrt(var_half)
    if isinstance(value, float) and value > 0:
        bound = min(bound, var_half / value)
    return min(bound, math.sqrt(ceiling))


# -- measures --------------------------------------------------------------------


def center_of(agg: Aggregate) -> float:
    """The midpoint c of the argument's bounds: VAR and STDDEV sum x − c and (x − c)²."""
    assert agg.lower is not None and agg.upper is not None
    return (agg.lower + agg.upper) / 2


def _number(value: float) -> exp.Expr:
    """A DOUBLE constant (bounds are compared in DOUBLE, like the clamp)."""
    return exp.cast(exp.Literal.number(repr(float(value))), exp.DataType.build("DOUBLE"))


def _centered(agg: Aggregate) -> tuple[exp.Expr, float, float]:
    """x − c over [L − c, U − c]: clamping it there is clamping x to [L, U], minus c."""
    assert agg.arg is not None and agg.lower is not None and agg.upper is not None
    c = center_of(agg)
    tree = snap(exp.Sub(this=double(agg.arg.copy()), expression=_number(c)))
    return tree, agg.lower - c, agg.upper - c


def _square(agg: Aggregate) -> tuple[exp.Expr, float, float]:
    """(x − c)² over [0, (U − L)²/4].

    Variance is shift-invariant, so VAR and STDDEV are computed from the sums of
    x − c and (x − c)² around the bounds' midpoint c. A person then moves the sum
    of squares by at most R·(U − L)²/4 rather than R·max(L², U²) (for ages in
    [0, 100]: 2,500 per row instead of 10,000), and the sum by R·(U − L)/2: the
    same ε buys a quarter of the noise on the term that dominates the error.
    """
    assert agg.arg is not None and agg.lower is not None and agg.upper is not None
    c = center_of(agg)
    half = (agg.upper - agg.lower) / 2
    shifted = exp.Paren(this=exp.Sub(this=double(agg.arg.copy()), expression=_number(c)))
    tree = snap(exp.Mul(this=shifted, expression=shifted.copy()))
    return tree, 0.0, half * half


def _needs_variance(agg: Aggregate, need: Need) -> tuple[str, ...]:
    ctree, clo, chi = _centered(agg)
    tree, slo, shi = _square(agg)
    return (need("count", agg.column, agg.arg),
            need("centered_sum", agg.column, ctree, clo, chi),
            need("sum", f"({agg.column}) ^ 2", tree, slo, shi))


def _needs_quantile(agg: Aggregate, need: Need) -> tuple[str, ...]:
    return (need("hist", agg.column, agg.arg, agg.lower, agg.upper, agg.quantile),)


def _integer(agg: Aggregate) -> str:
    return "integer"


def _floating(agg: Aggregate) -> str:
    return "float"


def _bigint(out: Output) -> str:
    return "BIGINT"


def _double(out: Output) -> str:
    return "DOUBLE"


def _counting(name: AggregateKind, spellings: str,
              needs: Callable[[Aggregate, Need], tuple[str, ...]]) -> Kind:
    return Kind(name, "count", spellings, "count", needs, output_type=_integer,
                finish=_count, noisy_type=_bigint, interval=_one)


KINDS: dict[str, Kind] = {k.name: k for k in (
    _counting("count", "COUNT(*)", lambda a, need: (need("count", None),)),
    _counting("count_column", "COUNT(x)", lambda a, need: (need("count", a.column, a.arg),)),
    # a distinct count over the kept rows: each of a person's R rows adds at most
    # one value to one group, as for COUNT(x)
    _counting("count_distinct", "COUNT(DISTINCT x)",
              lambda a, need: (need("count_distinct", a.column, a.arg),)),
    Kind("count_units", "units", "COUNT(DISTINCT <privacy unit>)", "number of people",
         needs=lambda a, need: (need("units", None),), output_type=_integer, finish=_count,
         noisy_type=_bigint, interval=_one),
    Kind("sum", "sum", "SUM(x)", "sum",
         needs=lambda a, need: (need("sum", a.column, a.arg, a.lower, a.upper),),
         output_type=lambda a: "integer" if a.arg_type == "integer" else "float", finish=_sum,
         noisy_type=lambda o: "BIGINT" if o.type == "integer" else "DOUBLE", interval=_one,
         counts=False, bounded=True),
    Kind("avg", "avg", "AVG(x)", "average",
         needs=lambda a, need: (need("sum", a.column, a.arg, a.lower, a.upper),
                                need("count", a.column, a.arg)),
         output_type=_floating, finish=_avg, noisy_type=_double, interval=_avg_interval,
         count_measure=1, bounded=True, clamped=True),
    Kind("var", "var", "VARIANCE/VAR/VAR_SAMP/VAR_POP/VARP(x)", "variance",
         needs=_needs_variance, output_type=_floating, finish=_variance, noisy_type=_double,
         interval=_var_interval, count_measure=0, bounded=True, clamped=True, centered=True),
    Kind("stddev", "stddev", "STDDEV/STD/STDEV/STDDEV_SAMP/STDDEV_POP/STDEVP(x)",
         "standard deviation", needs=_needs_variance, output_type=_floating, finish=_stddev,
         noisy_type=_double, interval=_stddev_interval, count_measure=0, bounded=True,
         clamped=True, centered=True),
    Kind("quantile", "quantile",
         "MEDIAN(x), QUANTILE_CONT(x, q), PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY x), "
         "MIN(x), MAX(x)", "value", needs=_needs_quantile, output_type=_floating,
         finish=_quantile, noisy_type=_double, interval=None, counts=False, bounded=True,
         clamped=True),
)}

# the refusal's list of what is answered (its text is part of the API's messages)
SUPPORTED = ("COUNT, SUM, AVG, VARIANCE/VAR/VAR_SAMP/VAR_POP/VARP, "
             "STDDEV/STD/STDEV/STDDEV_SAMP/STDDEV_POP/STDEVP, MEDIAN, "
             "QUANTILE_CONT(x, q), PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY x), MIN, MAX")


# kinds sharing an output (the three COUNTs) finish alike: the first one stands for them
_BY_OUTPUT: dict[str, Kind] = {}
for _kind in KINDS.values():
    _BY_OUTPUT.setdefault(_kind.output, _kind)


def value_kind(output: OutputKind) -> Kind:
    """The kind behind a value column of the noisy table (`Output.kind`); read once
    per released cell, so a lookup rather than a scan of the registry."""
    return _BY_OUTPUT[output]


def value_of(name: str, agg: Aggregate, need: Need) -> Output:
    """The noisy table's column `name` for one aggregate, asking `need` for its measures."""
    kind = KINDS[agg.kind]
    lower, upper = (agg.lower, agg.upper) if kind.clamped else (None, None)
    return Output(name, kind.output, kind.output_type(agg), measures=kind.needs(agg, need),
                  lower=lower, upper=upper, quantile=agg.quantile, population=agg.population,
                  center=center_of(agg) if kind.centered else 0.0)
