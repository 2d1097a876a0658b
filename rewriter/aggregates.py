"""Recognise one aggregate call and describe it as an `Aggregate`.

The argument is rebuilt by `RowExpressions`, so it can only hold allow-listed
nodes; SUM, AVG, VAR, STDDEV and the quantiles need an argument with bounds
derived from the metadata (interval arithmetic), else they are refused with a
message naming the unbounded part.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from .expressions import ExprError
from .kinds import SUPPORTED
from .shape import Aggregate

if TYPE_CHECKING:
    from .scope import Scope

_VARIANCE: dict[type[exp.Expr], tuple[str, bool]] = {
    exp.Variance: ("var", False), exp.VariancePop: ("var", True),
    exp.Stddev: ("stddev", False), exp.StddevSamp: ("stddev", False),
    exp.StddevPop: ("stddev", True)}


# Spellings sqlglot leaves as plain function calls: (kind, population). VAR and STD
# are the sample forms, as in T-SQL and SmartNoise (MySQL's STD is the population
# one; at the group sizes partition selection releases the two differ by < 1 %);
# VARP and STDEVP are T-SQL's population forms.
_NAMED_VARIANCE = {"var_samp": ("var", False), "var": ("var", False), "varp": ("var", True),
                   "stddev_samp": ("stddev", False), "std": ("stddev", False),
                   "stdevp": ("stddev", True)}


def is_aggregate(node: exp.Expr) -> bool:
    if isinstance(node, (exp.AggFunc, exp.WithinGroup)):
        return True
    return isinstance(node, exp.Anonymous) and node.name.lower() in (
        "quantile_cont", "quantile", "percentile_cont", *_NAMED_VARIANCE)


def aggregate(node: exp.Expr, ctx: Scope) -> Aggregate:
    try:
        return _aggregate(node, ctx)
    except ExprError as err:
        raise ctx.refuse(f"{_fn(node)}: {err.message}", node) from None


def _fn(node: exp.Expr) -> str:
    text = node.sql()
    return text if len(text) < 80 else type(node).__name__.upper()


def _no_nesting(arg: exp.Expr, node: exp.Expr, ctx: Scope) -> None:
    for inner in arg.walk():
        if is_aggregate(inner):
            raise ctx.refuse(f"{_fn(node)}: aggregates cannot be nested", inner)
        if isinstance(inner, exp.Window):
            raise ctx.refuse("window functions release per-row values; use GROUP BY", inner)


def _bounded_arg(arg: exp.Expr, node: exp.Expr, fn: str, ctx: Scope) -> Aggregate:
    if isinstance(arg, exp.Distinct):
        raise ctx.refuse(f"{fn}(DISTINCT …) is not supported; drop DISTINCT", node)
    _no_nesting(arg, node, ctx)
    rows = ctx.rows()
    plain = rows.scalar(arg)
    typed = rows.as_number(plain, arg, f"{fn} of it")
    assert typed.lower is not None and typed.upper is not None
    return Aggregate("sum", plain.raw_column or _canonical(arg), typed.tree, typed.lower,
                     typed.upper, "integer" if typed.type == "integer" else "float")


def _canonical(tree: exp.Expr) -> str:
    """The analyst's argument as normalized text: names the measure, dedupes it."""
    return tree.sql(dialect="duckdb", normalize=True, comments=False)


def _with(base: Aggregate, kind: str, quantile: float | None = None,
          population: bool = False) -> Aggregate:
    return Aggregate(kind, base.column, base.arg, base.lower, base.upper,  # type: ignore[arg-type]
                     base.arg_type, quantile, population)


def _fraction(node: exp.Expr | None, owner: exp.Expr, ctx: Scope) -> float:
    if not (isinstance(node, exp.Literal) and not node.is_string):
        raise ctx.refuse(f"{_fn(owner)}: the fraction must be a constant between 0 and 1", owner)
    value = float(node.this)
    if not 0 <= value <= 1:
        raise ctx.refuse(f"{_fn(owner)}: the fraction {value} is not between 0 and 1", owner)
    return value


