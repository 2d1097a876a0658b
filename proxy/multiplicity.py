"""Check what the data owner declares about public join columns against the data.

A JOIN onto a public table must equate one of its columns declared
`unique: true` or `max_multiplicity: k` (`rewriter.validate`), so that one row
matches a bounded number of public rows and a query's work follows from the
metadata (SPEC §4.7). The declaration is only as good as the data, so it is
verified when the table is registered: at start-up for every public table the
ledger holds, and on the owner API's PUT. Public tables hold no personal data,
so reading them costs no privacy.

    SELECT MAX(c) FROM (SELECT col, COUNT(*) AS c FROM t WHERE col IS NOT NULL
                        GROUP BY col) AS m

NULLs are left out: an equality never matches them. A public table whose rows
change after registration is not re-checked until the next start or PUT.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from rewriter import Table

from .engines.base import METADATA_TIMEOUT_S, Engine, EngineError

__all__ = ["check_multiplicities", "multiplicity_sql", "multiplicity_problems"]


def multiplicity_sql(table: str, column: str, dialect: str) -> str:
    """The most rows of `table` sharing one non-NULL value of `column`."""
    col = exp.column(column, quoted=True)
    counts = (
        exp.select(col, exp.alias_(exp.Count(this=exp.Star()), "c", quoted=True))
        .from_(exp.Table(this=exp.to_identifier(table, quoted=True)))
        .where(exp.Not(this=exp.Is(this=col.copy(), expression=exp.Null())))
        .group_by(col.copy())
    )
    query = exp.select(exp.Max(this=exp.column("c", quoted=True))).from_(
        exp.Subquery(this=counts, alias=exp.TableAlias(this=exp.to_identifier("m", quoted=True))))
    return query.sql(dialect=dialect)


def multiplicity_problems(name: str, table: Table, engine: Engine) -> list[str]:
    """What in `table`'s declared multiplicities the data contradicts, one line each."""
    problems: list[str] = []
    if not table.public:
        return problems
    for column_name, column in table.columns.items():
        declared = column.multiplicity
        if declared is None:
            continue
        what = "unique: true" if column.unique else f"max_multiplicity: {declared}"
        try:
            rows = engine.execute(multiplicity_sql(name, column_name, engine.dialect),
                                  timeout_s=METADATA_TIMEOUT_S).rows
        except EngineError:
            problems.append(f"table {name}: columns.{column_name} declares {what}, but the "
                            "column could not be read from the engine; check that the table "
                            "and column exist")
            continue
        found = int(rows[0][0]) if rows and rows[0][0] is not None else 0
        if found > declared:
            problems.append(
                f"table {name}: columns.{column_name} declares {what}, but a value occurs "
                f"{found} times in the data; declare max_multiplicity: {found} (or more), or "
                "remove the repeated rows"
            )
    return problems


def check_multiplicities(tables: Mapping[str, Table], engine: Engine) -> list[str]:
    """Every problem of every public table in `tables`."""
    return [p for name, table in tables.items() for p in multiplicity_problems(name, table, engine)]
