"""Google's DP SQL input form: `SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(…) …`.

Analysts coming from BigQuery write

    SELECT WITH DIFFERENTIAL_PRIVACY
        OPTIONS(epsilon = 1, delta = 1e-5, max_groups_contributed = 1,
                privacy_unit_column = id)
      dept, AVG(salary, contribution_bounds_per_group => (0, 90000))
    FROM employees GROUP BY dept

sqlglot does not parse the clause, so it is taken out of the text here, on the
tokens (never on a regex of the text), and mapped onto the same plan:

| BigQuery | dpsql |
|---|---|
| `epsilon`, `delta` | the query's ε and δ (the request may repeat them, not change them) |
| `privacy_unit_column` | must name the table's declared privacy unit |
| `max_groups_contributed` | this query's G, at most the owner's `max_groups_per_unit` |
| `AGG(x, contribution_bounds_per_group => (lo, hi))` | `AGG(LEAST(GREATEST(x, lo), hi))` |

Differences from BigQuery: BigQuery's bounds clamp each person's per-group total,
dpsql clamps each row (and caps a person's rows at `max_rows_per_unit`); BigQuery
picks bounds automatically when none are given, dpsql uses the owner's; BigQuery
always uses partition selection, dpsql uses declared public keys where they
exist. Nothing here can loosen a bound the owner set: G only shrinks, bounds are
intersected with the declared ones by the interval arithmetic of
`expressions.py`, and the unit is the declared one.

Pure and text-only: whatever refuses here depends on the query text alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from .catalog import Catalog
from .errors import Position, QueryRefused
from .shape import Shape

__all__ = ["DpOptions", "check_options", "split_dp_clause", "tightened"]

_OPTIONS = {"epsilon", "delta", "max_groups_contributed", "max_groups", "privacy_unit_column"}
_BOUNDS = "contribution_bounds_per_group"


@dataclass(frozen=True)
class DpOptions:
    """The clause's options; None where the clause does not name one."""

    epsilon: Fraction | None = None
    delta: Fraction | None = None
    max_groups: int | None = None
    unit: str | None = None

    def text(self) -> str:
        """A canonical text of the options (part of the query's normalized text)."""
        parts = [f"{k}={v}" for k, v in (("epsilon", self.epsilon), ("delta", self.delta),
                                           ("max_groups_contributed", self.max_groups),
                                           ("privacy_unit_column", self.unit))
                 if v is not None]
        return f"WITH DIFFERENTIAL_PRIVACY OPTIONS({', '.join(parts)})"


def _position(sql: str, token: Token) -> Position:
    offset = token.start
    line = sql.count("\n", 0, offset) + 1
    return Position(line, offset - (sql.rfind("\n", 0, offset) + 1) + 1)


def _number(sql: str, tokens: list[Token], i: int) -> tuple[Decimal, int]:
    """A signed number literal at tokens[i]: its value and the index after it."""
    sign = 1
    if i < len(tokens) and tokens[i].token_type in (TokenType.DASH, TokenType.PLUS):
        sign = -1 if tokens[i].token_type == TokenType.DASH else 1
        i += 1
    if i >= len(tokens) or tokens[i].token_type != TokenType.NUMBER:
        at = tokens[min(i, len(tokens) - 1)]
        raise QueryRefused("WITH DIFFERENTIAL_PRIVACY: expected a number here",
                           _position(sql, at))
    try:
        value = Decimal(tokens[i].text)
    except InvalidOperation:
        raise QueryRefused(f"WITH DIFFERENTIAL_PRIVACY: {tokens[i].text} is not a number",
                           _position(sql, tokens[i])) from None
    if not value.is_finite():
        raise QueryRefused("WITH DIFFERENTIAL_PRIVACY: numbers must be finite",
                           _position(sql, tokens[i]))
    return sign * value, i + 1


