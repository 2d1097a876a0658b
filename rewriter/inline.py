"""Inline: replace CTEs and subqueries in FROM by what they compute, before validation.

dpsql answers a derived table (a CTE, or a subquery in FROM) when it is
row-level: a SELECT of allow-listed expressions over allowed tables and joins,
with an optional WHERE, and nothing that merges, orders or picks rows (no
aggregate, GROUP BY, DISTINCT, ORDER BY, LIMIT, window function or set
operation). Each of its rows is then one joined row of real tables, belonging
to one person, and the derived table is equivalent to its tables placed in the
outer FROM, its WHERE AND-ed to the outer WHERE, and every reference `t.col`
replaced by the expression that defines `col`:

    WITH v AS (SELECT person_id, amount * 2 AS a2 FROM visits WHERE amount > 0)
    SELECT SUM(a2) FROM v WHERE a2 < 100
      ⇒  SELECT SUM((v.amount * 2)) FROM visits AS v WHERE (v.amount > 0) AND (…  < 100)

The result is one SELECT over real tables that `validate` checks like any
other: bounds of computed columns follow from interval arithmetic over the
metadata, plain columns keep their metadata (bounds, public keys, groupable,
the privacy unit), and contribution bounding runs after every join, so the
sensitivity still follows from the declared caps alone. A private derived table
must carry its privacy unit, so each of its rows visibly belongs to one person.

Why the substitution is exact: a filter on a join's left input commutes with
inner and left joins, and `A ⋈ (B ⋈ C)` is `(A ⋈ B) ⋈ C` when the outer
condition names only A and B. A derived table joined on the right must
therefore be joined on its first table's columns, and one joined with LEFT JOIN
may not filter or join (its filter would turn into a filter on the outer rows)
nor compute columns (COALESCE(x, 0) would be 0, not NULL, on unmatched rows).

Tables inside a derived table `t` are renamed `t` (the first) and `t.x` (the
one aliased `x`), so names stay unique however deep the nesting. Everything
here reads the query text and the metadata only.
"""

from __future__ import annotations

from sqlglot import exp

from .aggregates import is_aggregate
from .catalog import Catalog
from .derived import Columns, Cte, Entry, Names, ordinal, output_names
from .metadata import Table
from .parse import position_of
from .rowclauses import check_rows
from .scope import resolve_table

MAX_TABLES = 16  # tables in FROM after inlining
MAX_NESTING = 8  # derived tables within derived tables

# Clauses of a derived table's SELECT; each one set outside this list is refused.
_ROW_LEVEL_ARGS = {"expressions", "from", "from_", "joins", "where", "with", "with_"}
_AGGREGATE_HINT = ("write the aggregate in the outer query, over the table itself (for "
                   "example SELECT city, SUM(amount) FROM visits GROUP BY city)")
_CLAUSE_REFUSALS = {
    "group": f"GROUP BY inside a derived table aggregates before contributions are bounded; "
             f"{_AGGREGATE_HINT}",
    "having": f"HAVING inside a derived table filters aggregates before contributions are "
              f"bounded; {_AGGREGATE_HINT}",
    "distinct": "DISTINCT inside a derived table merges rows of different people; drop it (to "
                "count people, use COUNT(DISTINCT <privacy unit>) in the outer query)",
    "order": "ORDER BY inside a derived table has no effect on an aggregate; drop it",
    "limit": "LIMIT inside a derived table keeps rows chosen by their values, so one person "
             "decides which rows others contribute; filter with WHERE instead",
    "offset": "OFFSET inside a derived table keeps rows chosen by their order; filter with "
              "WHERE instead",
    "qualify": "QUALIFY (window functions) is not supported in a derived table; filter with "
               "WHERE",
    "windows": "window functions inside a derived table compute across people's rows; drop "
               "the WINDOW clause",
    "laterals": "LATERAL is not supported; join tables with JOIN … ON",
    "sample": "TABLESAMPLE is not supported; filter with WHERE",
}
_SET_OPERATIONS = {
    exp.Union: "UNION", exp.Intersect: "INTERSECT", exp.Except: "EXCEPT",
}


