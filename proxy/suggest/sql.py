"""The assistant's SQL on the engine: per-person counts and values, counts over the
fixed grids, built as sqlglot trees and generated once per dialect."""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from rewriter.distributed import keyed_selection

from ..engines.base import Engine


def engine_sql(engine: Engine, query: exp.Select) -> str:
    """The query in the engine's SQL; on Spark the random row order becomes a keyed
    hash of a per-query salt, as in the query rewrite (rewriter/distributed.py)."""
    if engine.dialect == "spark":
        query = keyed_selection(query.copy())
    return query.sql(dialect=engine.dialect)


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def col_ref(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def per_person(table: str, unit: str, value: exp.Expression) -> exp.Select:
    """SELECT <value> AS v FROM table WHERE unit IS NOT NULL GROUP BY unit."""
    return (exp.select(exp.alias_(value, "v", quoted=True))
            .from_(exp.Table(this=ident(table)))
            .where(exp.Not(this=exp.Is(this=col_ref(unit), expression=exp.Null())))
            .group_by(col_ref(unit)))


def ranked(table: str, unit: str, column: str, *, non_null: bool) -> exp.Select:
    """`column` as v, and each row's rank among its person's rows in a random order
    (the random key is drawn in a subquery: engines refuse a volatile window order)."""
    keyed = (exp.select(exp.alias_(col_ref(unit), "u", quoted=True),
                        exp.alias_(col_ref(column), "v", quoted=True),
                        exp.alias_(exp.Rand(), "r", quoted=True))
             .from_(exp.Table(this=ident(table))))
    condition: exp.Condition = exp.Not(this=exp.Is(this=col_ref(unit), expression=exp.Null()))
    if non_null:
        condition = exp.and_(condition,
                             exp.Not(this=exp.Is(this=col_ref(column), expression=exp.Null())))
    keyed = keyed.where(condition)
    number = exp.Window(this=exp.RowNumber(), partition_by=[col_ref("u")],
                        order=exp.Order(expressions=[exp.Ordered(this=col_ref("r"))]))
    return (exp.select(col_ref("v"), exp.alias_(number, "rn", quoted=True))
            .from_(keyed.subquery("k")))


def one_value_per_person(table: str, unit: str, column: str) -> exp.Select:
    """One non-NULL value of `column` per person, chosen at random (not by data order)."""
    return (exp.select(col_ref("v")).from_(ranked(table, unit, column, non_null=True)
                                           .subquery("o"))
            .where(exp.EQ(this=col_ref("rn"), expression=exp.Literal.number(1))))


def rows_kept(table: str, unit: str, column: str, cap: int) -> exp.Select:
    """The non-NULL values of `column` in the rows a cap of `cap` rows per person keeps
    (the cap picks rows at random, as the query rewrite does)."""
    return (exp.select(col_ref("v")).from_(ranked(table, unit, column, non_null=False)
                                           .subquery("o"))
            .where(exp.and_(exp.LTE(this=col_ref("rn"), expression=exp.Literal.number(cap)),
                            exp.Not(this=exp.Is(this=col_ref("v"), expression=exp.Null())))))


def indicator(condition: exp.Expression) -> exp.Expression:
    return exp.Sum(this=exp.Case(ifs=[exp.If(this=condition, true=exp.Literal.number(1))],
                                 default=exp.Literal.number(0)))


def number_literal(value: float) -> exp.Expression:
    return exp.Literal.number(repr(float(value)) if not float(value).is_integer()
                              else int(value))


def grid_counts(engine: Engine, population: exp.Select,
                grid: Sequence[float]) -> tuple[list[int], list[int]]:
    """#(v < c) and #(v <= c) for every candidate c, in one scan. A lower bound is read
    from the first (the tightest c with few values below it), an upper bound or a cap
    from the second (a cap of c keeps a person with exactly c rows whole)."""
    v = col_ref("v", "s")
    sums: list[exp.Expression] = []
    for c in grid:
        sums.append(indicator(exp.LT(this=v.copy(), expression=number_literal(c))))
        sums.append(indicator(exp.LTE(this=v.copy(), expression=number_literal(c))))
    query = exp.select(*sums).from_(population.subquery("s"))
    row = engine.execute(engine_sql(engine, query)).rows[0]
    values = [int(x or 0) for x in row]
    return values[0::2], values[1::2]


def total_count(engine: Engine, population: exp.Select) -> int:
    query = exp.select(exp.Count(this=exp.Star())).from_(population.subquery("s"))
    return int(engine.execute(engine_sql(engine, query)).rows[0][0])


EXCESS = 3  # a person's rows beyond the cap are counted up to 3 × the cap


def cap_counts(engine: Engine, population: exp.Select, cap: int) -> tuple[int, int, int]:
    """Σ min(x, cap) (units kept), Σ min(max(x − cap, 0), E) (units dropped, each person's
    counted up to E = 3·cap) and #(x > cap + E), over the per-person counts x."""
    x = col_ref("v", "s")
    clip = EXCESS * cap
    kept = exp.Sum(this=exp.Least(this=x.copy(), expressions=[exp.Literal.number(cap)]))
    excess = exp.Greatest(this=exp.Sub(this=x.copy(), expression=exp.Literal.number(cap)),
                          expressions=[exp.Literal.number(0)])
    dropped = exp.Sum(this=exp.Least(this=excess, expressions=[exp.Literal.number(clip)]))
    beyond = indicator(exp.GT(this=x.copy(), expression=exp.Literal.number(cap + clip)))
    query = exp.select(kept, dropped, beyond).from_(population.subquery("s"))
    row = engine.execute(engine_sql(engine, query)).rows[0]
    k, d, o = (int(v or 0) for v in row)
    return k, d, o
