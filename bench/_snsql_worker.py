"""Runs inside ``bench/.venv-snsql`` (SmartNoise SQL pins an older OpenDP than dpsql).

Reads a JSON job on stdin: ``{"source", "rows", "reps", "epsilon", "delta",
"max_ids", "lower", "upper", "queries": [[name, sql], ...]}``. ``source`` is
``{"kind": "pandas", "database": <DuckDB file>}`` (the ``visits`` table is loaded
into a DataFrame once; the metadata names it ``bench.visits``) or ``{"kind":
"postgres", "dsn": ...}`` (SmartNoise's PostgreSQL reader on one psycopg2
connection; the table is ``public.visits``). Then times ``reader.execute`` for
each query, interleaved over repetitions after one warm-up. Writes one JSON list
of ``{"query", "seconds": [...], "peak_rss_mb", "error"}`` to stdout.

Only the standard library, duckdb, pandas, psycopg2 and snsql are imported here:
this file must not import dpsql's packages, which live in the other virtualenv.
"""

from __future__ import annotations

import json
import sys
import warnings

# bench/measure.py imports only the standard library, so a worker in another
# virtualenv can use it: the worker runs as a script, with bench/ on sys.path
from measure import timed


def main() -> int:
    warnings.filterwarnings("ignore")
    import duckdb
    import snsql
    from snsql import Privacy

    job = json.load(sys.stdin)
    source = job["source"]
    if source["kind"] == "pandas":
        con = duckdb.connect(source["database"], read_only=True)
        conn = con.execute("SELECT person_id, visit_date, city, amount FROM visits").df()
        con.close()
        schema = "bench"
    else:
        import psycopg2

        conn = psycopg2.connect(source["dsn"])
        schema = "public"
    metadata = {
        "": {
            schema: {
                "visits": {
                    "max_ids": job["max_ids"],
                    "row_privacy": False,
                    "rows": job["rows"],
                    "person_id": {"type": "int", "private_id": True},
                    "visit_date": {"type": "datetime"},
                    "city": {"type": "string"},
                    "amount": {"type": "float", "lower": job["lower"], "upper": job["upper"]},
                }
            }
        }
    }
    privacy = Privacy(epsilon=job["epsilon"], delta=job["delta"])
    reader = snsql.from_connection(conn, privacy=privacy, metadata=metadata)
    out = {name: {"query": name, "seconds": [], "peak_rss_mb": 0.0, "error": None}
           for name, _ in job["queries"]}
    runnable = []
    for name, sql in job["queries"]:
        try:
            reader.execute(sql)  # warm-up, and a check that SmartNoise answers it at all
            runnable.append((name, sql))
        except Exception as exc:  # noqa: BLE001 - reported per query, not fatal
            out[name]["error"] = f"{type(exc).__name__}: {exc}"[:300]
    for _ in range(job["reps"]):
        for name, sql in runnable:
            elapsed, peak, _ = timed(lambda sql=sql: reader.execute(sql))
            out[name]["seconds"].append(elapsed)
            out[name]["peak_rss_mb"] = max(out[name]["peak_rss_mb"], peak)
    json.dump(list(out.values()), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
