"""Queries that read public tables only (SPEC §4.6): answered exactly, free.

A public table holds no personal data (`public: true`), so every column of it is
public and a query over public tables alone needs neither noise nor budget. It
is still checked against an allow-list of node classes, as every query is: one
SELECT over declared public tables (no schema-qualified names, so no system
catalog), plain columns, constants, arithmetic, comparisons, CASE, CAST and the
common aggregates; no subqueries, no table functions, no `*` outside COUNT(*).
The engine runs the rebuilt tree, with identifiers quoted as declared and a
LIMIT of at most `MAX_PUBLIC_ROWS`.

`public_query` returns None when the query reads any table that is not public
(or names one that does not exist): the private path then plans, or refuses, it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from .catalog import Catalog
from .errors import QueryRefused
from .google import split_dp_clause
from .limits import Limits
from .names import resolve_names
from .naming import default_name, unique_name
from .parse import parse, position_of

__all__ = ["MAX_PUBLIC_ROWS", "PublicQuery", "public_query"]

MAX_PUBLIC_ROWS = 10_000

_ALLOWED: frozenset[type[exp.Expr]] = frozenset({
    exp.Select, exp.From, exp.Join, exp.Table, exp.TableAlias, exp.Identifier, exp.Column,
    exp.Star,
    exp.Alias, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Neg,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ,
    exp.And, exp.Or, exp.Not, exp.Is, exp.In, exp.Between, exp.Like, exp.ILike,
    exp.Case, exp.If, exp.Cast, exp.TryCast, exp.DataType, exp.DataTypeParam,
    exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.Distinct,
    exp.Group, exp.Order, exp.Ordered, exp.Limit, exp.Offset, exp.Where, exp.Having,
    exp.Coalesce, exp.Lower, exp.Upper, exp.Length, exp.Abs, exp.Round, exp.Floor, exp.Ceil,
    exp.Concat, exp.DPipe, exp.Extract, exp.Var, exp.Nullif,
})
_SELECT_ARGS = {"expressions", "from", "from_", "where", "group", "having", "order", "limit",
                "offset", "joins", "distinct"}


@dataclass(frozen=True)
class PublicQuery:
    """A checked query over public tables; `tree` is what the engine runs."""

    tree: exp.Select
    normalized_sql: str
    tables: tuple[str, ...]

    def sql(self, dialect: str) -> str:
        return self.tree.sql(dialect=dialect)


def _tables_read(tree: exp.Expr) -> list[exp.Table]:
    return list(tree.find_all(exp.Table))


def public_query(sql: str, catalog: Catalog, dialect: str | None = None,
                 limits: Limits | None = None) -> PublicQuery | None:
    """The exact plan of a query over public tables only, or None if it reads
    anything else (then the DP path decides). Raises QueryRefused when it reads
    public tables only but is not allowed."""
    lowered = sql.lower()
    if not any(t.public and name.lower() in lowered for name, t in catalog.tables.items()):
        # no public table is named: not a public-only query, and no second parse for
        # the DP path (a query that hides a name this test misses is refused there)
        return None
    sql, _ = split_dp_clause(sql, dialect)  # Google's clause changes nothing here: exact
    tree = resolve_names(parse(sql, dialect, limits or Limits()), catalog, sql, dialect)
    tables = _tables_read(tree)
    if not tables or tree.find(exp.CTE) is not None:
        return None
    resolved: list[tuple[exp.Table, str]] = []
    for node in tables:
        found = catalog.table(node.name) if isinstance(node.this, exp.Identifier) else None
        if found is None or not found[1].public:
            return None
        resolved.append((node, found[0]))
    if not isinstance(tree, exp.Select):
        raise QueryRefused("over public tables dpsql answers one SELECT; write the query as "
                           "a single SELECT", position_of(tree, sql))
    for arg, value in tree.args.items():
        if value not in (None, [], False) and arg not in _SELECT_ARGS:
            raise QueryRefused(f"{arg.upper()} is not supported; write one SELECT with WHERE, "
                               "GROUP BY, HAVING, ORDER BY and LIMIT", position_of(tree, sql))
    limit = (limits or Limits()).max_joins
    joins = tree.args.get("joins") or []
    if len(joins) > limit:
        raise QueryRefused(f"the query joins {len(joins)} tables; the limit is {limit} "
                           "(limits.max_joins)", position_of(tree, sql))
    for part in tree.walk():
        if type(part) not in _ALLOWED:
            what = "subqueries" if isinstance(part, (exp.Subquery, exp.Select)) else part.key
            raise QueryRefused(
                f"{part.sql()[:60]}: {what} is not allowed in a query over public tables; "
                "use columns, constants, arithmetic, comparisons, CASE, CAST and "
                "COUNT/SUM/AVG/MIN/MAX", position_of(part, sql))
        if isinstance(part, exp.Select) and part is not tree:
            raise QueryRefused("subqueries are not allowed in a query over public tables",
                               position_of(part, sql))
    _check_columns(tree, catalog, {name for _, name in resolved}, sql)
    normalized = tree.sql(dialect="duckdb", comments=False, normalize=True)
    rebuilt = tree.copy()
    for node in rebuilt.find_all(exp.Table):
        found = catalog.table(node.name)
        assert found is not None  # resolved above
        node.set("this", exp.to_identifier(found[0], quoted=True))
    rebuilt = _named(_capped(rebuilt))
    return PublicQuery(rebuilt, normalized, tuple(dict.fromkeys(n for _, n in resolved)))


def _named(tree: exp.Select) -> exp.Select:
    """Every output aliased as the DP path names it (`count(*)`, the column's name), so
    both engines answer with the same column names."""
    taken: set[str] = set()
    named: list[exp.Expr] = []
    for item in tree.expressions:
        if isinstance(item, exp.Alias):
            name, body = item.alias, item.this
        elif isinstance(item, exp.Column):
            name, body = item.name, item
        else:
            name, body = default_name(item), item
        name = unique_name(name, taken)
        taken.add(name.lower())
        named.append(exp.alias_(body, name, quoted=True))
    return tree.select(*named, append=False, copy=False)


def _check_columns(tree: exp.Select, catalog: Catalog, names: set[str], sql: str) -> None:
    """Every column is a column of a public table the query reads (or an output alias)."""
    aliases = {a.alias.lower() for a in tree.expressions if isinstance(a, exp.Alias)}
    known = {n: catalog.tables[n] for n in names}
    for column in tree.find_all(exp.Column):
        if isinstance(column.this, exp.Star):
            raise QueryRefused("SELECT *: name the columns you want",
                               position_of(column, sql))
        name = column.name
        if not column.table and name.lower() in aliases:
            continue
        if not any(t.canonical(name) is not None for t in known.values()):
            listed = "; ".join(f"{n}: {', '.join(t.columns) or 'none'}"
                               for n, t in sorted(known.items()))
            raise QueryRefused(f"column {name!r} does not exist in the tables read ({listed})",
                               position_of(column, sql))
    for star in tree.find_all(exp.Star):
        if not isinstance(star.parent, exp.Count):
            raise QueryRefused("SELECT *: name the columns you want", position_of(star, sql))


def _capped(tree: exp.Select) -> exp.Select:
    """At most MAX_PUBLIC_ROWS rows leave the engine, whatever the query's LIMIT."""
    limit = tree.args.get("limit")
    written = None
    if isinstance(limit, exp.Limit) and isinstance(limit.expression, exp.Literal) \
            and limit.expression.is_int:
        written = int(limit.expression.name)
    elif limit is not None:
        raise QueryRefused("LIMIT takes a whole number")
    return tree.limit(min(written if written is not None else MAX_PUBLIC_ROWS,
                          MAX_PUBLIC_ROWS), copy=False)
