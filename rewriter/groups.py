"""GROUP BY: each key rebuilt from allowed nodes, its type, and its declared keys.

A key with declared public keys (a column's, or a CASE's literal outputs)
releases every declared value; any other key goes through partition selection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlglot import exp

from .aggregates import is_aggregate
from .errors import QueryRefused
from .expressions import ExprError
from .metadata import KeyValue
from .scope import Scope, column_tree, resolve_column, source_of


@dataclass(frozen=True)
class GroupKey:
    text: str  # normalized analyst text, to match SELECT items
    name: str  # display name
    tree: exp.Expr
    type: str
    declared: tuple[KeyValue, ...] | None  # None: partition selection
    written: exp.Expr  # the analyst's expression (GROUP BY 1 and aliases resolved)


def normalized_text(node: exp.Expr) -> str:
    """The analyst's expression without table qualifiers, in one canonical text."""
    copy = node.copy()
    for column in copy.find_all(exp.Column):
        column.set("table", None)
        column.set("db", None)
        column.set("catalog", None)
    return copy.sql(dialect="duckdb", normalize=True, comments=False)


class KeyText:
    """`normalized_text`, computed only for nodes that could be one of the group keys.

    Post-processing asks, for every node it walks, whether the node is a group
    key; generating each subtree's text would cost the subtree's size at every
    level, quadratic in the query. A node that cannot match gets "" (no key's
    text is empty) after looking at a bounded number of its nodes: when every key
    is a plain column, any node but a column; otherwise a node with far more
    nodes (identifiers aside, as qualifiers are dropped) than the largest key.
    """

    def __init__(self, keys: Iterable[exp.Expr]) -> None:
        written = list(keys)
        self.columns_only = all(isinstance(k, exp.Column) for k in written)
        self.bound = 2 * max((_size(k) for k in written), default=0) + 4

    def __call__(self, node: exp.Expr) -> str:
        if self.columns_only and not isinstance(node, exp.Column):
            return ""
        if _size(node, self.bound) > self.bound:
            return ""
        return normalized_text(node)


def _size(node: exp.Expr, stop: int | None = None) -> int:
    """Nodes other than identifiers, counting no further than `stop` + 1."""
    count = 0
    for n in node.walk():
        if not isinstance(n, exp.Identifier):
            count += 1
            if stop is not None and count > stop:
                break
    return count


def _group_target(node: exp.Expr, select: exp.Select, ctx: Scope) -> exp.Expr:
    """GROUP BY 1 and GROUP BY alias name a SELECT item; resolve them to it."""
    if isinstance(node, exp.Literal) and not node.is_string:
        position = int(node.this) if node.this.isdigit() else 0
        if not 1 <= position <= len(select.expressions):
            raise ctx.refuse(f"GROUP BY {node.sql()}: no SELECT item at that position", node)
        item = select.expressions[position - 1]
        return item.this if isinstance(item, exp.Alias) else item
    if isinstance(node, exp.Column) and not node.table and ctx.table.canonical(node.name) is None:
        for item in select.expressions:
            if isinstance(item, exp.Alias) and item.alias.lower() == node.name.lower():
                return item.this
    return node


def group_by(select: exp.Select, ctx: Scope) -> tuple[GroupKey, ...]:
    group = select.args.get("group")
    if group is None:
        return ()
    for arg, value in group.args.items():
        if value and arg != "expressions":
            raise ctx.refuse(
                f"GROUP BY {arg.upper()} is not supported; group by columns or expressions", group
            )
    keys: list[GroupKey] = []
    for written in group.expressions:
        node = _group_target(written, select, ctx)
        for inner in node.walk():
            if is_aggregate(inner) or isinstance(inner, exp.Window):
                raise ctx.refuse(f"GROUP BY {node.sql()}: group by columns, not aggregates", inner)
            if isinstance(inner, exp.Column):
                name, column = resolve_column(inner, ctx)
                if ctx.is_unit(inner):
                    raise ctx.refuse(
                        f"GROUP BY {node.sql()}: {name} identifies people (the privacy unit); a "
                        "group per person would reveal individuals. Group by a category instead.",
                        node,
                    )
                if not column.groupable:
                    raise ctx.refuse(
                        f"GROUP BY {node.sql()}: the data owner marked {name} as not groupable "
                        "(it identifies people); group by another column",
                        node,
                    )
        key = _group_key(node, ctx)
        if any(k.text == key.text for k in keys):
            raise ctx.refuse(f"GROUP BY lists {key.name} twice", written)
        keys.append(key)
    return tuple(keys)


def _group_key(node: exp.Expr, ctx: Scope) -> GroupKey:
    text = normalized_text(node)
    if isinstance(node, exp.Column):
        name, column = resolve_column(node, ctx)
        source, canonical = source_of(node, ctx)
        declared = (_keys_of(canonical, ctx, source.name)
                    if not source.table.public and column.public_keys is not None else None)
        return GroupKey(text, name, column_tree(node, ctx), column.type, declared, node)
    try:
        typed = ctx.rows(filters=True).scalar(node)
    except ExprError as err:
        raise ctx.refuse(f"GROUP BY {node.sql()}: {err.message}", err.node) from None
    if typed.type == "boolean" or typed.type == "null":
        raise ctx.refuse(f"GROUP BY {node.sql()}: group by a value, not a condition", node)
    declared = _case_literals(node)
    key_type = typed.type
    if declared is not None and key_type in ("integer", "float"):
        key_type = "integer" if all(isinstance(k, int) for k in declared) else "float"
        declared = tuple(float(k) for k in declared  # type: ignore[arg-type]
                         ) if key_type == "float" else declared
    return GroupKey(text, node.sql(), typed.tree, key_type, declared, node)


def _keys_of(column: str, ctx: Scope, table: str | None = None) -> tuple[KeyValue, ...]:
    keys = ctx.catalog.public_keys(table or ctx.table_name, column)
    if not keys:
        raise QueryRefused(
            f"GROUP BY {column}: its public keys come from a public table that holds none; "
            "ask the data owner to fill it"
        )
    return keys


def _case_literals(node: exp.Expr) -> tuple[KeyValue, ...] | None:
    """The outputs of a CASE whose every branch is a constant: its public keys."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.If):
        branches = [node.args.get("true"), node.args.get("false")]
    elif isinstance(node, exp.Case):
        branches = [i.args.get("true") for i in node.args.get("ifs", [])]
        branches.append(node.args.get("default"))
    else:
        return None
    values: list[KeyValue] = []
    for branch in branches:
        if branch is None or isinstance(branch, exp.Null):
            continue  # rows in no declared bucket are dropped
        if isinstance(branch, exp.Neg) and isinstance(branch.this, exp.Literal):
            number = float(branch.this.this)
            values.append(-int(number) if number.is_integer() and "." not in branch.this.this
                          else -number)
            continue
        if not isinstance(branch, exp.Literal):
            return None
        if branch.is_string:
            values.append(branch.this)
        else:
            number = float(branch.this)
            values.append(int(number) if number.is_integer() and "." not in branch.this
                          else number)
    unique = tuple(dict.fromkeys(values))
    return unique or None
