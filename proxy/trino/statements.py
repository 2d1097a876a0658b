"""The statement router: one Trino statement text in, one `Outcome` out.

    EXECUTE IMMEDIATE / EXECUTE … USING   substitute the parameters, route the result
    PREPARE / DEALLOCATE PREPARE          echo the statement back to the client (§2.6)
    DESCRIBE OUTPUT                       the prepared statement's result shape, free
    SHOW / DESCRIBE / SET / USE / …       commands.py, free
    EXPLAIN                               dpsql's explain, free
    SELECT over the catalog, or constant  catalog_sql.py, free
    anything else                         data.py: the pipeline of /v1/query

Every refusal is a `TrinoError` carrying dpsql's code and message.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from rewriter.parse import parse

from . import catalog_sql, data
from .commands import command, name_at
from .context import Context, Outcome, after, tokenize, words
from .errors import NOT_FOUND, NOT_SUPPORTED, QUERY_REJECTED, TrinoError

_OPEN = (TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE)
_CLOSE = (TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE)


def _parameters(sql: str, tokens: list[Token]) -> list[str]:
    """The texts of the comma-separated literals after USING."""
    found: list[str] = []
    depth, start = 0, None
    for token in tokens:
        if token.token_type == TokenType.COMMA and depth == 0:
            found.append(sql[start:token.start].strip() if start is not None else "")
            start = None
            continue
        if start is None:
            start = token.start
        if token.token_type in _OPEN:
            depth += 1
        elif token.token_type in _CLOSE:
            depth -= 1
    if start is not None:
        found.append(sql[start:].strip())
    return found


def _bind(statement: str, parameters: list[str]) -> str:
    """Put each parameter's literal text where its `?` stands.

    Done on the tokens, so a `?` inside a string or a quoted name is left alone;
    the result is parsed in full again (and by the pipeline), so a parameter
    that is not one literal fails there like any other text would.
    """
    marks = [t for t in tokenize(statement) if t.token_type == TokenType.PLACEHOLDER]
    if len(marks) != len(parameters):
        raise TrinoError("invalid_parameter", f"the statement has {len(marks)} parameter(s) "
                         f"but USING gives {len(parameters)}", QUERY_REJECTED)
    out, last = [], 0
    for mark, value in zip(marks, parameters, strict=True):
        out.append(statement[last:mark.start])
        out.append(value or "NULL")
        last = mark.end + 1
    out.append(statement[last:])
    return "".join(out)


def _using(sql: str, tokens: list[Token], i: int) -> list[str]:
    if i >= len(tokens):
        return []
    if tokens[i].text.upper() != "USING":
        raise TrinoError("parse_error", "expected USING <values> after the statement",
                         QUERY_REJECTED)
    return _parameters(sql, tokens[i + 1:])


def prepared(ctx: Context, name: str) -> str:
    found = ctx.session.prepared.get(name)
    if found is None:
        raise TrinoError("not_found", f"prepared statement {name} is not known to this session; "
                         "PREPARE it first", NOT_FOUND)
    return found


def execute(ctx: Context, sql: str, *, nested: bool = False) -> Outcome:
    tokens = tokenize(sql.strip().rstrip(";"))
    sql = sql.strip().rstrip(";")
    head = words(tokens, 3)
    if head[:2] == ["EXECUTE", "IMMEDIATE"] and not nested:
        if len(tokens) < 3 or tokens[2].token_type != TokenType.STRING:
            raise TrinoError("parse_error", "write EXECUTE IMMEDIATE '<statement>' [USING …]",
                             QUERY_REJECTED)
        return execute(ctx, _bind(tokens[2].text, _using(sql, tokens, 3)), nested=True)
    if head[:1] == ["EXECUTE"] and not nested:
        parts, i = name_at(tokens, 1)
        return execute(ctx, _bind(prepared(ctx, ".".join(parts)), _using(sql, tokens, i)),
                       nested=True)
    if head[:1] == ["PREPARE"]:
        parts, i = name_at(tokens, after(tokens, 1))
        if not parts or i >= len(tokens) or tokens[i].text.upper() != "FROM" \
                or i + 1 >= len(tokens):
            raise TrinoError("parse_error", "write PREPARE <name> FROM <statement>",
                             QUERY_REJECTED)
        ctx.reply.added_prepare(".".join(parts), sql[tokens[i + 1].start:])
        return Outcome(update_type="PREPARE")
    if head[:2] == ["DEALLOCATE", "PREPARE"]:
        ctx.reply.deallocated_prepare(".".join(name_at(tokens, after(tokens, 2))[0]))
        return Outcome(update_type="DEALLOCATE")
    if head[:2] == ["DESCRIBE", "OUTPUT"]:
        name = ".".join(name_at(tokens, after(tokens, 2))[0])
        return describe_output(ctx, prepared(ctx, name))
    if head[:1] == ["EXPLAIN"]:
        rest = tokens[1:]
        if rest and (rest[0].token_type == TokenType.L_PAREN or rest[0].text.upper() in (
                "ANALYZE", "TYPE", "FORMAT")):
            raise TrinoError("unsupported_query", "dpsql answers plain EXPLAIN <select> with "
                             "its own plan (noise, cost, rewritten SQL); EXPLAIN options and "
                             "EXPLAIN ANALYZE are not supported", NOT_SUPPORTED)
        if not rest:
            raise TrinoError("parse_error", "write EXPLAIN <select>", QUERY_REJECTED)
        return data.explain(ctx, _parse(ctx, sql[rest[0].start:]))
    answered = command(ctx, tokens)
    if answered is not None:
        return answered
    return select(ctx, _parse(ctx, sql))


def _parse(ctx: Context, sql: str) -> exp.Expression:
    try:
        return parse(sql, "trino", ctx.svc.pipeline.limits)
    except Exception as exc:  # noqa: BLE001 - ParseError/QueryRefused, as our code
        raise TrinoError.of(exc) from None


def _route(ctx: Context, tree: exp.Expression) -> dict[int, catalog_sql.MetaKey] | None:
    """The emulated table of every FROM item when the statement reads only the
    catalog (or nothing); None when it reads the analyst's tables."""
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    keys: dict[int, catalog_sql.MetaKey] = {}
    data_tables = []
    for table in tree.find_all(exp.Table):
        if table.name.lower() in ctes and not table.db:
            continue
        key = catalog_sql.meta_key(table, ctx.session.schema)
        if key is not None:
            keys[id(table)] = key
            continue
        if catalog_sql.is_catalog_query(key, table):
            raise TrinoError("unsupported_query", f"{table.sql(dialect='trino')} is not one of "
                             "the catalog tables dpsql answers (information_schema, "
                             "system.jdbc, system.metadata.table_comments, dpsql.budget)",
                             NOT_SUPPORTED)
        if "$" in table.name:
            raise TrinoError("unsupported_query", f"table {table.name} does not exist "
                             "(dpsql tables have no hidden $partitions or $files tables)",
                             data.TABLE_NOT_FOUND)
        data_tables.append(table)
    if data_tables and keys:
        raise TrinoError("unsupported_query", "a query may read the catalog tables or the data "
                         "tables, not both", NOT_SUPPORTED)
    return None if data_tables else keys


