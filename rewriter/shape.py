"""The validated shape of an aggregate query, as plain frozen data.

`validate` turns a sqlglot tree into a `Shape`; the bounding rewrite and the
plan read only the shape, never the analyst's tree, so nothing the analyst wrote
reaches the engine unless validation rebuilt it from allowed parts.

A shape has two halves:

* what the engine computes: the aggregates (`Aggregate`), each over a column or
  an expression rebuilt from allowed nodes with interval bounds derived from the
  metadata, per group of `group_columns`;
* what happens after noise (`items`, `having`, `order`, `limit`, `offset`): trees
  over the noisy table, whose columns are `__g<i>` (the public group keys) and
  `__a<j>` (the noisy aggregates). Only noisy values ever reach them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlglot import exp

from .metadata import KeyValue

AggregateKind = Literal[
    "count", "count_column", "count_units", "count_distinct", "sum", "avg", "var", "stddev",
    "quantile",
]


@dataclass(frozen=True)
class Aggregate:
    kind: AggregateKind
    column: str | None  # canonical column name, or the canonical SQL of an expression
    # the argument rebuilt from allowed nodes (columns canonical and quoted); None for COUNT(*)
    arg: exp.Expr | None = field(default=None, compare=False, repr=False)
    lower: float | None = None  # derived bounds of the argument (SUM/AVG/VAR/quantiles)
    upper: float | None = None
    arg_type: str = "float"  # "integer" when the argument is integer-valued
    quantile: float | None = None  # the requested fraction, for kind "quantile"
    population: bool = False  # VAR_POP / STDDEV_POP rather than the sample forms

    def __post_init__(self) -> None:
        if self.kind == "quantile" and not (self.quantile is not None and 0 <= self.quantile <= 1):
            raise ValueError(f"quantile fraction must be in [0, 1], got {self.quantile}")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"aggregate bounds reversed: [{self.lower}, {self.upper}]")


@dataclass(frozen=True)
class SelectItem:
    name: str
    # a tree over the noisy table's columns (`__g<i>`, `__a<j>`)
    expr: exp.Expr = field(compare=False)
    sql: str = ""  # the tree's text, for equality and repr

    @property
    def value(self) -> str | None:
        """The noisy-table column this item is, when it is one unchanged."""
        if isinstance(self.expr, exp.Column) and isinstance(self.expr.this, exp.Identifier):
            return self.expr.name
        return None


@dataclass(frozen=True)
class CappedSource:
    """A private table of a join, capped to its own rows per person before joining.

    The rewrite replaces the table by at most `max_rows_per_unit` of each person's
    rows, chosen at random, so a join on the unit costs at most the product of
    the caps per person, however many rows one person holds.
    """

    alias: str  # the table's alias in the rewritten SQL (`__t<i>`)
    table: str
    privacy_unit: str
    max_rows_per_unit: int
    # in FROM or inner-joined: a WHERE conjunct naming only this table commutes with
    # the joins and may filter before the cap (not so on the right of a LEFT JOIN)
    filters_first: bool

    def __post_init__(self) -> None:
        if self.max_rows_per_unit < 1:
            raise ValueError(f"max_rows_per_unit must be at least 1, got {self.max_rows_per_unit}")


@dataclass(frozen=True)
class Shape:
    table: str
    privacy_unit: str
    max_rows_per_unit: int
    max_groups_per_unit: int
    group_columns: tuple[str, ...]  # each group key's text (a column name when plain)
    # every combination of declared keys; empty under partition selection
    group_keys: tuple[tuple[KeyValue, ...], ...]
    aggregates: tuple[Aggregate, ...]
    items: tuple[SelectItem, ...]
    # the WHERE predicate rebuilt from allowed nodes, columns unqualified and canonical
    where: exp.Expr | None = field(default=None, compare=False)
    having: exp.Expr | None = field(default=None, compare=False)
    order: tuple[exp.Ordered, ...] = field(default=(), compare=False)
    limit: int | None = None
    offset: int | None = None
    # each group key rebuilt from allowed nodes over the table's columns
    group_exprs: tuple[exp.Expr, ...] = field(default=(), compare=False)
    group_types: tuple[str, ...] = ()
    # FROM: the private table (aliased `__t0` in joins), joined public tables, the unit column
    source: exp.Expr | None = field(default=None, compare=False)
    joins: tuple[exp.Join, ...] = field(default=(), compare=False)
    unit: exp.Expr | None = field(default=None, compare=False)
    # declared keys per group key; None where the keys come from partition selection
    declared: tuple[tuple[KeyValue, ...] | None, ...] = ()
    # joins only: each private table, capped per person before the joins
    capped: tuple[CappedSource, ...] = ()

    @property
    def selection(self) -> bool:
        """True when groups are released only through partition selection (SPEC §4.4)."""
        return any(d is None for d in self.declared)
