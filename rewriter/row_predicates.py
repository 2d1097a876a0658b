"""The compilers of row conditions (WHERE, CASE WHEN, FILTER), one per allowed
node class, each with the argument why the SQL it emits cannot raise."""

from __future__ import annotations

from sqlglot import exp

from .typed import COMPARISONS, LIKE_ESCAPE, ExprError, Rows, predicate_compiler, short


@predicate_compiler(exp.Paren)
def _paren_predicate(rows: Rows, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: parentheses compute nothing."""
    return exp.Paren(this=rows.predicate(node.this, d))


@predicate_compiler(exp.And, exp.Or)
def _connective(rows: Rows, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: AND/OR of total predicates."""
    return type(node)(this=rows.predicate(node.this, d),
                      expression=rows.predicate(node.expression, d))


@predicate_compiler(exp.Not)
def _not(rows: Rows, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: NOT of a total predicate."""
    return exp.Not(this=rows.predicate(node.this, d))


@predicate_compiler(exp.Boolean)
def _boolean_predicate(rows: Rows, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: a constant."""
    return exp.Boolean(this=node.this)


@predicate_compiler(*COMPARISONS)
def _comparison(rows: Rows, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: operands of one type (numbers of any width compare without conversion
    errors in both engines, NaN included; temporal constants are typed)."""
    a, b = rows.values(node, [rows.scalar(node.this, d), rows.scalar(node.expression, d)])
    return type(node)(this=a.tree, expression=b.tree)


@predicate_compiler(exp.Is)
def _is(rows: Rows, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: IS NULL holds or not for every value."""
    if not isinstance(node.expression, exp.Null):
        raise ExprError("IS takes NULL or NOT NULL here", node)
    return exp.Is(this=rows.scalar(node.this, d).tree, expression=exp.Null())


@predicate_compiler(exp.In)
def _in(rows: Rows, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: as for comparisons, against a list of values of the same type."""
    if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
        raise ExprError("IN (SELECT …) is not supported; list constants", node)
    parts = rows.values(node, [rows.scalar(node.this, d),
                               *(rows.scalar(e, d) for e in node.expressions)])
    return exp.In(this=parts[0].tree, expressions=[p.tree for p in parts[1:]])


@predicate_compiler(exp.Between)
def _between(rows: Rows, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: two comparisons of values of one type."""
    parts = rows.values(node, [rows.scalar(node.this, d), rows.scalar(node.args["low"], d),
                               rows.scalar(node.args["high"], d)])
    return exp.Between(this=parts[0].tree, low=parts[1].tree, high=parts[2].tree)


@predicate_compiler(exp.Like, exp.ILike)
def _like(rows: Rows, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: the pattern is a constant, read by dpsql's rule (`%` and `_` are
    wildcards, every other character stands for itself) and emitted with an
    explicit ESCAPE and its backslashes doubled, so neither engine meets an escape
    it could reject (PostgreSQL's default backslash escape raises on a trailing
    backslash only when a stored string matches up to it)."""
    a = rows.scalar(node.this, d)
    pattern = node.expression
    if a.type != "text":
        raise ExprError(f"{node.sql()}: LIKE applies to text columns", node)
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise ExprError(
            f"{short(node)}: the pattern must be a text constant such as 'abc%'", node)
    rows.scalar(pattern, d)  # the constant's own checks
    if LIKE_ESCAPE not in pattern.this:
        # no escape to meet: both engines read the pattern alike, and DuckDB keeps
        # its fast prefix/contains filters (ESCAPE makes it a generic scan filter)
        return type(node)(this=a.tree, expression=exp.Literal.string(pattern.this))
    doubled = pattern.this.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
    return exp.Escape(this=type(node)(this=a.tree, expression=exp.Literal.string(doubled)),
                      expression=exp.Literal.string(LIKE_ESCAPE))


@predicate_compiler(exp.Column)
def _column_predicate(rows: Rows, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: a boolean column is a condition as it is."""
    typed = rows.scalar(node, d)
    if typed.type != "boolean":
        raise ExprError(
            f"WHERE {typed.raw_column}: a {typed.type} column is not a condition; "
            "compare it with a constant",
            node,
        )
    return typed.tree


@predicate_compiler(exp.Case, exp.If, exp.Coalesce)
def _value_predicate(rows: Rows, node: exp.Expr, d: int) -> exp.Expr:
    """Safe: a total boolean value used as a condition."""
    typed = rows.scalar(node, d)
    if typed.type != "boolean":
        raise ExprError(f"{short(node)} is not a condition", node)
    return typed.tree
