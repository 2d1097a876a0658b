"""Runs inside ``bench/.venv-qrlew`` (pyqrlew and its own pinned dependencies).

Reads a JSON job on stdin: ``{"dsn", "reps", "epsilon", "delta", "max_rows",
"max_groups", "lower", "upper", "cities", "queries": [[name, sql], ...]}``.
Builds Qrlew's ``Dataset`` from the PostgreSQL database (sqlalchemy reflection
of ``public``, no ranges read from the data), declares ``amount`` in
[lower, upper] and ``city``'s possible values (the public keys dpsql is given),
and the privacy unit ``visits.person_id``. For each query, each repetition
times Qrlew's rewrite (``rewrite_with_differential_privacy`` with
``max_multiplicity`` = R and ``max_privacy_unit_groups`` = G, then
``to_query`` for PostgreSQL) and the run of that SQL on one psycopg2
connection, after one warm-up. Writes one JSON list of ``{"query", "seconds",
"rewrite_seconds", "peak_rss_mb", "error", "sql"}`` to stdout.

Only the standard library, sqlalchemy, psycopg2 and pyqrlew are imported here:
this file must not import dpsql's packages, which live in the other virtualenv.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

# bench/measure.py imports only the standard library, so a worker in another
# virtualenv can use it: the worker runs as a script, with bench/ on sys.path
from measure import timed


def main() -> int:
    warnings.filterwarnings("ignore")
    import psycopg2
    import pyqrlew as qrl
    import sqlalchemy as sa

    job = json.load(sys.stdin)
    url = job["dsn"]
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    dataset = qrl.Dataset.from_database("bench", engine, "public")
    dataset = dataset.with_range("public", "visits", "amount", job["lower"], job["upper"])
    dataset = dataset.with_possible_values("public", "visits", "city", job["cities"])
    privacy_unit = [("visits", [], "person_id")]  # a table left out is public to Qrlew
    budget = {"epsilon": job["epsilon"], "delta": job["delta"]}
    conn = psycopg2.connect(url)
    conn.autocommit = True

    def rewrite(sql: str) -> str:
        relation = dataset.relation(sql)
        dp = relation.rewrite_with_differential_privacy(
            dataset, privacy_unit, budget, max_multiplicity=float(job["max_rows"]),
            max_privacy_unit_groups=int(job["max_groups"]))
        return dp.relation().to_query()

    def run(sql: str) -> None:
        text = rewrite(sql)
        with conn.cursor() as cur:
            cur.execute(text)
            cur.fetchall()

    out = {name: {"query": name, "seconds": [], "rewrite_seconds": [], "peak_rss_mb": 0.0,
                  "error": None, "sql": None}
           for name, _ in job["queries"]}
    runnable = []
    for name, sql in job["queries"]:
        try:
            out[name]["sql"] = rewrite(sql)
            run(sql)  # warm-up, and a check that Qrlew answers it at all
            runnable.append((name, sql))
        except BaseException as exc:  # noqa: BLE001 - per query; pyo3 panics are BaseException
            if isinstance(exc, KeyboardInterrupt):
                raise
            out[name]["error"] = f"{type(exc).__name__}: {exc}"[:300]
    for _ in range(job["reps"]):
        for name, sql in runnable:
            elapsed, peak, _ = timed(lambda sql=sql: run(sql))
            start = time.perf_counter()
            rewrite(sql)
            out[name]["rewrite_seconds"].append(time.perf_counter() - start)
            out[name]["seconds"].append(elapsed)
            out[name]["peak_rss_mb"] = max(out[name]["peak_rss_mb"], peak)
    json.dump(list(out.values()), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
