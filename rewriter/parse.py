"""Parse: turn the analyst's text into exactly one sqlglot statement.

Everything here depends on the query text alone. Errors carry the position of
the offending token so clients can underline it.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError as SqlglotParseError
from sqlglot.errors import TokenError

from .errors import ParseError, Position, QueryRefused
from .limits import Limits, check_text, check_tokens, check_tree

MAX_SQL_CHARS = Limits().max_sql_chars  # the default; `Limits` holds the configured one


def position_of(node: exp.Expr | None, sql: str) -> Position | None:
    """The line/column (1-based) where `node` starts in `sql`, if sqlglot kept it."""
    if node is None:
        return None
    # one walk of the subtree: called once per refusal, so linear in the query
    starts = [n.meta["start"] for n in node.walk() if isinstance(n.meta.get("start"), int)]
    if not starts:
        return None
    offset = min(starts)
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return Position(line, column)


def parse(sql: str, dialect: str | None = None, limits: Limits | None = None) -> exp.Expression:
    """Parse one SQL statement; refuse empty input and more than one statement.

    The text's length and nesting are checked first (`rewriter.limits`), on the
    tokenizer's flat output, so the recursive parser never sees a query deep
    enough to exhaust the stack.
    """
    limits = limits or Limits()
    if not isinstance(sql, str) or not sql.strip():
        raise ParseError("the query is empty; send one SELECT statement")
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError as err:
        # a lone surrogate could reach no engine, and no refusal could quote it
        raise ParseError(
            f"the query holds an invalid character at offset {err.start} (a lone UTF-16 "
            "surrogate); send valid Unicode text"
        ) from None
    check_text(sql, limits)
    try:
        reader = Dialect.get_or_raise(dialect)
        tokens = reader.tokenize(sql)
        check_tokens(tokens, limits)
        statements = [s for s in reader.parser().parse(tokens, sql) if s is not None]
    except SqlglotParseError as err:
        first = err.errors[0] if err.errors else {}
        line, col = first.get("line"), first.get("col")
        where = Position(line, col) if isinstance(line, int) and isinstance(col, int) else None
        what = first.get("description") or "invalid SQL"
        near = first.get("highlight")
        detail = f"{what} near {near!r}" if near else what
        raise ParseError(f"could not parse the query: {detail}", where) from None
    except TokenError:
        raise ParseError("could not parse the query: an unterminated string or quote") from None
    except RecursionError:  # a backstop: check_tokens bounds the depth the parser sees
        raise QueryRefused(
            "the query nests too deeply for the parser; the limit is "
            f"{limits.max_nesting_depth} levels (limits.max_nesting_depth)"
        ) from None
    if not statements:
        raise ParseError("the query is empty (only comments or semicolons); send one SELECT")
    if len(statements) > 1:
        raise QueryRefused(
            f"the text holds {len(statements)} statements; send exactly one SELECT per request",
            position_of(statements[1], sql),
        )
    check_tree(statements[0], limits)
    tree = statements[0]
    assert isinstance(tree, exp.Expression)  # every parsed node is; sqlglot types it Expr
    return tree