def select(ctx: Context, tree: exp.Expression) -> Outcome:
    is_query = isinstance(tree, exp.Query)
    keys = _route(ctx, tree) if is_query else None
    if keys is not None:
        return catalog_sql.answer(ctx, tree, keys)
    return data.query(ctx, tree)


def describe_output(ctx: Context, statement: str) -> Outcome:
    """`DESCRIBE OUTPUT`: the columns a prepared statement returns, typed, free."""
    columns = [("Column Name", "varchar"), ("Catalog", "varchar"), ("Schema", "varchar"),
               ("Table", "varchar"), ("Type", "varchar"), ("Type Size", "bigint"),
               ("Aliased", "boolean")]
    tokens = tokenize(statement)
    bound = _bind(statement, ["NULL"] * sum(t.token_type == TokenType.PLACEHOLDER
                                            for t in tokens))
    if words(tokens, 1) != ["SELECT"] and words(tokens, 1) != ["WITH"]:
        return Outcome(columns, [])  # statements without a result set describe as empty
    tree = _parse(ctx, bound)
    keys = _route(ctx, tree)
    if keys is not None:
        # not copied: `keys` knows the tree's table nodes by identity
        probe = exp.select("*").from_(exp.Subquery(this=tree, alias=exp.to_identifier("t")),
                                      copy=False).limit(0, copy=False)
        shape = catalog_sql.answer(ctx, probe, keys).columns
    else:
        tree = data.local_names(tree)
        if isinstance(tree, exp.Select):
            items = data.split_accuracy(tree)
        else:
            raise TrinoError("unsupported_query", "DESCRIBE OUTPUT describes one SELECT",
                             NOT_SUPPORTED)
        shape = data.shape(ctx, tree)
        for item in sorted(items, key=lambda i: i.position):
            shape.insert(item.position, (item.name, "double"))
    size = {"bigint": 8, "double": 8, "boolean": 1, "date": 4, "integer": 4}
    return Outcome(columns, [[name, "", "", "", typ, size.get(typ, 0), False]
                             for name, typ in shape])
