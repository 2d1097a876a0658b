"""Fixtures of the totality properties: the hostile data on both engines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from rewriter import Catalog, Table
from tests.pg import require_postgres, throwaway_database
from tests.search import FUZZ_EXAMPLES, FUZZ_LONG, SPARK_FULL, search
from tests.sparkutil import export_parquet, require_spark

from .hostile import CITIES, TABLES, build_duckdb, load_postgres

# CI runs a short search; `make fuzz` sets DPSQL_FUZZ_EXAMPLES for a long one.
# CI is derandomized (the same examples every run) and stops at the first bug found;
# the long search explores at random and reports every distinct failure it finds.
LONG = FUZZ_LONG
EXAMPLES = 150 if FUZZ_EXAMPLES is None else FUZZ_EXAMPLES
FUZZ = search(EXAMPLES, long=LONG)

# Spark answers a rewritten query in a fraction of a second, not a millisecond: CI runs a
# shorter search there; `make test-spark` (DPSQL_SPARK_FULL) and `make fuzz` the full one.
SPARK_EXAMPLES = EXAMPLES if LONG or SPARK_FULL else 30


def examples_for(kind: str) -> settings:
    """The search's settings on one engine."""
    return settings(FUZZ, max_examples=SPARK_EXAMPLES) if kind == "spark" else FUZZ


# what the proxy resolves `city`'s public keys to (the public table's distinct names)
CATALOG = Catalog({name: Table.model_validate(t) for name, t in TABLES.items()},
                  {("people", "city"): tuple(sorted(CITIES))})


@pytest.fixture(scope="session")
def hostile_duckdb(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """DuckDB files with (True) and without (False) the hostile person."""
    folder = tmp_path_factory.mktemp("hostile")
    paths = {}
    for hostile in (True, False):
        paths[hostile] = folder / f"hostile_{hostile}.duckdb"
        build_duckdb(paths[hostile], hostile)
    return paths


@pytest.fixture(scope="session")
def hostile_spark(hostile_duckdb: dict[bool, Path], tmp_path_factory: pytest.TempPathFactory
                  ) -> dict[bool, dict[str, Any]]:
    """The same hostile rows as Parquet files, read by Spark: each database's
    `engine.sources` (DuckDB writes the values Spark then has to read back)."""
    require_spark()
    folder = tmp_path_factory.mktemp("hostile_spark")
    return {hostile: export_parquet(path, folder / f"hostile_{hostile}")
            for hostile, path in hostile_duckdb.items()}


@pytest.fixture(scope="session")
def hostile_postgres() -> Iterator[dict[bool, tuple[str, str]]]:
    """PostgreSQL databases with and without the hostile person: (admin, reader) DSNs."""
    require_postgres()
    with throwaway_database("dpsql_total") as with_, throwaway_database("dpsql_total") as without:
        load_postgres(with_[0], True)
        load_postgres(without[0], False)
        yield {True: with_, False: without}


class Survey:
    """The long search's record of failures: the shortest query per kind of failure.

    Hypothesis stops generating at its first failure, so on code with many bugs a long
    search would only ever shrink the first one. With DPSQL_FUZZ_EXAMPLES set, the tests
    record each failure here and keep searching, then fail once listing every kind.
    """

    def __init__(self) -> None:
        self.kinds: dict[str, tuple[str, str]] = {}

    def record(self, sql: str, message: str) -> None:
        kind = re.sub(r"\d+", "N", re.sub(r"'[^']*'|\"[^\"]*\"", "…", message.split(" for ")[0]))
        if kind not in self.kinds or len(sql) < len(self.kinds[kind][0]):
            self.kinds[kind] = (sql, message)

    def check(self) -> None:
        lines = [f"- {kind[:200]}\n    {sql}\n    {message[:300]}"
                 for kind, (sql, message) in sorted(self.kinds.items())]
        assert not self.kinds, f"{len(self.kinds)} kinds of failure:\n" + "\n".join(lines)
