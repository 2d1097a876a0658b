"""Row expressions: the allow-listed scalar SQL that may run on private rows
(inside WHERE and inside aggregates), rebuilt node by node, typed from the
metadata, with numeric bounds derived by interval arithmetic.

Nothing built here can fail at run time whatever the data holds:

* numeric columns enter arithmetic as DOUBLE clamped to their declared bounds
  (an unbounded column in arithmetic is refused), so no integer overflows;
* every product, quotient and function result is snapped to a 2⁻⁴⁰ grid
  (`ROUND(x * 2^40) / 2^40`) and every intermediate is bounded by 1e100, so
  PostgreSQL's float overflow/underflow errors cannot trigger;
* denominators are wrapped in NULLIF(…, 0): dividing by zero gives NULL;
* casts from text to numbers are refused (no dialect-neutral safe form), and
  casts to integers only when the bounds fit.

The derived interval is later used as the clamp of the aggregate's argument, so
sensitivity follows from the clamp even if an interval were loose.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from .metadata import NUMERIC_TYPES, Column

SNAP = 2.0**40
MAX_MAGNITUDE = 1e100
MAX_LITERAL = 1e15
MIN_LITERAL = 1e-12
MAX_DEPTH = 40

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_DATE_PARTS = {
    "YEAR": (1.0, 294277.0), "QUARTER": (1.0, 4.0), "MONTH": (1.0, 12.0), "DAY": (1.0, 31.0),
    "DOW": (0.0, 6.0), "DOY": (1.0, 366.0), "HOUR": (0.0, 23.0), "MINUTE": (0.0, 59.0),
    "WEEK": (1.0, 53.0),
}
_DATE_FUNCS: dict[type[exp.Expression], str] = {
    exp.Year: "YEAR", exp.Month: "MONTH", exp.Day: "DAY", exp.Quarter: "QUARTER",
    exp.DayOfWeek: "DOW", exp.DayOfYear: "DOY", exp.Week: "WEEK",
}
# Every node class RowExpressions accepts (the dispatch below handles exactly these);
# tests/rewriter/test_allowed_nodes.py demands a fixture for each.
ROW_NODES: tuple[type[exp.Expression], ...] = (
    exp.Paren, exp.Column, exp.Literal, exp.Boolean, exp.Null, exp.Neg,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Abs, exp.Round, exp.Floor, exp.Ceil,
    exp.Least, exp.Greatest, exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Cast,
    exp.Extract, exp.Year, exp.Month, exp.Day, exp.Quarter, exp.DayOfWeek, exp.DayOfYear,
    exp.Week, *_COMPARISONS, exp.And, exp.Or, exp.Not, exp.Is, exp.In, exp.Between,
    exp.Like, exp.ILike,
)
ALLOWED_ROW_FUNCTIONS = (
    "+ - * / (division by zero gives NULL), CASE, COALESCE, NULLIF, ABS, ROUND, FLOOR, CEIL, "
    "LEAST, GREATEST, CAST (to DOUBLE, INTEGER when bounded, VARCHAR, DATE), EXTRACT/YEAR/"
    "MONTH/DAY of dates, comparisons, IN, BETWEEN, LIKE, IS NULL, AND/OR/NOT"
)


class ExprError(Exception):
    """A row expression dpsql will not run; `node` is where the problem starts."""

    def __init__(self, message: str, node: exp.Expression) -> None:
        super().__init__(message)
        self.message = message
        self.node = node


@dataclass(frozen=True)
class Typed:
    """A rebuilt expression, its type class and, for numbers, its bounds."""

    tree: exp.Expression
    type: str  # integer | float | text | boolean | date | timestamp | null
    lower: float | None = None
    upper: float | None = None
    raw_column: str | None = None  # set when the tree is a bare column reference

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    @property
    def bounded(self) -> bool:
        return self.lower is not None and self.upper is not None


Resolve = Callable[[exp.Column], tuple[str, Column]]


def _num(value: float) -> exp.Expression:
    literal = exp.Literal.number(repr(float(abs(value))))
    return exp.Neg(this=literal) if value < 0 else literal


def double(tree: exp.Expression) -> exp.Expression:
    return exp.cast(tree, exp.DataType.build("DOUBLE"))


def snap(tree: exp.Expression) -> exp.Expression:
    """ROUND(x * 2^40) / 2^40: no non-zero value smaller than 2^-40 survives."""
    return exp.Div(
        this=exp.Round(this=exp.Mul(this=exp.Paren(this=tree), expression=_num(SNAP))),
        expression=_num(SNAP),
    )


def clamp(tree: exp.Expression, lower: float, upper: float) -> exp.Expression:
    """CASE WHEN x IS NULL THEN NULL ELSE snap(LEAST(GREATEST(x, lower), upper)) END.

    The explicit NULL branch matters: GREATEST/LEAST skip NULLs in PostgreSQL.
    Clamping comes before snapping (so ±1e308 cannot overflow), snapping before
    any product (so a denormal cannot underflow: PostgreSQL raises on both).
    NaN sorts above every number in both engines, so it clamps to `upper`.
    """
    bounded = exp.Least(
        this=exp.Greatest(this=double(tree), expressions=[_num(lower)], ignore_nulls=True),
        expressions=[_num(upper)], ignore_nulls=True,
    )
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=tree.copy(), expression=exp.Null()), true=exp.Null())],
        default=snap(bounded),
    )


def _hull(*parts: Typed) -> tuple[float | None, float | None]:
    if any(not p.bounded for p in parts if p.type != "null"):
        return None, None
    bounded = [p for p in parts if p.type != "null"]
    if not bounded:
        return None, None
    return min(p.lower for p in bounded), max(p.upper for p in bounded)  # type: ignore[type-var]


class RowExpressions:
    """Check and rebuild expressions over one table's columns."""

    def __init__(self, resolve: Resolve,
                 tree_of: Callable[[exp.Column], exp.Column] | None = None) -> None:
        self.resolve = resolve
        self.tree_of = tree_of

    # -- numbers -----------------------------------------------------------

    def number(self, node: exp.Expression, what: str) -> Typed:
        """A numeric expression usable in arithmetic: DOUBLE, clamped, bounded."""
        typed = self.scalar(node)
        if typed.type == "null":
            return Typed(exp.Null(), "float", 0.0, 0.0)
        if not typed.numeric:
            raise ExprError(f"{node.sql()} is {typed.type}, not a number; {what}", node)
        if not typed.bounded:
            name = typed.raw_column or node.sql()
            raise ExprError(
                f"{name} has no declared bounds, so {what} could grow without limit; ask the "
                f"data owner to declare lower/upper for it, or clamp it with LEAST/GREATEST",
                node,
            )
        if typed.raw_column is not None:
            assert typed.lower is not None and typed.upper is not None
            return Typed(clamp(typed.tree, typed.lower, typed.upper), typed.type,
                         typed.lower, typed.upper)
        return typed

    def _checked(self, tree: exp.Expression, type_: str, lo: float, hi: float,
                 node: exp.Expression) -> Typed:
        if not (math.isfinite(lo) and math.isfinite(hi)) or max(abs(lo), abs(hi)) > MAX_MAGNITUDE:
            raise ExprError(
                f"{node.sql()} could reach ±{max(abs(lo), abs(hi)):.3g}, beyond what dpsql "
                "computes safely (1e100); use smaller constants or tighter bounds",
                node,
            )
        return Typed(tree, type_, lo, hi)

    def scalar(self, node: exp.Expression, depth: int = 0) -> Typed:  # noqa: C901
        if depth > MAX_DEPTH:
            raise ExprError("the expression nests too deeply; simplify it", node)
        d = depth + 1
        if isinstance(node, exp.Paren):
            inner = self.scalar(node.this, d)
            return Typed(exp.Paren(this=inner.tree), inner.type, inner.lower, inner.upper,
                         inner.raw_column)
        if isinstance(node, exp.Column):
            name, column = self.resolve(node)
            tree = self.tree_of(node) if self.tree_of else exp.column(name, quoted=True)
            if column.type in NUMERIC_TYPES and column.bounded:
                return Typed(tree, column.type, float(column.lower),  # type: ignore[arg-type]
                             float(column.upper), raw_column=name)  # type: ignore[arg-type]
            return Typed(tree, column.type, raw_column=name)
        if isinstance(node, exp.Literal):
            if node.is_string:
                return Typed(exp.Literal.string(node.this), "text")
            try:
                value = float(node.this)
            except ValueError:
                raise ExprError(f"{node.sql()} is not a number", node) from None
            if not math.isfinite(value) or abs(value) > MAX_LITERAL or (
                value != 0 and abs(value) < MIN_LITERAL
            ):
                raise ExprError(
                    f"the constant {node.sql()} is outside what dpsql computes safely "
                    f"(|c| ≤ {MAX_LITERAL:g} and 0 or ≥ {MIN_LITERAL:g})",
                    node,
                )
            integer = value.is_integer() and "." not in node.this and "e" not in node.this.lower()
            return Typed(exp.Literal.number(node.this), "integer" if integer else "float",
                         value, value)
        if isinstance(node, exp.Boolean):
            return Typed(exp.Boolean(this=node.this), "boolean")
        if isinstance(node, exp.Null):
            return Typed(exp.Null(), "null")
        if isinstance(node, exp.Neg):
            inner = self.scalar(node.this, d)
            if inner.type == "null":
                return inner
            n = self.number(node.this, "negating it") if inner.raw_column else inner
            if not n.numeric or not n.bounded:
                n = self.number(node.this, "negating it")
            return Typed(exp.Neg(this=n.tree), n.type, -n.upper, -n.lower)  # type: ignore[operator]
        if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div)):
            return self._arith(node, d)
        if isinstance(node, (exp.Abs, exp.Round, exp.Floor, exp.Ceil)):
            return self._unary_fn(node, d)
        if isinstance(node, (exp.Least, exp.Greatest)):
            args = [self.number(a, f"{type(node).__name__.upper()} of it")
                    for a in [node.this, *node.expressions]]
            fn = min if isinstance(node, exp.Least) else max
            cls = type(node)
            # both engines skip NULL arguments of LEAST/GREATEST: the result agrees
            tree = cls(this=args[0].tree, expressions=[a.tree for a in args[1:]])
            integer = all(a.type == "integer" for a in args)
            return Typed(tree, "integer" if integer else "float",
                         fn(a.lower for a in args), fn(a.upper for a in args))  # type: ignore
        if isinstance(node, (exp.Case, exp.If)):
            return self._case(node, d)
        if isinstance(node, exp.Coalesce):
            args = [self.scalar(a, d) for a in [node.this, *node.expressions]]
            return self._same_type(node, args, lambda ts: exp.Coalesce(
                this=ts[0], expressions=ts[1:]))
        if isinstance(node, exp.Nullif):
            a, b = self.scalar(node.this, d), self.scalar(node.expression, d)
            self._comparable(node, a, b)
            lo, hi = (min(a.lower, 0.0), max(a.upper, 0.0)) if a.bounded else (None, None)  # type: ignore
            return Typed(exp.Nullif(this=a.tree, expression=b.tree), a.type, lo, hi)
        if isinstance(node, (exp.Cast, exp.TryCast)):
            return self._cast(node, d)
        if isinstance(node, exp.Extract) or type(node) in _DATE_FUNCS:
            return self._date_part(node, d)
        if self._is_predicate(node):
            return Typed(self.predicate(node, d), "boolean")
        raise ExprError(
            f"{_short(node)} is not allowed in an expression over private rows; allowed: "
            f"{ALLOWED_ROW_FUNCTIONS}",
            node,
        )

    def _arith(self, node: exp.Expression, d: int) -> Typed:
        op = {exp.Add: "adding", exp.Sub: "subtracting", exp.Mul: "multiplying",
              exp.Div: "dividing"}[type(node)]
        a = self.number(node.this, f"{op} it")
        b = self.number(node.expression, f"{op} it")
        al, au, bl, bu = a.lower, a.upper, b.lower, b.upper
        assert al is not None and au is not None and bl is not None and bu is not None
        integer = a.type == b.type == "integer"
        if isinstance(node, exp.Add):
            tree: exp.Expression = exp.Add(this=a.tree, expression=b.tree)
            lo, hi = al + bl, au + bu
        elif isinstance(node, exp.Sub):
            tree = exp.Sub(this=a.tree, expression=b.tree)
            lo, hi = al - bu, au - bl
        elif isinstance(node, exp.Mul):
            products = [al * bl, al * bu, au * bl, au * bu]
            lo, hi = min(products), max(products)
            tree = snap(exp.Mul(this=double(a.tree), expression=double(b.tree)))
        else:
            integer = False
            if bl <= 0 <= bu:
                # |denominator| may be as small as one snap step: huge but finite
                big = max(abs(al), abs(au)) * SNAP
                lo, hi = -big, big
                if bl == bu == 0:
                    lo = hi = 0.0
            else:
                quotients = [al / bl, al / bu, au / bl, au / bu]
                lo, hi = min(quotients), max(quotients)
            denominator = exp.Nullif(this=double(b.tree), expression=_num(0.0))
            tree = snap(exp.Div(this=double(a.tree), expression=denominator))
        return self._checked(exp.Paren(this=tree), "integer" if integer else "float", lo, hi, node)

    def _unary_fn(self, node: exp.Expression, d: int) -> Typed:
        if isinstance(node, exp.Round) and node.args.get("decimals") is not None:
            raise ExprError(f"{node.sql()}: ROUND takes one argument here", node)
        a = self.number(node.this, f"{type(node).__name__.upper()} of it")
        assert a.lower is not None and a.upper is not None
        if isinstance(node, exp.Abs):
            lo = 0.0 if a.lower <= 0 <= a.upper else min(abs(a.lower), abs(a.upper))
            return Typed(exp.Abs(this=a.tree), a.type, lo, max(abs(a.lower), abs(a.upper)))
        cls = type(node)
        fn = {exp.Round: round, exp.Floor: math.floor, exp.Ceil: math.ceil}[cls]  # type: ignore
        return Typed(cls(this=double(a.tree)), a.type, float(fn(a.lower)), float(fn(a.upper)))

    def _same_type(self, node: exp.Expression, args: list[Typed],
                   build: Callable[[list[exp.Expression]], exp.Expression]) -> Typed:
        kinds = {("number" if a.numeric else a.type) for a in args if a.type != "null"}
        if len(kinds) > 1:
            raise ExprError(f"{_short(node)}: the branches have different types "
                            f"({', '.join(sorted(kinds))}); make them one type", node)
        kind = kinds.pop() if kinds else "null"
        if kind == "number":
            args = [self.number(a.tree, "using it here") if a.raw_column else a for a in args]
            if any(a.type != "null" and not a.bounded for a in args):
                raise ExprError(f"{_short(node)}: every numeric branch needs bounds", node)
            trees = [double(a.tree) if a.type != "null" else a.tree for a in args]
            lo, hi = _hull(*args)
            integer = all(a.type in ("integer", "null") for a in args)
            return Typed(build(trees), "integer" if integer else "float", lo, hi)
        first = next((a.type for a in args if a.type != "null"), "null")
        return Typed(build([a.tree for a in args]), first)

    def _case(self, node: exp.Expression, d: int) -> Typed:
        if isinstance(node, exp.If):
            conditions = [(node.this, node.args.get("true"))]
            default = node.args.get("false")
        else:
            if node.this is not None:
                raise ExprError("CASE x WHEN … : write CASE WHEN x = … THEN … instead", node)
            conditions = [(i.this, i.args.get("true")) for i in node.args.get("ifs", [])]
            default = node.args.get("default")
        preds = [self.predicate(c, d) for c, _ in conditions]
        branches = [self.scalar(t, d) for _, t in conditions]
        branches.append(self.scalar(default, d) if default is not None
                        else Typed(exp.Null(), "null"))

        def build(trees: list[exp.Expression]) -> exp.Expression:
            pairs = zip(preds, trees[:-1], strict=True)
            return exp.Case(ifs=[exp.If(this=p, true=t) for p, t in pairs],
                            default=trees[-1])
        # without ELSE, NULL when nothing matches: the bounds of the branches still hold
        return self._same_type(node, branches, build)

    def _cast(self, node: exp.Expression, d: int) -> Typed:
        to = node.args["to"]
        inner = self.scalar(node.this, d)
        target = to.this
        T = exp.DataType.Type
        if target in (T.DOUBLE, T.FLOAT, T.DECIMAL) and not to.expressions:
            if inner.numeric:
                n = self.number(inner.tree, "casting it") if inner.raw_column else inner
                if not n.bounded:
                    return Typed(double(inner.tree), "float")
                return Typed(double(n.tree), "float", n.lower, n.upper)
        elif target in (T.INT, T.BIGINT, T.SMALLINT):
            if inner.numeric:
                n = self.number(node.this, "casting it to an integer")
                assert n.lower is not None and n.upper is not None
                if max(abs(n.lower), abs(n.upper)) < 2**31 - 1:
                    return Typed(exp.cast(exp.Round(this=double(n.tree)),
                                          exp.DataType.build("INT")),
                                 "integer", float(round(n.lower)), float(round(n.upper)))
        elif target in (T.VARCHAR, T.TEXT) and not to.expressions:
            if inner.type in ("integer", "text", "boolean", "date"):
                return Typed(exp.cast(inner.tree, exp.DataType.build("VARCHAR")), "text")
        elif target == T.DATE:
            if inner.type in ("date", "timestamp"):
                return Typed(exp.cast(inner.tree, exp.DataType.build("DATE")), "date")
        raise ExprError(
            f"{node.sql()}: this cast could fail on some rows (an error that depends on the "
            "data); cast numbers to DOUBLE or INTEGER (when bounded), integers, booleans and "
            "dates to VARCHAR, timestamps to DATE",
            node,
        )

    def _date_part(self, node: exp.Expression, d: int) -> Typed:
        if isinstance(node, exp.Extract):
            part = node.this.name.upper() if isinstance(node.this, (exp.Var, exp.Identifier)) \
                else ""
            source = node.expression
        else:
            part, source = _DATE_FUNCS[type(node)], node.this
        if part not in _DATE_PARTS:
            raise ExprError(f"{node.sql()}: EXTRACT takes one of {', '.join(_DATE_PARTS)}", node)
        inner = self.scalar(source, d)
        if inner.type not in ("date", "timestamp"):
            raise ExprError(f"{node.sql()}: {source.sql()} is {inner.type}, not a date", node)
        if part in ("HOUR", "MINUTE") and inner.type == "date":
            raise ExprError(f"{node.sql()}: a date has no {part.lower()}", node)
        lo, hi = _DATE_PARTS[part]
        tree = exp.cast(exp.Extract(this=exp.var(part), expression=inner.tree),
                        exp.DataType.build("INT"))
        return Typed(tree, "integer", lo, hi)

    # -- predicates ----------------------------------------------------------

    @staticmethod
    def _is_predicate(node: exp.Expression) -> bool:
        return isinstance(node, (*_COMPARISONS, exp.And, exp.Or, exp.Not, exp.Is, exp.In,
                                 exp.Between, exp.Like, exp.ILike))

    def _comparable(self, node: exp.Expression, *parts: Typed) -> None:
        kinds = {("number" if p.numeric else p.type) for p in parts if p.type != "null"}
        if len(kinds) > 1 and not ({"date", "text"} >= kinds or {"timestamp", "text"} >= kinds):
            raise ExprError(
                f"{node.sql()}: one operand does not match the type of the other "
                f"({' and '.join(sorted(kinds))}); comparing them needs a cast that could fail "
                "on some rows. Compare values of one type (dates as 'YYYY-MM-DD')",
                node,
            )
        if kinds in ({"date", "text"}, {"timestamp", "text"}):
            for p in parts:
                if p.type == "text" and not isinstance(p.tree, exp.Literal):
                    raise ExprError(f"{node.sql()}: compare a date with a date constant", node)
                if p.type == "text":
                    import datetime as dt
                    try:
                        dt.datetime.fromisoformat(p.tree.this)
                    except ValueError:
                        raise ExprError(
                            f"{node.sql()}: {p.tree.sql()} does not match the type of the date; "
                            "write dates as 'YYYY-MM-DD'",
                            node,
                        ) from None

    def predicate(self, node: exp.Expression, depth: int = 0) -> exp.Expression:
        """A boolean condition, rebuilt."""
        d = depth + 1
        if depth > MAX_DEPTH:
            raise ExprError("the condition nests too deeply; simplify it", node)
        if isinstance(node, exp.Paren):
            return exp.Paren(this=self.predicate(node.this, d))
        if isinstance(node, (exp.And, exp.Or)):
            return type(node)(this=self.predicate(node.this, d),
                              expression=self.predicate(node.expression, d))
        if isinstance(node, exp.Not):
            return exp.Not(this=self.predicate(node.this, d))
        if isinstance(node, exp.Boolean):
            return exp.Boolean(this=node.this)
        if isinstance(node, _COMPARISONS):
            a, b = self.scalar(node.this, d), self.scalar(node.expression, d)
            self._comparable(node, a, b)
            return type(node)(this=a.tree, expression=b.tree)
        if isinstance(node, exp.Is):
            if not isinstance(node.expression, exp.Null):
                raise ExprError("IS takes NULL or NOT NULL here", node)
            return exp.Is(this=self.scalar(node.this, d).tree, expression=exp.Null())
        if isinstance(node, exp.In):
            if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
                raise ExprError("IN (SELECT …) is not supported; list constants", node)
            parts = [self.scalar(node.this, d), *(self.scalar(e, d) for e in node.expressions)]
            self._comparable(node, *parts)
            return exp.In(this=parts[0].tree, expressions=[p.tree for p in parts[1:]])
        if isinstance(node, exp.Between):
            parts = [self.scalar(node.this, d), self.scalar(node.args["low"], d),
                     self.scalar(node.args["high"], d)]
            self._comparable(node, *parts)
            return exp.Between(this=parts[0].tree, low=parts[1].tree, high=parts[2].tree)
        if isinstance(node, (exp.Like, exp.ILike)):
            a, b = self.scalar(node.this, d), self.scalar(node.expression, d)
            if a.type != "text" or b.type != "text":
                raise ExprError(f"{node.sql()}: LIKE applies to text columns", node)
            if node.args.get("escape"):
                raise ExprError(f"{node.sql()}: LIKE … ESCAPE is not supported", node)
            return type(node)(this=a.tree, expression=b.tree)
        if isinstance(node, exp.Column):
            typed = self.scalar(node, d)
            if typed.type != "boolean":
                raise ExprError(
                    f"WHERE {typed.raw_column}: a {typed.type} column is not a condition; "
                    "compare it with a constant",
                    node,
                )
            return typed.tree
        if isinstance(node, (exp.Select, exp.Subquery, exp.Exists)):
            raise ExprError(
                f"{_short(node)}: subqueries over private data are not allowed here; filter "
                "with constants",
                node,
            )
        if isinstance(node, (exp.Case, exp.If, exp.Coalesce)):
            typed = self.scalar(node, d)
            if typed.type != "boolean":
                raise ExprError(f"{_short(node)} is not a condition", node)
            return typed.tree
        raise ExprError(
            f"{_short(node)} is not allowed here; filter with comparisons, IN, BETWEEN, LIKE, "
            f"IS NULL, AND/OR/NOT over expressions built from {ALLOWED_ROW_FUNCTIONS}",
            node,
        )


def _short(node: exp.Expression) -> str:
    text = node.sql()
    return text if len(text) < 80 else type(node).__name__.upper()
