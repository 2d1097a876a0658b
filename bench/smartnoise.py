"""SmartNoise SQL on the same data with the same bounds, in its own virtualenv.

``smartnoise-sql`` pins an OpenDP older than dpsql's, so it lives in
``bench/.venv-snsql`` (git-ignored) and runs in a subprocess
(``bench/_snsql_worker.py``); results come back as JSON in the format of
``bench/results.json`` with variant ``smartnoise_pandas`` (its pandas reader on
the DuckDB file's table, loaded into a DataFrame) or ``smartnoise_postgres``
(its PostgreSQL reader, over psycopg2, on the table ``bench/pgdata.py`` loaded).

Same bounds: ``max_ids`` = dpsql's ``max_rows_per_unit``, ``amount`` in
[lower, upper]. Differences that remain, stated so the comparison is read
fairly: SmartNoise has no public keys, so its GROUP BY releases groups through
τ-thresholding (δ > 0) where dpsql outputs every declared key; and it caps rows
per person but not groups per person (``max_ids`` covers both).

    python -m bench.smartnoise --install     # create the virtualenv
    python -m bench.smartnoise --rows 1e6    # time the suite
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlglot import exp, parse_one

from .data import ensure_database, parse_sizes
from .measure import peer_records
from .suite import AMOUNT_LOWER, AMOUNT_UPPER, MAX_ROWS_PER_UNIT, QUERIES, Query

__all__ = [
    "VENV", "SmartNoiseFailed", "available", "install", "run", "smartnoise_sql", "worker",
]

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-snsql"
WORKER = HERE / "_snsql_worker.py"
PACKAGES = ("smartnoise-sql==1.0.10", "pandas", "duckdb", "psycopg2-binary")
EPSILON, DELTA = 1.0, 1e-5


class SmartNoiseFailed(Exception):
    """The SmartNoise subprocess exited with an error (its stderr's tail is the message)."""


def _python() -> Path:
    return VENV / "bin" / "python"


def available(kind: str = "pandas") -> bool:
    """The virtualenv exists (and, for ``postgres``, has psycopg2: older venvs lack it)."""
    if not _python().exists():
        return False
    if kind == "postgres":
        done = subprocess.run([str(_python()), "-c", "import psycopg2"], capture_output=True,
                              check=False)
        return done.returncode == 0
    return True


def install() -> None:
    """Create the virtualenv (or add missing packages to it) and touch its stamp;
    on failure remove it, so `available()` stays honest."""
    try:
        if not _python().exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(_python()), "-m", "pip", "install", "--quiet", *PACKAGES],
                       check=True)
    except (OSError, subprocess.CalledProcessError):
        shutil.rmtree(VENV, ignore_errors=True)
        raise
    (VENV / ".installed-stamp").touch()


def smartnoise_sql(sql: str, schema: str = "bench") -> str:
    """The analyst's query with tables qualified as SmartNoise wants (``bench.visits``)."""
    tree = parse_one(sql, dialect="duckdb")
    for table in tree.find_all(exp.Table):
        table.set("db", exp.to_identifier(schema))
    return tree.sql(dialect="postgres")


def worker(job: dict[str, Any], timeout_s: float = 3600, worker: Path = WORKER) -> Any:
    """Run ``worker`` (a script that imports no dpsql package) on ``job`` in the
    SmartNoise virtualenv; its JSON answer."""
    done = subprocess.run(
        [str(_python()), str(worker)], input=json.dumps(job), capture_output=True, text=True,
        timeout=timeout_s, check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-5:]
        raise SmartNoiseFailed("SmartNoise worker failed:\n" + "\n".join(tail))
    return json.loads(done.stdout)


def run(
    path: Path, rows: int, reps: int, queries: Sequence[Query] = QUERIES,
    timeout_s: float = 3600, dsn: str | None = None,
) -> list[dict[str, Any]]:
    """Time the suite through SmartNoise's pandas reader on the DuckDB file at
    ``path``, or its PostgreSQL reader when ``dsn`` is given; one record per query."""
    if dsn is None:
        source, schema = {"kind": "pandas", "database": str(path)}, "bench"
        engine, variant = "pandas", "smartnoise_pandas"
    else:
        source, schema = {"kind": "postgres", "dsn": dsn}, "public"
        engine, variant = "postgres", "smartnoise_postgres"
    job = {
        "source": source, "rows": rows, "reps": reps, "epsilon": EPSILON, "delta": DELTA,
        "max_ids": MAX_ROWS_PER_UNIT, "lower": AMOUNT_LOWER, "upper": AMOUNT_UPPER,
        "queries": [[q.name, smartnoise_sql(q.sql, schema)] for q in queries],
    }
    return peer_records(worker(job, timeout_s), engine=engine, rows=rows, variant=variant)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.smartnoise")
    parser.add_argument("--install", action="store_true")
    parser.add_argument("--rows", type=parse_sizes, default=parse_sizes("1e6"))
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    if args.install:
        install()
        return 0
    if not available():
        print(f"{VENV} is missing; run python -m bench.smartnoise --install", file=sys.stderr)
        return 1
    for rows in args.rows:
        print(json.dumps(run(ensure_database(rows), rows, args.reps), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