def _aggregate(node: exp.Expr, ctx: Scope) -> Aggregate:  # noqa: C901
    if isinstance(node, exp.Count):
        arg = node.this
        if isinstance(arg, exp.Star):
            return Aggregate("count", None)
        if isinstance(arg, exp.Distinct):
            inner = arg.expressions
            if len(inner) == 1 and isinstance(inner[0], exp.Column) and ctx.is_unit(inner[0]):
                return Aggregate("count_units", None)
            if len(inner) == 1:
                # Sensitivity: after the caps a person keeps at most R rows, and each
                # adds at most one distinct value to the one group it lands in, so the
                # person moves the distinct counts by at most R in total (L1), R²
                # (L2²), exactly like COUNT(col) (measures.py): the count is over the
                # kept rows, never over the raw table.
                _no_nesting(inner[0], node, ctx)
                typed = ctx.rows().scalar(inner[0])
                return Aggregate("count_distinct", typed.raw_column or _canonical(inner[0]),
                                 typed.tree)
            raise ctx.refuse(
                f"{_fn(node)}: COUNT(DISTINCT …) takes one expression; group by one "
                f"column and count the distinct values of the other "
                f"(SELECT a, COUNT(DISTINCT b) … GROUP BY a)",
                node,
            )
        if arg is None:
            raise ctx.refuse(f"{_fn(node)}: COUNT takes * or an expression", node)
        _no_nesting(arg, node, ctx)
        typed = ctx.rows().scalar(arg)
        return Aggregate("count_column", typed.raw_column or _canonical(arg), typed.tree)
    if isinstance(node, (exp.Sum, exp.Avg)):
        fn = type(node).__name__.upper()
        base = _bounded_arg(node.this, node, fn, ctx)
        return base if fn == "SUM" else _with(base, "avg")
    if type(node) in _VARIANCE:
        kind, population = _VARIANCE[type(node)]
        base = _bounded_arg(node.this, node, type(node).__name__.upper(), ctx)
        return _with(base, kind, population=population)
    if isinstance(node, exp.Anonymous) and node.name.lower() in _NAMED_VARIANCE:
        if len(node.expressions) != 1:
            raise ctx.refuse(f"{_fn(node)} takes one argument", node)
        kind, population = _NAMED_VARIANCE[node.name.lower()]
        base = _bounded_arg(node.expressions[0], node, node.name.upper(), ctx)
        return _with(base, kind, population=population)
    if isinstance(node, (exp.Median, exp.Min, exp.Max)):
        fn = type(node).__name__.upper()
        base = _bounded_arg(node.this, node, fn, ctx)
        q = {"MEDIAN": 0.5, "MIN": 0.0, "MAX": 1.0}[fn]
        return _with(base, "quantile", q)
    if isinstance(node, exp.Anonymous) and node.name.lower() in ("quantile_cont", "quantile"):
        if len(node.expressions) != 2:
            raise ctx.refuse(f"{_fn(node)}: write QUANTILE_CONT(column, fraction)", node)
        base = _bounded_arg(node.expressions[0], node, "QUANTILE_CONT", ctx)
        return _with(base, "quantile", _fraction(node.expressions[1], node, ctx))
    if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
        order = node.expression
        if not isinstance(order, exp.Order) or len(order.expressions) != 1:
            raise ctx.refuse(f"{_fn(node)}: ORDER BY one expression", node)
        ordered = order.expressions[0]
        q = _fraction(node.this.this, node, ctx)
        if ordered.args.get("desc"):
            q = 1 - q
        base = _bounded_arg(ordered.this, node, "PERCENTILE_CONT", ctx)
        return _with(base, "quantile", q)
    if isinstance(node, exp.Window):
        raise ctx.refuse("window functions release per-row values; use GROUP BY instead", node)
    raise ctx.refuse(f"{_fn(node)}: this aggregate is not supported; use {SUPPORTED}", node)
