"""Statements answered without data: SHOW …, DESCRIBE, SET/RESET SESSION, USE,
transactions and CALL. Each reads only the deployment's metadata or the client's
session, and costs nothing.

sqlglot parses none of these for Trino (it falls back to an opaque command), so
they are read from the tokens.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from sqlglot.tokens import Token, TokenType

from accountant import validate_query_parameters

from . import types
from .context import DELTA, EPSILON, Context, Outcome, after, words
from .errors import (
    INVALID_SESSION_PROPERTY,
    NOT_FOUND,
    NOT_SUPPORTED,
    TABLE_NOT_FOUND,
    TrinoError,
)
from .metadata import BUDGET_VIEW, TABLES, column_comment, table_comment
from .session import CATALOG, DPSQL_SCHEMA, SCHEMA

SCHEMAS = (SCHEMA, DPSQL_SCHEMA, "information_schema")

# SHOW FUNCTIONS: what dpsql answers, for SQL editors' autocomplete (Superset)
_AGGREGATES = (
    ("count", "bigint", "", "count of rows (or of non-null values), with noise"),
    ("sum", "double", "bounded column", "sum of a column clamped to its declared bounds"),
    ("avg", "double", "bounded column", "mean of a bounded column (noisy sum / noisy count)"),
    ("variance", "double", "bounded column", "variance of a bounded column"),
    ("stddev", "double", "bounded column", "standard deviation of a bounded column"),
    ("median", "double", "bounded column", "DP median over the declared bounds"),
    ("min", "double", "bounded column", "DP minimum (a low quantile) over the declared bounds"),
    ("max", "double", "bounded column", "DP maximum (a high quantile) over the declared bounds"),
    ("quantile_cont", "double", "bounded column, double", "DP quantile over the bounds"),
)
ACCURACY_FUNCTIONS = (
    ("dp_ci95", "double", "output column", "± half-width of the 95 % noise interval of another "
     "output column of the same SELECT (NULL where dpsql reports none, e.g. group keys)"),
    ("dp_lower", "double", "output column", "the output's value minus its 95 % half-width"),
    ("dp_upper", "double", "output column", "the output's value plus its 95 % half-width"),
)

SESSION_PROPERTIES = {
    EPSILON: ("double", "ε each query of this session spends (the deployment's default when "
                        "unset)"),
    DELTA: ("double", "δ each query of this session may spend (partition selection, zCDP)"),
}


# --- reading tokens ---------------------------------------------------------------


def name_at(tokens: list[Token], i: int) -> tuple[list[str], int]:
    """A dotted name starting at token `i`: its parts (unquoted ones lower-cased, as
    Trino folds them) and the index after it."""
    parts: list[str] = []
    while i < len(tokens):
        token = tokens[i]
        if token.token_type == TokenType.IDENTIFIER:
            parts.append(token.text)
        elif token.token_type not in (TokenType.STRING, TokenType.NUMBER, TokenType.DOT) \
                and re.fullmatch(r"[A-Za-z_][\w$]*", token.text):
            parts.append(token.text.lower())
        else:
            break
        i += 1
        if i < len(tokens) and tokens[i].token_type == TokenType.DOT:
            i += 1
            continue
        break
    return parts, i


def _like_at(tokens: list[Token], i: int) -> re.Pattern[str] | None:
    """`LIKE 'pat' [ESCAPE 'e']` at token `i`, as a regular expression."""
    if i >= len(tokens) or tokens[i].text.upper() != "LIKE":
        return None
    if i + 1 >= len(tokens) or tokens[i + 1].token_type != TokenType.STRING:
        raise TrinoError("parse_error", "LIKE needs a string pattern", NOT_SUPPORTED)
    pattern = tokens[i + 1].text
    escape = None
    if i + 3 < len(tokens) and tokens[i + 2].text.upper() == "ESCAPE":
        escape = tokens[i + 3].text
    out, k = [], 0
    while k < len(pattern):
        c = pattern[k]
        if escape and c == escape and k + 1 < len(pattern):
            out.append(re.escape(pattern[k + 1]))
            k += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        k += 1
    return re.compile("".join(out), re.DOTALL)


def _filter(rows: Iterable[list[object]], like: re.Pattern[str] | None) -> list[list[object]]:
    return [r for r in rows if like is None or like.fullmatch(str(r[0]))]


def _resolve_table(ctx: Context, parts: list[str]) -> tuple[str, str]:
    """(schema, table) for a possibly qualified name, or TABLE_NOT_FOUND."""
    *qualifiers, name = parts or [""]
    schema = qualifiers[-1] if qualifiers else (ctx.session.schema or SCHEMA)
    catalog = qualifiers[-2] if len(qualifiers) > 1 else CATALOG
    if catalog == CATALOG and schema == SCHEMA:
        found = ctx.catalog.table(name)
        if found:
            return SCHEMA, found[0]
    if catalog == CATALOG and schema == DPSQL_SCHEMA and name == "budget":
        return DPSQL_SCHEMA, "budget"
    raise TrinoError("unsupported_query", f"table {'.'.join(parts)} does not exist; dpsql "
                     f"serves {CATALOG}.{SCHEMA}.<table> (see SHOW TABLES) and "
                     f"{CATALOG}.{DPSQL_SCHEMA}.budget", TABLE_NOT_FOUND)


def _columns(ctx: Context, schema: str, table: str) -> list[list[object]]:
    """(Column, Type, Extra, Comment) of a table, as DESCRIBE answers."""
    if schema == DPSQL_SCHEMA:
        return [[c, types.from_duckdb(t), "", ""] for c, t in TABLES[(DPSQL_SCHEMA,
                                                                       "budget")].columns]
    catalog = ctx.catalog
    meta = catalog.tables[table]
    return [[c, types.from_dpsql(col.type), "", column_comment(catalog, table, meta, c) or ""]
            for c, col in meta.columns.items()]


def _varchar(*names: str) -> list[tuple[str, str]]:
    return [(n, "varchar") for n in names]


# --- the statements ------------------------------------------------------------------


def command(ctx: Context, tokens: list[Token]) -> Outcome | None:
    """Answer a SHOW/DESCRIBE/SET/USE/transaction/CALL statement; None if `tokens`
    are none of these."""
    head = words(tokens, 3)
    first = head[0] if head else ""
    if first == "SHOW":
        return _show(ctx, tokens, head)
    if first in ("DESCRIBE", "DESC") and head[1:2] != ["OUTPUT"]:
        schema, table = _resolve_table(ctx, name_at(tokens, 1)[0])
        return Outcome(_varchar("Column", "Type", "Extra", "Comment"),
                       _columns(ctx, schema, table))
    if head[:2] == ["SET", "SESSION"]:
        return _set_session(ctx, tokens)
    if head[:2] == ["RESET", "SESSION"]:
        name = ".".join(name_at(tokens, after(tokens, 2))[0])
        ctx.reply.clear_session(name)
        return Outcome(update_type="RESET SESSION")
    if first == "USE":
        return _use(ctx, tokens)
    if head[:2] == ["START", "TRANSACTION"]:
        # reads need no transaction; acknowledge so JDBC tools can open one
        ctx.reply.started_transaction(secrets.token_hex(16))
        return Outcome(update_type="START TRANSACTION")
    if first in ("COMMIT", "ROLLBACK"):
        ctx.reply.clear_transaction()
        return Outcome(update_type=first)
    if first == "CALL":
        parts = name_at(tokens, after(tokens, 1))[0]
        if parts[-2:] == ["runtime", "kill_query"]:
            # queries run to completion inside the POST; there is nothing left to stop
            return Outcome(update_type="CALL")
        raise TrinoError("unsupported_query", f"CALL {'.'.join(parts)}: dpsql has no "
                         "procedures", NOT_SUPPORTED)
    return None


def _show(ctx: Context, tokens: list[Token], head: list[str]) -> Outcome:
    what = head[1] if len(head) > 1 else ""
    if what == "CATALOGS":
        return Outcome(_varchar("Catalog"), _filter([[CATALOG]], _like_at(tokens, 2)))
    if what == "SCHEMAS":
        i = 2
        if i < len(tokens) and tokens[i].text.upper() in ("FROM", "IN"):
            catalog, i = name_at(tokens, i + 1)
            if catalog != [CATALOG]:
                return Outcome(_varchar("Schema"), [])
        return Outcome(_varchar("Schema"), _filter([[s] for s in SCHEMAS], _like_at(tokens, i)))
    if what == "TABLES":
        i, schema = 2, ctx.session.schema or SCHEMA
        if i < len(tokens) and tokens[i].text.upper() in ("FROM", "IN"):
            parts, i = name_at(tokens, i + 1)
            if len(parts) > 1 and parts[-2] != CATALOG:
                return Outcome(_varchar("Table"), [])
            schema = parts[-1]
        names: list[str] = []
        if schema == SCHEMA:
            names = sorted(ctx.catalog.tables)
        elif schema == DPSQL_SCHEMA:
            names = ["budget"]
        elif schema == "information_schema":
            names = sorted(n for s, n in TABLES if s == "information_schema")
        return Outcome(_varchar("Table"), _filter([[n] for n in names], _like_at(tokens, i)))
    if what == "COLUMNS":
        if len(tokens) < 3 or tokens[2].text.upper() not in ("FROM", "IN"):
            raise TrinoError("parse_error", "write SHOW COLUMNS FROM <table>", NOT_SUPPORTED)
        schema, table = _resolve_table(ctx, name_at(tokens, 3)[0])
        return Outcome(_varchar("Column", "Type", "Extra", "Comment"),
                       _columns(ctx, schema, table))
    if what == "FUNCTIONS":
        rows = [[n, r, a, "aggregate", True, d] for n, r, a, d in _AGGREGATES]
        rows += [[n, r, a, "scalar", True, d] for n, r, a, d in ACCURACY_FUNCTIONS]
        columns = [*_varchar("Function", "Return Type", "Argument Types", "Function Type"),
                   ("Deterministic", "boolean"), ("Description", "varchar")]
        return Outcome(columns, _filter(sorted(rows, key=lambda r: str(r[0])),
                                        _like_at(tokens, 2)))
    if what == "SESSION":
        current = ctx.privacy()
        default = ctx.svc.config.privacy
        defaults = {EPSILON: str(default.default_query_epsilon),
                    DELTA: str(default.default_query_delta)}
        rows = []
        for (name, (kind, description)), value in zip(SESSION_PROPERTIES.items(), current,
                                                       strict=True):
            rows.append([name, defaults[name] if value is None else repr(value),
                         defaults[name], kind, description])
        return Outcome(_varchar("Name", "Value", "Default", "Type", "Description"),
                       _filter(rows, _like_at(tokens, 2)))
    if what == "CREATE" and len(head) > 2 and head[2] in ("TABLE", "VIEW"):
        return _show_create(ctx, tokens, head[2])
    raise TrinoError("unsupported_query", f"SHOW {what}: dpsql answers SHOW CATALOGS, SCHEMAS, "
                     "TABLES, COLUMNS, FUNCTIONS, SESSION and CREATE TABLE", NOT_SUPPORTED)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _show_create(ctx: Context, tokens: list[Token], kind: str) -> Outcome:
    schema, table = _resolve_table(ctx, name_at(tokens, 3)[0])
    if schema == DPSQL_SCHEMA:
        return Outcome(_varchar("Create View"),
                       [[f"CREATE VIEW {CATALOG}.{DPSQL_SCHEMA}.budget AS\n{BUDGET_VIEW}"]])
    lines = []
    for column, typ, _, comment in _columns(ctx, schema, table):
        lines.append(f'   "{column}" {typ}' + (f" COMMENT {_quote(str(comment))}"
                                                if comment else ""))
    meta = ctx.catalog.tables[table]
    text = (f'CREATE TABLE {CATALOG}.{SCHEMA}."{table}" (\n' + ",\n".join(lines)
            + f"\n)\nCOMMENT {_quote(table_comment(meta))}")
    return Outcome(_varchar("Create Table"), [[text]])


def _set_session(ctx: Context, tokens: list[Token]) -> Outcome:
    parts, i = name_at(tokens, 2)
    name = ".".join(parts)
    if name not in SESSION_PROPERTIES:
        raise TrinoError("invalid_parameter", f"session property {name} does not exist; "
                         f"dpsql has {', '.join(SESSION_PROPERTIES)}", INVALID_SESSION_PROPERTY)
    if i >= len(tokens) or tokens[i].token_type != TokenType.EQ or i + 1 >= len(tokens):
        raise TrinoError("parse_error", f"write SET SESSION {name} = <number>",
                         INVALID_SESSION_PROPERTY)
    value_tokens = tokens[i + 1:]
    # `= 0.5`, `= '0.5'` or `= DOUBLE '0.5'`: the literal is the last token
    value = value_tokens[-1].text
    if value_tokens[0].token_type == TokenType.DASH:
        value = "-" + value
    try:
        number = float(value)
    except ValueError:
        raise TrinoError("invalid_parameter", f"{name} must be a number, got {value!r}",
                         INVALID_SESSION_PROPERTY) from None
    epsilon, delta = ctx.defaults()
    privacy = ctx.svc.config.privacy
    # the same checks the query will meet, now, so the typo shows at SET time
    validate_query_parameters(number if name == EPSILON else epsilon,
                              number if name == DELTA else delta,
                              max_epsilon=privacy.max_query_epsilon,
                              max_delta=privacy.max_query_delta)
    ctx.reply.set_session(name, value)
    return Outcome(update_type="SET SESSION")


def _use(ctx: Context, tokens: list[Token]) -> Outcome:
    parts, _ = name_at(tokens, 1)
    catalog, schema = (parts if len(parts) == 2 else [ctx.session.catalog or CATALOG, *parts])
    if catalog != CATALOG or schema not in SCHEMAS:
        raise TrinoError("not_found", f"schema {catalog}.{schema} does not exist; dpsql serves "
                         f"{', '.join(f'{CATALOG}.{s}' for s in SCHEMAS)}", NOT_FOUND)
    ctx.reply.set_catalog(catalog)
    ctx.reply.set_schema(schema)
    return Outcome(update_type="USE")
