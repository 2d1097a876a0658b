"""What inlining knows about a FROM item: a real table or a derived table (a CTE or
a subquery) already inlined, its output names, and how a column reference of
the outer query is rewritten onto what it stands for (`inline.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from .errors import QueryRefused
from .metadata import Table
from .naming import default_name, unique_name
from .parse import position_of


@dataclass
class Entry:
    """One item of a FROM clause: a real table, or a derived table already inlined."""

    alias: str  # how the SELECT names it (lower case)
    tables: list[tuple[str, Table, exp.Table]]  # its real tables: (new alias, metadata, node)
    joins: list[exp.Join] = field(default_factory=list)  # attach tables[1:]
    where: list[exp.Expr] = field(default_factory=list)
    # derived tables: output name (lower case) -> (name as written, defining expression)
    outputs: dict[str, tuple[str, exp.Expr]] | None = None

    @property
    def columns(self) -> list[str]:
        if self.outputs is not None:
            return [name for name, _ in self.outputs.values()]
        return list(self.tables[0][1].columns)

    @property
    def private(self) -> bool:
        return any(not t.public for _, t, _ in self.tables)


@dataclass(frozen=True)
class Cte:
    name: str
    body: exp.Expr
    columns: tuple[str, ...]  # WITH v(a, b) AS …: names for the outputs
    node: exp.Expr


@dataclass(frozen=True)
class Names:
    """The aliases a FROM clause's tables get: `first` for the first table (None at
    the top level, where each keeps the analyst's name) and `prefix.x` for the others."""

    first: str | None
    prefix: str | None

    def of(self, i: int, alias: str) -> tuple[str, Names]:
        if self.prefix is None:
            return alias, Names(alias, alias)
        if i == 0:
            assert self.first is not None
            return self.first, Names(self.first, f"{self.prefix}.{alias}")
        own = f"{self.prefix}.{alias}"
        return own, Names(own, own)


def paren(tree: exp.Expr) -> exp.Expr:
    """A substituted definition keeps its meaning inside any outer expression."""
    if isinstance(tree, (exp.Column, exp.Literal, exp.Paren, exp.Boolean, exp.Null)):
        return tree
    return exp.Paren(this=tree)


def ordinal(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string


def output_names(items: list[exp.Expr]) -> list[str]:
    """The output names `validate` gives the SELECT items (before substitution)."""
    names: list[str] = []
    seen: set[str] = set()
    for item in items:
        if isinstance(item, exp.Alias):
            name = item.alias
        elif isinstance(item, exp.Column) and isinstance(item.this, exp.Identifier):
            name = item.name
        else:
            name = unique_name(default_name(item), seen)
        seen.add(name.lower())
        names.append(name)
    return names


class Columns:
    """Column references resolved against a FROM clause's entries; refusals point
    into the analyst's text."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def refuse(self, message: str, node: exp.Expr | None) -> QueryRefused:
        return QueryRefused(message, position_of(node, self.sql))

    def is_unit(self, tree: exp.Expr, tables: list[tuple[str, Table, exp.Table]]) -> bool:
        if not isinstance(tree, exp.Column):
            return False
        for own, table, _ in tables:
            if own == tree.table and not table.public:
                return table.canonical(tree.name) == table.privacy_unit
        return False

    def lookup(self, entry: Entry, column: exp.Column,
               at: exp.Expr) -> exp.Expr | None:
        """What `column` of `entry` stands for, or None if `entry` has no such column."""
        if entry.outputs is not None:
            found = entry.outputs.get(column.name.lower())
            return paren(found[1].copy()) if found else None
        own, table, _ = entry.tables[0]
        if table.canonical(column.name) is None:
            return None
        return exp.Column(this=column.this.copy(), table=exp.to_identifier(own))

    def resolve(self, column: exp.Column, scope: list[Entry]) -> exp.Expr | None:
        """What `column` stands for in `scope`, or None if no table in it has the column."""
        found = self._resolve(column, scope)
        return found[1] if found else None

    def _resolve(self, column: exp.Column,
                 scope: list[Entry]) -> tuple[Entry | None, exp.Expr] | None:
        if column.args.get("db") or column.args.get("catalog"):
            raise self.refuse(f"{column.sql()}: write the column as table.column at most", column)
        if not isinstance(column.this, exp.Identifier):
            return None, column  # table.*: validation refuses it
        qualifier = column.table
        if qualifier:
            entry = next((e for e in scope if e.alias == qualifier.lower()), None)
            if entry is None:
                raise self.refuse(f"{column.sql()}: {qualifier!r} is not a table in FROM", column)
            found = self.lookup(entry, column, column)
            if found is None:
                raise self.refuse(
                    f"column {column.name!r} does not exist in {qualifier}; its columns: "
                    f"{', '.join(entry.columns)}", column)
            return entry, found
        hits = [(e, f) for e in scope if (f := self.lookup(e, column, column)) is not None]
        if len(hits) > 1:
            raise self.refuse(f"{column.sql()}: several tables in FROM have a column "
                              f"{column.name!r}; write table.column", column)
        return hits[0] if hits else None

    def substitute(self, tree: exp.Expr, scope: list[Entry], clause: str,
                   aliases: dict[str, int] | None = None) -> tuple[exp.Expr, bool]:
        """`tree` with each column replaced by what it stands for; True when a derived
        table's column was among them. Names that are no column stay only where they can
        name an output (HAVING, ORDER BY)."""
        copy = tree.copy()
        derived = False
        for column in list(copy.find_all(exp.Column)):
            resolved = self._resolve(column, scope)
            if resolved is None:
                if aliases is not None and column.name.lower() in aliases:
                    continue
                known = "; ".join(f"{e.alias}: {', '.join(e.columns)}" for e in scope)
                raise self.refuse(f"{clause}: column {column.name!r} does not exist; the "
                                  f"tables in FROM have {known}", column)
            entry, found = resolved
            if entry is None:
                continue
            derived = derived or entry.outputs is not None
            if column is copy:
                return found, derived
            column.replace(found)
        return copy, derived
