"""Work limits: every query's cost is bounded before anything is charged (SPEC §4.7).

A refusal is free, so the work done before one must be small and must depend on
the query text and the metadata alone. The checks run in order of cost, each
linear in the query's size:

1. `check_text` — the length of the text, before anything else.
2. `check_tokens` — how deeply brackets, ``CASE … END`` and runs of prefix
   operators (``NOT NOT …``, ``- - …``) nest, on the tokenizer's flat output,
   *before* the recursive-descent parser sees them: sqlglot's parser spends
   about twenty Python frames per level, so 3,000 parentheses would exhaust the
   interpreter's stack.
3. `check_tree` — after parsing, the depth of the syntax tree, walked without
   recursion. A flat chain ``a + b + … + z`` parses iteratively but builds a
   left-deep tree one level per operator, which recursive code downstream (our
   walks, sqlglot's ``copy``) would choke on; the number of joins; and the
   number of aggregate calls (validation costs about a millisecond each).
4. `check_noise_cells` — on the plan: how many noise draws the release makes.

Each refusal names the limit and the ``dpsql.yaml`` setting that changes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from .errors import ParseError, QueryRefused

__all__ = ["TREE_DEPTH_FACTOR", "Limits", "check_joins", "check_noise_cells", "check_text",
           "check_tokens", "check_tree"]

# The syntax tree may be this many times deeper than the bracket nesting: each
# bracket level adds a few tree levels (Paren, the operator inside, an alias).
TREE_DEPTH_FACTOR = 8

_OPEN = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE}
_CLOSE = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END}
_PREFIX = {TokenType.NOT, TokenType.DASH, TokenType.PLUS, TokenType.TILDE}


@dataclass(frozen=True)
class Limits:
    """The bounds on one query's work; `proxy.config.LimitsConfig` holds the same
    fields as ``dpsql.yaml``'s ``limits:`` section (names are the setting names)."""

    max_sql_chars: int = 50_000
    max_nesting_depth: int = 32
    max_joins: int = 10
    max_noise_cells: int = 500_000
    max_noise_cells_per_group: int = 1_024

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            least = 0 if f.name == "max_joins" else 1
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"limits.{f.name} must be an integer ≥ {least}, got {value!r}")


def check_text(sql: str, limits: Limits) -> None:
    if len(sql) > limits.max_sql_chars:
        raise ParseError(
            f"the query is {len(sql)} characters long; the limit is {limits.max_sql_chars} "
            "(limits.max_sql_chars)"
        )


def check_tokens(tokens: Iterable[Token], limits: Limits) -> None:
    """Refuse brackets, CASE blocks and prefix operators nested too deeply, in one
    pass over the tokens (no recursion, so any depth is measured safely)."""
    depth = deepest = run = 0
    for token in tokens:
        kind = token.token_type
        if kind in _PREFIX:
            run += 1
        else:
            run = 0
            if kind in _OPEN:
                depth += 1
            elif kind in _CLOSE:
                depth = max(0, depth - 1)
        deepest = max(deepest, depth + run)
    if deepest > limits.max_nesting_depth:
        raise QueryRefused(
            f"the query nests {deepest} levels deep; the limit is {limits.max_nesting_depth} "
            "(limits.max_nesting_depth); each parenthesis, CASE … END and prefix operator "
            "such as NOT nests one level; flatten the expression, e.g. with IN (…)"
        )


def tree_depth(tree: exp.Expr) -> int:
    """The depth of the syntax tree, measured with an explicit stack."""
    deepest = 0
    stack: list[tuple[exp.Expr, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.iter_expressions())
    return deepest


def check_tree(tree: exp.Expr, limits: Limits) -> None:
    """Refuse a syntax tree too deep for recursive code (long operator chains),
    and too many joins; both read the parsed text only."""
    limit = TREE_DEPTH_FACTOR * limits.max_nesting_depth
    depth = tree_depth(tree)
    if depth > limit:
        raise QueryRefused(
            f"the query's expressions nest {depth} levels deep (a chain a + b + … or "
            f"x AND y AND … nests one level per operator); the limit is {limit} "
            f"({TREE_DEPTH_FACTOR} × limits.max_nesting_depth); use IN (…) for long OR "
            "lists or split the query"
        )
    check_joins(tree, limits)
    calls = sum(1 for _ in tree.find_all(exp.AggFunc))
    if calls > limits.max_noise_cells_per_group:
        # each distinct aggregate draws at least one noise value per group; counted
        # on the text, before validation spends ~1 ms on each
        raise QueryRefused(
            f"the query makes {calls} aggregate calls, each drawing noise in every group; "
            f"the limit is {limits.max_noise_cells_per_group} "
            "(limits.max_noise_cells_per_group); ask for fewer aggregates per query"
        )


def check_joins(tree: exp.Expr, limits: Limits, where: str = "") -> None:
    """Every JOIN (and comma join) in the tree, inside CTEs and subqueries too."""
    joins = sum(1 for _ in tree.find_all(exp.Join))
    if joins > limits.max_joins:
        raise QueryRefused(
            f"the query{where} has {joins} joins; the limit is {limits.max_joins} "
            "(limits.max_joins); join fewer tables or ask several queries"
        )


def check_noise_cells(groups: int | None, per_group: int, limits: Limits) -> None:
    """Refuse a release that would draw too much noise.

    `per_group` is the number of noisy integers drawn for one group (one per
    count or sum, one per histogram bin for quantiles). With public keys
    `groups` is the number of declared key combinations, so the total is known
    from the text and metadata. Under partition selection (`groups` None) the
    number of candidate groups is known only from the data, and refusing on it
    would make the status depend on the data; only the per-group work is bounded
    then, so the release's noise work stays within a fixed multiple of the
    number of rows the engine returns (see README, "Limits").
    """
    if per_group > limits.max_noise_cells_per_group:
        raise QueryRefused(
            f"each group needs {per_group} noise draws (a quantile, MEDIAN, MIN or MAX "
            "draws one per histogram bin); the limit is "
            f"{limits.max_noise_cells_per_group} (limits.max_noise_cells_per_group); ask "
            "for fewer quantiles per query"
        )
    if groups is not None and groups * per_group > limits.max_noise_cells:
        raise QueryRefused(
            f"the answer needs {groups} groups × {per_group} noise draws each = "
            f"{groups * per_group} draws; the limit is {limits.max_noise_cells} "
            "(limits.max_noise_cells); group by fewer keys, filter the keys with WHERE, "
            "or ask for fewer aggregates"
        )