def _options(sql: str, tokens: list[Token], start: int) -> tuple[DpOptions, int]:
    """OPTIONS(name = value, …) from tokens[start] (the opening parenthesis)."""
    found: dict[str, object] = {}
    i = start + 1
    while i < len(tokens) and tokens[i].token_type != TokenType.R_PAREN:
        name = tokens[i].text.lower()
        if name not in _OPTIONS:
            raise QueryRefused(
                f"WITH DIFFERENTIAL_PRIVACY OPTIONS: {tokens[i].text} is not supported; dpsql "
                "reads epsilon, delta, max_groups_contributed and privacy_unit_column",
                _position(sql, tokens[i]))
        if i + 1 >= len(tokens) or tokens[i + 1].token_type != TokenType.EQ:
            raise QueryRefused(f"WITH DIFFERENTIAL_PRIVACY OPTIONS: write {name} = value",
                               _position(sql, tokens[i]))
        if name in found or (name in ("max_groups", "max_groups_contributed")
                             and {"max_groups", "max_groups_contributed"} & set(found)):
            raise QueryRefused(f"WITH DIFFERENTIAL_PRIVACY OPTIONS: {name} is given twice",
                               _position(sql, tokens[i]))
        if name == "privacy_unit_column":
            value_token = tokens[i + 2] if i + 2 < len(tokens) else tokens[-1]
            if value_token.token_type not in (TokenType.VAR, TokenType.IDENTIFIER):
                raise QueryRefused("WITH DIFFERENTIAL_PRIVACY OPTIONS: privacy_unit_column "
                                   "names a column", _position(sql, value_token))
            found[name] = value_token.text
            i += 3
        else:
            value, i = _number(sql, tokens, i + 2)
            found[name] = value
        if i < len(tokens) and tokens[i].token_type == TokenType.COMMA:
            i += 1
    if i >= len(tokens):
        raise QueryRefused("WITH DIFFERENTIAL_PRIVACY OPTIONS(…: the parenthesis is not closed",
                           _position(sql, tokens[start]))
    groups = found.get("max_groups_contributed", found.get("max_groups"))
    if groups is not None and (not isinstance(groups, Decimal) or groups != int(groups)
                               or groups < 1):
        raise QueryRefused("WITH DIFFERENTIAL_PRIVACY OPTIONS: max_groups_contributed is a "
                           "whole number of at least 1", _position(sql, tokens[start]))

    def fraction(key: str) -> Fraction | None:
        value = found.get(key)
        return None if value is None else Fraction(str(value))

    options = DpOptions(fraction("epsilon"), fraction("delta"),
                        None if groups is None else int(groups),  # type: ignore[arg-type]
                        found.get("privacy_unit_column"))  # type: ignore[arg-type]
    return options, i + 1


def _bounds(sql: str, tokens: list[Token]) -> list[tuple[int, int, str]]:
    """Each `, contribution_bounds_per_group => (lo, hi)` inside a call, as
    (start, end, replacement) text edits: the call's argument becomes
    LEAST(GREATEST(arg, lo), hi)."""
    edits: list[tuple[int, int, str]] = []
    for i, token in enumerate(tokens):
        if token.token_type != TokenType.VAR or token.text.lower() != _BOUNDS:
            continue
        if i == 0 or tokens[i - 1].token_type != TokenType.COMMA or i + 2 >= len(tokens) \
                or tokens[i + 1].token_type != TokenType.FARROW \
                or tokens[i + 2].token_type != TokenType.L_PAREN:
            raise QueryRefused(f"write {_BOUNDS} => (lower, upper) as the last argument of an "
                               "aggregate", _position(sql, token))
        lo, j = _number(sql, tokens, i + 3)
        if j >= len(tokens) or tokens[j].token_type != TokenType.COMMA:
            raise QueryRefused(f"{_BOUNDS} => (lower, upper): two numbers",
                               _position(sql, token))
        hi, j = _number(sql, tokens, j + 1)
        if j + 1 >= len(tokens) or tokens[j].token_type != TokenType.R_PAREN \
                or tokens[j + 1].token_type != TokenType.R_PAREN:
            raise QueryRefused(f"{_BOUNDS} => (lower, upper) closes the aggregate's call",
                               _position(sql, token))
        if lo > hi:
            raise QueryRefused(f"{_BOUNDS} => ({lo}, {hi}): the lower bound is above the upper",
                               _position(sql, token))
        # the call's opening parenthesis: walk back over balanced parentheses
        depth, k = 0, i - 2
        while k >= 0:
            kind = tokens[k].token_type
            if kind == TokenType.R_PAREN:
                depth += 1
            elif kind == TokenType.L_PAREN:
                if depth == 0:
                    break
                depth -= 1
            k -= 1
        if k <= 0 or k == i - 2:
            raise QueryRefused(f"{_BOUNDS} belongs inside an aggregate, after its argument",
                               _position(sql, token))
        name = tokens[k - 1].text.upper()
        if name == "COUNT":
            raise QueryRefused(
                f"COUNT(…, {_BOUNDS} => …): dpsql bounds a count by the owner's rows per "
                "person (max_rows_per_unit); drop the bounds from COUNT",
                _position(sql, token))
        argument = sql[tokens[k + 1].start:tokens[i - 2].end + 1]
        edits.append((tokens[k + 1].start, tokens[j].end + 1,
                      f"LEAST(GREATEST({argument}, {lo}), {hi})"))
    return edits


