"""Post-processing: the analyst's expressions over aggregates (outer
arithmetic, HAVING, ORDER BY, LIMIT/OFFSET), evaluated after noise.

The engine computes only the measures. After noise, the released values form a
small table `__noisy` (one row per public group: the keys `__g<i>`, the noisy
aggregates `__a<j>` and the group's position `__slot`), and the query built here
runs on it in a fresh in-memory DuckDB with external access disabled. Only
noisy values and public keys ever reach it, so whatever it computes is
post-processing and costs no privacy; HAVING filters noisy values of public
groups, so it cannot isolate anyone.

The expressions are still allow-listed (no file readers, no arbitrary
functions), divisions get NULLIF denominators, casts become TRY_CAST,
aggregates inside arithmetic are DOUBLE, and every output, HAVING and ORDER BY
expression is wrapped in DuckDB's TRY(), so nothing raises on a value: what
would overflow (an integer key times a constant) is NULL instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlglot import exp

from .aggregates import aggregate, is_aggregate
from .naming import NOISY, SLOT, key_column, value_column
from .scope import resolve_column
from .shape import Aggregate

if TYPE_CHECKING:
    from .scope import Scope
    from .shape import Shape


_POST_NODES: tuple[type[exp.Expr], ...] = (
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.Paren,
    exp.Literal, exp.Boolean, exp.Null,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.And, exp.Or, exp.Not, exp.Is, exp.In, exp.Between, exp.Like, exp.ILike,
    exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Abs, exp.Round, exp.Floor, exp.Ceil,
    exp.Least, exp.Greatest, exp.Sqrt, exp.Cast, exp.TryCast, exp.DataType, exp.DPipe,
    # Functions of noisy values (or of nothing): post-processing, so any function is
    # private; these are total under TRY() (LN(0), a huge POWER: NULL, never an error).
    # RANDOM() draws from DuckDB's generator, not from the data.
    exp.Pow, exp.Ln, exp.Log, exp.Exp, exp.Pi, exp.Rand, exp.Sign, exp.Cbrt,
)
POST_FUNCTIONS = ("+ - * / %, comparisons, AND/OR/NOT, CASE, COALESCE, NULLIF, ABS, ROUND, "
                  "FLOOR, CEIL, SQRT, CBRT, POWER, EXP, LN, LOG, SIGN, PI, RANDOM, LEAST, "
                  "GREATEST, CAST, ||")


def _col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


class PostExpressions:
    """Rewrite expressions over aggregates and group keys into trees over `__noisy`."""

    def __init__(self, ctx: Scope, group_texts: tuple[str, ...],
                 text_of: Callable[[exp.Expr], str]) -> None:
        self.ctx = ctx
        self.group_texts = group_texts
        self.text_of = text_of
        self.aggregates: list[Aggregate] = []

    def _value(self, agg: Aggregate) -> str:
        for j, known in enumerate(self.aggregates):
            if known == agg:
                return value_column(j)
        self.aggregates.append(agg)
        return value_column(len(self.aggregates) - 1)

    def hidden_count(self) -> None:
        """COUNT(*) among the aggregates, selected by no output (a keys-only GROUP BY)."""
        self._value(Aggregate("count", None))

    def rewrite(self, node: exp.Expr, aliases: dict[str, exp.Expr], clause: str,
                prefer_columns: bool = False) -> exp.Expr:
        """The analyst's expression over `__noisy`; a bare aggregate or key stays bare."""
        bare = self._leaf(node, aliases, clause, prefer_columns)
        if bare is not None:
            return bare
        tree = self._walk(node, aliases, clause, prefer_columns, 0)
        return tree

    def _leaf(self, node: exp.Expr, aliases: dict[str, exp.Expr], clause: str,
              prefer_columns: bool) -> exp.Expr | None:
        if isinstance(node, exp.Window):
            raise self.ctx.refuse(
                "window functions release per-row values; use GROUP BY instead", node)
        if is_aggregate(node):
            return _col(self._value(aggregate(node, self.ctx)))
        group = self._group_index(node)
        if group is not None and not (isinstance(node, exp.Column) and not prefer_columns
                                      and node.name.lower() in aliases and not node.table):
            return _col(key_column(group))
        if isinstance(node, exp.Column):
            if isinstance(node.this, exp.Star):
                raise self.ctx.refuse("SELECT * would release raw rows; select aggregates", node)
            alias = aliases.get(node.name.lower()) if not node.table else None
            if alias is not None:
                return alias.copy()

            resolve_column(node, self.ctx)  # a clear message for an unknown column
            raise self.ctx.refuse(
                f"{node.sql()} is not aggregated, so it would release raw values; wrap it in an "
                f"aggregate or add it to GROUP BY ({clause})",
                node,
            )
        return None

    def _group_index(self, node: exp.Expr) -> int | None:
        text = self.text_of(node)
        if text in self.group_texts:
            return self.group_texts.index(text)
        return None

    def _walk(self, node: exp.Expr, aliases: dict[str, exp.Expr], clause: str,
              prefer_columns: bool, depth: int) -> exp.Expr:
        if depth > 40:
            raise self.ctx.refuse("the expression nests too deeply; simplify it", node)
        leaf = self._leaf(node, aliases, clause, prefer_columns)
        if leaf is not None:
            if isinstance(leaf, exp.Column) and leaf.name.startswith("__a"):
                return exp.cast(leaf, exp.DataType.build("DOUBLE"))
            return leaf
        if isinstance(node, (exp.Subquery, exp.Select, exp.Exists)):
            raise self.ctx.refuse(
                f"{clause}: subqueries are not allowed; ask them as their own query", node)
        if not isinstance(node, _POST_NODES):
            raise self.ctx.refuse(
                f"{clause}: {_short(node)} is not allowed over aggregates; use {POST_FUNCTIONS}",
                node,
            )
        if isinstance(node, exp.Rand) and any(node.args.values()):
            raise self.ctx.refuse(f"{clause}: write RANDOM() without a seed", node)
        if isinstance(node, exp.Rand) and (depth > 0 or clause != "SELECT"):
            # DuckDB cannot wrap a volatile function in TRY(), so RANDOM() stands
            # alone, where it cannot raise: no noisy value can change its status
            raise self.ctx.refuse(
                f"{clause}: RANDOM() may only be a select item of its own; combine it with "
                "other outputs in your client", node)
        if isinstance(node, exp.In) and (node.args.get("query") or node.args.get("unnest")):
            raise self.ctx.refuse(f"{clause}: IN (SELECT …) is not allowed; list constants", node)
        if isinstance(node, exp.Literal) or isinstance(node, (exp.Boolean, exp.Null,
                                                              exp.DataType)):
            return node.copy()
        # the node without its children (copying the subtree at every level was
        # quadratic); the loop sets each child, rewritten
        rebuilt = type(node)(**{k: v for k, v in node.args.items()
                                if not isinstance(v, (exp.Expr, list))})
        for key, value in node.args.items():
            if isinstance(value, exp.Expr):
                rebuilt.set(key, self._walk(value, aliases, clause, prefer_columns, depth + 1))
            elif isinstance(value, list):
                rebuilt.set(key, [
                    self._walk(v, aliases, clause, prefer_columns, depth + 1)
                    if isinstance(v, exp.Expr) else v for v in value
                ])
        if isinstance(rebuilt, (exp.Div, exp.Mod)):
            rebuilt.set("expression", exp.Nullif(this=rebuilt.expression,
                                                 expression=exp.Literal.number(0)))
        if isinstance(rebuilt, exp.Cast) and not isinstance(rebuilt, exp.TryCast):
            rebuilt = exp.TryCast(this=rebuilt.this, to=rebuilt.args["to"])
        return rebuilt


