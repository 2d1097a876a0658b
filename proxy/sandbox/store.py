"""Where the twins live: a DuckDB database of their own, never the data engine.

The store builds one twin database per catalog (a changed table's metadata
gives a new catalog, hence a new twin) in a private temporary folder, and opens
it through the same sealed, read-only :class:`~proxy.engines.duckdb.DuckDBEngine`
the data uses, so the rewritten SQL meets the same engine and the same limits.

The only statements the store sends the data engine read public tables (their
declared columns), which hold no personal data by the owner's declaration and
which any analyst may read in full anyway; private tables are made up from their
metadata (:mod:`.twin`).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
from sqlglot import exp

from rewriter import Catalog

from ..engines.base import Engine
from ..engines.duckdb import DuckDBEngine
from .marginals import TableMarginals
from .twin import SQL_TYPES, synthesize

__all__ = ["PUBLIC_ROWS", "Twin", "TwinStore", "public_rows_sql"]

PUBLIC_ROWS = 1_000_000  # a public table larger than this is copied up to this many rows


@dataclass(frozen=True)
class Twin:
    engine: Engine
    people: dict[str, int]  # private table -> synthetic people
    rows: dict[str, int]  # every table -> rows in the twin
    marginals: tuple[str, ...] = ()  # private tables shaped by the owner's DP marginals


def public_rows_sql(table: str, columns: list[str], dialect: str) -> str:
    """SELECT the declared columns of a public table (at most PUBLIC_ROWS rows)."""
    query = exp.select(*(exp.column(c, quoted=True) for c in columns)).from_(
        exp.Table(this=exp.to_identifier(table, quoted=True))).limit(PUBLIC_ROWS)
    return query.sql(dialect=dialect)


class TwinStore:
    """Builds twins on first use and whenever the catalog changes."""

    def __init__(self, data_engine: Engine, *, statement_timeout_s: float,
                 folder: Path | None = None) -> None:
        self._data = data_engine
        self._timeout = statement_timeout_s
        self._owned = folder is None
        self._folder = Path(tempfile.mkdtemp(prefix="dpsql-sandbox-")) if folder is None \
            else folder
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None
        self._twin: Twin | None = None
        self._opened: list[Engine] = []  # earlier twins may still serve a request
        self._marginals: dict[str, TableMarginals] = {}

    def set_marginals(self, marginals: dict[str, TableMarginals]) -> None:
        """Shape the next twins by these DP marginals (the next request rebuilds)."""
        with self._lock:
            self._marginals = dict(marginals)
            self._twin = None

    def twin(self, catalog: Catalog) -> Twin:
        with self._lock:
            if self._twin is None or self._catalog is not catalog:
                self._twin = self._build(catalog, len(self._opened))
                self._catalog = catalog
                self._opened.append(self._twin.engine)
            return self._twin

    def _build(self, catalog: Catalog, generation: int) -> Twin:
        path = self._folder / f"twin-{generation}.duckdb"
        path.unlink(missing_ok=True)
        people: dict[str, int] = {}
        rows: dict[str, int] = {}
        con = duckdb.connect(str(path))
        try:
            for name, table in catalog.tables.items():
                if table.public:
                    rows[name] = self._copy_public(con, name, list(table.columns),
                                                   [c.type for c in table.columns.values()])
                    continue
                made = synthesize(name, table, catalog, self._marginals.get(name))
                source = f"__twin_{generation}_{len(people)}"
                con.register(source, made.columns)
                con.execute(made.create_sql(source))
                con.unregister(source)
                people[name], rows[name] = made.people, made.rows
            con.execute("CHECKPOINT")
        finally:
            con.close()
        return Twin(DuckDBEngine(path, statement_timeout_s=self._timeout), people, rows,
                    tuple(n for n in people if n in self._marginals))

    def _copy_public(self, con: duckdb.DuckDBPyConnection, name: str, columns: list[str],
                     types: list[str]) -> int:
        if not columns:
            return 0  # nothing declared, nothing a query may read
        result = self._data.execute(public_rows_sql(name, columns, self._data.dialect))
        create = exp.Create(
            this=exp.Schema(this=exp.Table(this=exp.to_identifier(name, quoted=True)), expressions=[
                exp.ColumnDef(this=exp.to_identifier(c, quoted=True),
                              kind=exp.DataType.build(SQL_TYPES[t]))
                for c, t in zip(columns, types, strict=True)]),
            kind="TABLE")
        con.execute(create.sql(dialect="duckdb"))
        if result.rows:
            insert = exp.insert(
                exp.values([tuple(exp.Placeholder() for _ in columns)]),
                exp.Table(this=exp.to_identifier(name, quoted=True)))
            con.executemany(insert.sql(dialect="duckdb"), [list(r) for r in result.rows])
        return len(result.rows)

    def close(self) -> None:
        with self._lock:
            for engine in self._opened:
                engine.close()
            self._opened.clear()
            self._twin = None
            if self._owned:
                shutil.rmtree(self._folder, ignore_errors=True)
