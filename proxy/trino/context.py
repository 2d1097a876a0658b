"""What one statement runs with, and what it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlglot.dialects.trino import Trino
from sqlglot.errors import TokenError
from sqlglot.tokens import Token

from rewriter import Catalog

from ..deps import Services
from .errors import INVALID_SESSION_PROPERTY, SYNTAX_ERROR, TrinoError
from .session import Reply, Session

VERSION = "476"  # what `SELECT version()` and /v1/info report: a Trino-like number JDBC parses

EPSILON = "dpsql.epsilon"
DELTA = "dpsql.delta"


@dataclass
class Outcome:
    """A statement's answer: a result set, or an update type (SET SESSION, …)."""

    columns: list[tuple[str, str]] = field(default_factory=list)  # (name, Trino type)
    rows: list[list[Any]] = field(default_factory=list)
    update_type: str | None = None
    query_id: str | None = None  # the ledger's query id, for charged queries
    charged: float | None = None  # ε charged, for the access log
    warnings: list[str] = field(default_factory=list)


@dataclass
class Context:
    """One statement's request: who asks, in which session, against which catalog (read
    once, so every part of the statement sees the same tables)."""

    svc: Services
    analyst: str
    session: Session
    reply: Reply
    catalog: Catalog

    def privacy(self) -> tuple[float | None, float | None]:
        """The session's ε and δ (`SET SESSION dpsql.epsilon = …`); None: the deployment's."""
        return (_number(self.session.properties.get(EPSILON), EPSILON),
                _number(self.session.properties.get(DELTA), DELTA))

    def defaults(self) -> tuple[float, float]:
        privacy = self.svc.config.privacy
        epsilon, delta = self.privacy()
        return (float(privacy.default_query_epsilon) if epsilon is None else epsilon,
                float(privacy.default_query_delta) if delta is None else delta)


def _number(text: str | None, name: str) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise TrinoError("invalid_parameter", f"session property {name} must be a number, "
                         f"got {text!r}", INVALID_SESSION_PROPERTY) from None


class _Tokenizer(Trino.Tokenizer):
    # Trino's tokenizer swallows the rest of SHOW/EXECUTE/… into one string;
    # the statement router needs their words.
    COMMANDS: ClassVar[set[Any]] = set()


def tokenize(sql: str) -> list[Token]:
    try:
        return list(_Tokenizer().tokenize(sql))
    except TokenError:
        raise TrinoError("parse_error", "could not parse the statement: an unterminated string "
                         "or quote", SYNTAX_ERROR) from None


def after(tokens: list[Token], count: int) -> int:
    """The index of the token after the statement's first `count` words."""
    seen = 0
    for i, token in enumerate(tokens):
        seen += len(token.text.split())
        if seen >= count:
            return i + 1
    return len(tokens)


def words(tokens: list[Token], count: int = 4) -> list[str]:
    """The first words of a statement, upper-cased (`DESCRIBE OUTPUT` counts as two)."""
    found: list[str] = []
    for token in tokens:
        found.extend(token.text.upper().split())
        if len(found) >= count:
            break
    return found[:count]