def inline(tree: exp.Expr, catalog: Catalog, sql: str) -> exp.Expr:
    """`tree` with every CTE and subquery in FROM substituted, or unchanged without any."""
    if not isinstance(tree, exp.Select) or not _has_derived(tree):
        return tree
    return _Inliner(catalog, sql).outer(tree.copy())


def _has_derived(select: exp.Select) -> bool:
    if select.args.get("with") or select.args.get("with_"):
        return True
    source = select.args.get("from") or select.args.get("from_")
    items = ([source.this] if source is not None else []) + [
        j.this for j in select.args.get("joins") or []]
    return any(isinstance(i, exp.Subquery) for i in items)


class _Inliner(Columns):
    def __init__(self, catalog: Catalog, sql: str) -> None:
        super().__init__(sql)
        self.catalog = catalog

    # -- the outer query --------------------------------------------------------

    def outer(self, select: exp.Select) -> exp.Select:
        ctes = self.with_clause(select, {}, frozenset(), 0)
        scope, tables, joins, where = self.from_clause(select, ctes, frozenset(),
                                                       Names(None, None), 0)
        items = select.expressions
        names = output_names(items)
        aliases = {n.lower(): i for i, n in enumerate(names)
                   if isinstance(items[i], exp.Alias)}
        rebuilt: list[exp.Expr] = []
        for item, name in zip(items, names, strict=True):
            body = item.this if isinstance(item, exp.Alias) else item
            tree, derived = self.substitute(body, scope, "SELECT")
            if isinstance(item, exp.Alias) or derived:
                # keep the name the analyst's text gives the output
                rebuilt.append(exp.Alias(this=tree, alias=exp.to_identifier(name)))
            else:
                rebuilt.append(tree)
        select.set("expressions", rebuilt)
        own_where = select.args.get("where")
        if own_where is not None:
            where = [*where, self.substitute(own_where.this, scope, "WHERE")[0]]
        select.set("where", exp.Where(this=exp.and_(*(exp.Paren(this=w) for w in where)))
                   if where else None)
        group = select.args.get("group")
        if group is not None:
            keys = []
            for key in group.expressions:
                target = key
                if (isinstance(key, exp.Column) and not key.table
                        and self.resolve(key, scope) is None and key.name.lower() in aliases):
                    target = items[aliases[key.name.lower()]].this  # GROUP BY an output alias
                keys.append(key if ordinal(key) else self.substitute(target, scope,
                                                                      "GROUP BY")[0])
            group.set("expressions", keys)
        having = select.args.get("having")
        if having is not None:
            having.set("this", self.substitute(having.this, scope, "HAVING", aliases)[0])
        order = select.args.get("order")
        if order is not None:
            for ordered in order.expressions:
                target = ordered.this
                if ordinal(target) or (isinstance(target, exp.Column) and not target.table
                                        and target.name.lower() in aliases):
                    continue  # an output position or name: post-processing resolves it
                ordered.set("this", self.substitute(target, scope, "ORDER BY", aliases)[0])
        select.set("from" if "from" in select.args else "from_",
                   exp.From(this=tables[0][2]))
        select.set("joins", joins or None)
        select.set("with" if "with" in select.args else "with_", None)
        return select

    # -- WITH ---------------------------------------------------------------------

    def with_clause(self, select: exp.Select, visible: dict[str, Cte],
                    pending: frozenset[str], depth: int) -> dict[str, Cte]:
        """The CTEs visible in `select`: the enclosing ones and its own, each checked."""
        with_ = select.args.get("with") or select.args.get("with_")
        if with_ is None:
            return visible
        if with_.args.get("recursive"):
            raise self.refuse("WITH RECURSIVE is not supported: a recursive CTE can make rows "
                              "without bound; write the query over the tables directly", with_)
        ctes = list(with_.expressions)
        names = [c.alias_or_name.lower() for c in ctes]
        out = dict(visible)
        for i, cte in enumerate(ctes):
            name = cte.alias_or_name
            if not name:
                raise self.refuse("a CTE needs a name: WITH v AS (SELECT …)", cte)
            if self.catalog.table(name) is not None:
                raise self.refuse(
                    f"the CTE {name} has the name of a table; queries would read one where "
                    f"they meant the other. Give it another name, such as {name}_rows", cte)
            if name.lower() in names[:i]:
                raise self.refuse(f"two CTEs are named {name}; give each its own name", cte)
            extra = [k for k, v in cte.args.items()
                     if v and k not in {"this", "alias", "materialized"}]
            if extra:
                raise self.refuse(f"CTE {name}: {extra[0].upper()} is not supported", cte)
            body = cte.this
            alias = cte.args.get("alias")
            columns = tuple(c.name for c in alias.columns) if alias is not None else ()
            definition = Cte(name, body, columns, cte)
            # checked here, so a CTE nobody reads is refused like one that is read
            self.derived(definition.body, definition.columns, out,
                         pending | frozenset(names[i:]), Names(name.lower(), name.lower()),
                         name, cte, depth + 1)
            out[name.lower()] = definition
        return out

    # -- FROM -----------------------------------------------------------------------

    def from_clause(
        self, select: exp.Select, ctes: dict[str, Cte], pending: frozenset[str],
        names: Names, depth: int,
    ) -> tuple[list[Entry], list[tuple[str, Table, exp.Table]], list[exp.Join],
               list[exp.Expr]]:
        """Inline every item of FROM; return the scope and the flattened tables, joins
        and WHERE conjuncts."""
        source = select.args.get("from") or select.args.get("from_")
        if source is None:
            raise self.refuse("the query reads no table; name a private table in FROM", select)
        joins = list(select.args.get("joins") or [])
        scope: list[Entry] = []
        for i, node in enumerate([source.this, *(j.this for j in joins)]):
            entry = self.item(node, i, ctes, pending, names, depth)
            if any(e.alias == entry.alias for e in scope):
                raise self.refuse(f"the name {entry.alias!r} is used twice in FROM; give one "
                                  "of them an alias", node)
            scope.append(entry)
        tables: list[tuple[str, Table, exp.Table]] = []
        flat: list[exp.Join] = []
        where: list[exp.Expr] = []
        for i, entry in enumerate(scope):
            if i > 0:
                join = joins[i - 1]
                plain = (join.side or "").upper() == "" and (join.kind or "").upper() in (
                    "", "INNER")
                if entry.outputs is not None and (entry.joins or entry.where) and not plain:
                    raise self.refuse(
                        f"{(join.side or join.kind or '').upper()} JOIN {entry.alias}: a derived "
                        "table joined this way may not filter or join (its WHERE would drop "
                        "outer rows); use JOIN, or select from its tables without WHERE", join)
                computed = [n for n, t in (entry.outputs or {}).values()
                            if not isinstance(t, exp.Column)]
                if computed and not plain:
                    raise self.refuse(
                        f"{(join.side or join.kind or '').upper()} JOIN {entry.alias}: its "
                        f"column {computed[0]} is computed, and would not be NULL on outer "
                        "rows without a match once inlined; select plain columns in "
                        f"{entry.alias} and compute in the outer query", join)
                attached = join.copy()
                attached.set("this", entry.tables[0][2])
                on = join.args.get("on")
                if on is not None:
                    on = self.substitute(on, scope, "JOIN … ON")[0]
                    placed = {t[0] for t in tables} | {entry.tables[0][0]}
                    for column in on.find_all(exp.Column):
                        if column.table and column.table not in placed:
                            raise self.refuse(
                                f"JOIN {entry.alias} ON {join.args['on'].sql()}: a join may "
                                f"compare columns of the tables before it and of the first "
                                f"table of {entry.alias} only; join on those columns (such "
                                "as the privacy unit)", join)
                    attached.set("on", on)
                flat.append(attached)
            tables.extend(entry.tables)
            flat.extend(entry.joins)
            where.extend(entry.where)
        if len(tables) > MAX_TABLES:
            raise self.refuse(f"the query reads {len(tables)} tables once CTEs and subqueries "
                              f"are expanded; the limit is {MAX_TABLES}", select)
        return scope, tables, flat, where

    def item(self, node: exp.Expr, i: int, ctes: dict[str, Cte],
             pending: frozenset[str], names: Names, depth: int) -> Entry:
        """One FROM item: a real table, a CTE reference or a subquery."""
        if isinstance(node, exp.Subquery):
            alias_node = node.args.get("alias")
            inner: exp.Expr = node.this
            while isinstance(inner, exp.Subquery) and not inner.args.get("alias"):
                inner = inner.this
            if alias_node is None or not alias_node.name:
                raise self.refuse("a subquery in FROM needs a name: (SELECT …) AS t", node)
            extra = [k for k, v in node.args.items() if v and k not in {"this", "alias"}]
            if extra:
                raise self.refuse(f"{extra[0].upper()} on a subquery is not supported", node)
            alias = alias_node.name
            own, inner_names = names.of(i, alias.lower())
            columns = tuple(c.name for c in alias_node.columns)
            return self.derived(inner, columns, ctes, pending, inner_names, alias, node,
                                depth + 1)
        if (isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier)
                and not node.args.get("db") and not node.args.get("catalog")):
            key = node.name.lower()
            if key in ctes:
                extra = [k for k, v in node.args.items() if v and k not in {"this", "alias"}]
                if extra:
                    raise self.refuse(f"FROM {node.sql()}: {extra[0].upper()} is not allowed",
                                      node)
                cte = ctes[key]
                alias = node.alias or cte.name
                alias_node = node.args.get("alias")
                columns = (tuple(c.name for c in alias_node.columns)
                           if alias_node is not None and alias_node.columns else cte.columns)
                own, inner_names = names.of(i, alias.lower())
                return self.derived(cte.body, columns, ctes, pending, inner_names, alias,
                                    node, depth + 1)
            if key in pending:
                raise self.refuse(
                    f"the CTE reads {node.name}, which is itself or defined after it; "
                    "recursion is not supported, and a CTE may read only the CTEs before it",
                    node)
        name, table, table_node = resolve_table(node, self.catalog, self.sql)
        alias = (table_node.alias or name).lower()
        own, _ = names.of(i, alias)
        renamed = table_node.copy()
        renamed.set("alias", exp.TableAlias(this=exp.to_identifier(own)))
        return Entry(alias, [(own, table, renamed)])

    # -- a derived table ----------------------------------------------------------

    def derived(self, body: exp.Expr, columns: tuple[str, ...], ctes: dict[str, Cte],
                pending: frozenset[str], names: Names, alias: str, node: exp.Expr,
                depth: int) -> Entry:
        """Inline one derived table named `alias` whose SELECT is `body`."""
        if depth > MAX_NESTING:
            raise self.refuse(f"derived tables nest more than {MAX_NESTING} deep; flatten "
                              "the query", node)
        for cls, word in _SET_OPERATIONS.items():
            if isinstance(body, cls):
                raise self.refuse(
                    f"{alias}: {word} inside a derived table combines rows of several "
                    "queries, so one person's rows could count more than the caps allow; ask "
                    "each part as its own query", body)
        if not isinstance(body, exp.Select):
            raise self.refuse(
                f"{alias}: a derived table must be a SELECT of columns from tables "
                f"(found {type(body).__name__.upper()})", body)
        for arg, value in body.args.items():
            if value in (None, [], False) or arg in _ROW_LEVEL_ARGS:
                continue
            reason = _CLAUSE_REFUSALS.get(arg, f"{arg.upper()} is not supported in a derived "
                                               "table; write SELECT columns FROM tables WHERE …")
            at = value[0] if isinstance(value, list) else value
            if not (isinstance(at, exp.Expr) and position_of(at, self.sql)):
                at = body  # DISTINCT and a few other clauses keep no position
            raise self.refuse(f"{alias}: {reason}", at)
        visible = self.with_clause(body, ctes, pending, depth)
        scope, tables, joins, where = self.from_clause(body, visible, pending, names, depth)
        outputs: dict[str, tuple[str, exp.Expr]] = {}

        def add(name: str, tree: exp.Expr, at: exp.Expr) -> None:
            if name.lower() in outputs:
                raise self.refuse(
                    f"{alias}: two of its columns are named {name}; give one an alias with AS "
                    "(or list the columns instead of *)", at)
            outputs[name.lower()] = (name, tree)

        for item in body.expressions:
            self.row_level(item, alias)
            star = item if isinstance(item, exp.Star) else (
                item if isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
                else None)
            if star is not None:
                stars = item.this if isinstance(item, exp.Column) else item
                if any(v for k, v in stars.args.items()):
                    raise self.refuse(f"{alias}: * with EXCLUDE, REPLACE or RENAME is not "
                                      "supported; list the columns", item)
                qualifier = item.table if isinstance(item, exp.Column) else ""
                entries = [e for e in scope if not qualifier or e.alias == qualifier.lower()]
                if not entries:
                    raise self.refuse(f"{item.sql()}: {qualifier!r} is not a table in FROM",
                                      item)
                for entry in entries:
                    for column in entry.columns:
                        found = self.lookup(entry, exp.column(column), item)
                        assert found is not None
                        add(column, found, item)
                continue
            if isinstance(item, exp.Alias):
                add(item.alias, self.substitute(item.this, scope, "SELECT")[0], item)
            elif isinstance(item, exp.Column):
                add(item.name, self.substitute(item, scope, "SELECT")[0], item)
            else:
                raise self.refuse(f"{alias}: the column {item.sql()} needs a name; write "
                                  f"{item.sql()} AS some_name", item)
        if len(columns) > len(outputs):
            raise self.refuse(f"{alias}: {len(columns)} column names for {len(outputs)} "
                              "columns", node)
        if columns:
            renamed = list(outputs.values())
            outputs = {}
            for k, (name, tree) in enumerate(renamed):
                add(columns[k] if k < len(columns) else name, tree, node)
        own_where = body.args.get("where")
        if own_where is not None:
            self.row_level(own_where.this, alias)
            where = [*where, self.substitute(own_where.this, scope, "WHERE")[0]]
        entry = Entry(alias.lower(), tables, joins, where, outputs)
        check = exp.Select(expressions=[exp.Alias(this=t.copy(), alias=exp.to_identifier(n))
                                        for n, t in outputs.values()])
        check.set("from_", exp.From(this=tables[0][2].copy()))
        check.set("joins", [j.copy() for j in joins] or None)
        if where:
            check.set("where", exp.Where(this=exp.and_(*(exp.Paren(this=w.copy())
                                                       for w in where))))
        check_rows(check, self.catalog, self.sql)
        if entry.private and not any(self.is_unit(t, tables) for _, t in outputs.values()):
            units = sorted({f"{t.privacy_unit}" for _, t, _ in tables if not t.public})
            raise self.refuse(
                f"{alias} reads private data but does not select its privacy unit "
                f"({' or '.join(units)}), so its rows could not be told apart by person; "
                f"select the unit column, for example SELECT {units[0]}, … ", node)
        return entry

    def row_level(self, tree: exp.Expr, alias: str) -> None:
        for node in tree.walk():
            if is_aggregate(node):
                raise self.refuse(f"{alias}: {node.sql()} aggregates inside a derived table, "
                                  f"before contributions are bounded; {_AGGREGATE_HINT}", node)
            if isinstance(node, exp.Window):
                raise self.refuse(f"{alias}: window functions inside a derived table compute "
                                  "across people's rows; use GROUP BY in the outer query", node)



__all__ = ["inline"]