def split_dp_clause(sql: str, dialect: str | None = None) -> tuple[str, DpOptions | None]:
    """The query without Google's clause and per-aggregate bounds, and the clause's
    options (None when the text has neither)."""
    lowered = sql.lower()
    if "differential_privacy" not in lowered and _BOUNDS not in lowered:
        return sql, None  # the common case: no second tokenization
    try:
        tokens = list(Dialect.get_or_raise(dialect).tokenize(sql))
    except TokenError:
        return sql, None  # the parser reports it
    edits: list[tuple[int, int, str]] = []
    options: DpOptions | None = None
    for i, token in enumerate(tokens):
        if token.token_type != TokenType.VAR or token.text.lower() != "differential_privacy":
            continue  # (a string or quoted name holding the word is not the clause)
        if not (i >= 2 and tokens[i - 1].text.upper() == "WITH"
                and tokens[i - 2].token_type == TokenType.SELECT):
            raise QueryRefused("write SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(…) at the start "
                               "of the query", _position(sql, token))
        if options is not None or i != 2 + _leading(tokens):
            raise QueryRefused("WITH DIFFERENTIAL_PRIVACY applies to the outermost SELECT, "
                               "once", _position(sql, token))
        if i + 2 < len(tokens) and tokens[i + 1].text.upper() == "OPTIONS" \
                and tokens[i + 2].token_type == TokenType.L_PAREN:
            options, after = _options(sql, tokens, i + 2)
        else:
            options, after = DpOptions(), i + 1
        end = tokens[after].start if after < len(tokens) else len(sql)
        edits.append((tokens[i - 1].start, end, ""))
    edits += _bounds(sql, tokens)
    if not edits:
        return sql, options
    out, cursor = [], 0
    for start, end, text in sorted(edits):
        out += [sql[cursor:start], text]
        cursor = end
    out.append(sql[cursor:])
    return "".join(out), options if options is not None else DpOptions()


def _leading(tokens: list[Token]) -> int:
    """Tokens before the outermost SELECT: the first at parenthesis depth 0 (after
    any `WITH name AS (…)` list, whose bodies are in parentheses)."""
    depth = 0
    for i, t in enumerate(tokens):
        if t.token_type == TokenType.L_PAREN:
            depth += 1
        elif t.token_type == TokenType.R_PAREN:
            depth -= 1
        elif t.token_type == TokenType.SELECT and depth == 0:
            return i
    return 0


def tightened(catalog: Catalog, options: DpOptions | None) -> Catalog:
    """The catalog with Google's max_groups_contributed as every private table's G;
    it may only lower the owner's cap."""
    if options is None or options.max_groups is None:
        return catalog
    tables = dict(catalog.tables)
    for name, table in catalog.tables.items():
        if not table.public:
            tables[name] = table.model_copy(update={
                "max_groups_per_unit": min(options.max_groups, table.max_groups_per_unit)})
    return replace(catalog, tables=tables)


def check_options(options: DpOptions | None, shape: Shape, catalog: Catalog) -> None:
    """What the clause names must agree with the owner's metadata of the query's table."""
    if options is None:
        return
    if options.unit is not None and options.unit.lower() != shape.privacy_unit.lower():
        raise QueryRefused(
            f"WITH DIFFERENTIAL_PRIVACY OPTIONS: privacy_unit_column = {options.unit}, but the "
            f"data owner declared {shape.privacy_unit} as the privacy unit of {shape.table}; "
            f"write privacy_unit_column = {shape.privacy_unit}, or leave it out")
    cap = catalog.tables[shape.table].max_groups_per_unit
    if options.max_groups is not None and options.max_groups > cap:
        raise QueryRefused(
            f"WITH DIFFERENTIAL_PRIVACY OPTIONS: max_groups_contributed = {options.max_groups} "
            f"is above the data owner's cap for {shape.table} (max_groups_per_unit = {cap}); "
            f"ask for at most {cap}, or leave it out")