def _short(node: exp.Expr) -> str:
    text = node.sql()
    return text if len(text) < 80 else type(node).__name__.upper()


def _total(tree: exp.Expr) -> exp.Expr:
    """TRY(x): NULL where x would raise on some noisy value (an integer key or
    constant overflowing, ABS of the smallest BIGINT), so the answer's status
    never depends on the noise either; binder errors still raise, in the
    planner's dry run, before any charge."""
    if isinstance(tree, (exp.Column, exp.Literal, exp.Rand)):
        return tree  # (RANDOM() stands alone: PostExpressions refuses it inside anything)
    return exp.Anonymous(this="TRY", expressions=[tree])


def post_query(shape: Shape) -> exp.Select:
    """SELECT items FROM __noisy WHERE having ORDER BY order, __slot LIMIT … OFFSET …"""
    select = exp.select(*(
        exp.alias_(_total(item.expr.copy()), item.name, quoted=True) for item in shape.items
    )).from_(exp.Table(this=exp.to_identifier(NOISY, quoted=True)))
    if shape.having is not None:
        select = select.where(_total(shape.having.copy()))
    order = [o.copy() for o in shape.order]
    for o in order:
        o.set("this", _total(o.this))
    order.append(exp.Ordered(this=_col(SLOT), nulls_first=False))
    select = select.order_by(*order)
    if shape.limit is not None:
        select = select.limit(shape.limit)
    if shape.offset is not None:
        select = select.offset(shape.offset)
    return select


