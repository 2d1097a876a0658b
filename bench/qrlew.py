"""Qrlew's DP SQL (pyqrlew) on the same PostgreSQL data, in its own virtualenv.

pyqrlew brings its own sqlalchemy, pandas and numpy pins, so it lives in
``bench/.venv-qrlew`` (git-ignored) and runs in a subprocess
(``bench/_qrlew_worker.py``); results come back in the format of
``bench/results.json`` with variant ``qrlew_postgres`` and engine ``postgres``.

Same engine, data and bounds: Qrlew rewrites the analyst's SQL into SQL that
PostgreSQL runs (pyqrlew has no DuckDB dialect, so the comparison is on
PostgreSQL only), with ``max_multiplicity`` = dpsql's ``max_rows_per_unit``,
``max_privacy_unit_groups`` = ``max_groups_per_unit``, ``amount`` in
[lower, upper] and ``city``'s possible values = dpsql's public keys; ``cities``
is public (left out of the privacy unit). Each timed run is Qrlew's rewrite
plus the run of its SQL, which is what dpsql's HTTP variant does too (plus
HTTP, the ledger and noise); the rewrite alone is kept as ``rewrite_s``.
Qrlew 0.9 does not answer ``QUANTILE_CONT`` ("not yet implemented"): that query
is reported, not timed.

    python -m bench.qrlew --install     # create the virtualenv
    python -m bench.qrlew --rows 1e6    # time the suite (loads PostgreSQL if needed)
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

from psycopg.conninfo import conninfo_to_dict

from . import pgdata
from .data import CITIES, ensure_database, parse_sizes
from .measure import peer_records
from .suite import (
    AMOUNT_LOWER,
    AMOUNT_UPPER,
    MAX_GROUPS_PER_UNIT,
    MAX_ROWS_PER_UNIT,
    PENDING,
    QUERIES,
    Query,
)

__all__ = ["MAX_ROWS", "VENV", "QrlewFailed", "available", "install", "run"]

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-qrlew"
WORKER = HERE / "_qrlew_worker.py"
PACKAGES = ("pyqrlew==0.9.27",)  # it brings psycopg2 and sqlalchemy
EPSILON, DELTA = 1.0, 1e-5
MAX_ROWS = 1_000_000  # the issue compares at 1 M rows


class QrlewFailed(Exception):
    """The Qrlew subprocess exited with an error (its stderr's tail is the message)."""


def _python() -> Path:
    return VENV / "bin" / "python"


def available() -> bool:
    if not _python().exists():
        return False
    done = subprocess.run([str(_python()), "-c", "import pyqrlew, psycopg2"],
                          capture_output=True, check=False)
    return done.returncode == 0


def install() -> None:
    """Create the virtualenv (or add missing packages) and touch its stamp; on
    failure remove it, so `available()` stays honest."""
    try:
        if not _python().exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(_python()), "-m", "pip", "install", "--quiet", *PACKAGES],
                       check=True)
    except (OSError, subprocess.CalledProcessError):
        shutil.rmtree(VENV, ignore_errors=True)
        raise
    (VENV / ".installed-stamp").touch()


def _url(dsn: str) -> str:
    """A libpq conninfo as the ``postgresql://`` URL sqlalchemy takes."""
    parts = conninfo_to_dict(dsn)
    auth = parts.get("user", "")
    if parts.get("password"):
        auth += f":{parts['password']}"
    return (f"postgresql://{auth}@{parts.get('host', '127.0.0.1')}:{parts.get('port', 5432)}"
            f"/{parts['dbname']}")


def run(dsn: str, rows: int, reps: int, queries: Sequence[Query] = QUERIES,
        timeout_s: float = 3600) -> list[dict[str, Any]]:
    """Time the suite through Qrlew on the PostgreSQL database of ``dsn``."""
    job = {
        "dsn": _url(dsn), "reps": reps, "epsilon": EPSILON, "delta": DELTA,
        "max_rows": MAX_ROWS_PER_UNIT, "max_groups": MAX_GROUPS_PER_UNIT,
        "lower": AMOUNT_LOWER, "upper": AMOUNT_UPPER, "cities": list(CITIES),
        "queries": [[q.name, q.sql] for q in queries],
    }
    done = subprocess.run([str(_python()), str(WORKER)], input=json.dumps(job),
                          capture_output=True, text=True, timeout=timeout_s, check=False,
                          env={"RUST_BACKTRACE": "0", "PATH": "/usr/bin:/bin"})
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-5:]
        raise QrlewFailed("Qrlew worker failed:\n" + "\n".join(tail))
    return peer_records(json.loads(done.stdout), engine="postgres", rows=rows,
                        variant="qrlew_postgres")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.qrlew")
    parser.add_argument("--install", action="store_true")
    parser.add_argument("--rows", type=parse_sizes, default=parse_sizes("1e6"))
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    if args.install:
        install()
        return 0
    if not available():
        print(f"{VENV} is missing; run python -m bench.qrlew --install", file=sys.stderr)
        return 1
    for rows in args.rows:
        dsn = pgdata.ensure_postgres(ensure_database(rows), rows)
        print(json.dumps(run(dsn, rows, args.reps, (*QUERIES, *PENDING)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
