"""How long the server's start-up verification of the ledger takes, and what the
guard adds to a charge (issue #20).

Builds a ledger of ``--entries`` entries (default 10^6: ten analysts, each with a
registration and a grant, the rest charges at a few different ε), written in bulk
with the ledger's own hashing, then times :meth:`Ledger.start_guarded` on SQLite
and on the local PostgreSQL:

* ``first_start_s``: a ledger without checkpoints (written before they existed),
  so the whole chain is rehashed and every derived table recomputed before serving;
* ``restart_s``: the next start, resumed from the chain state signed at the last
  checkpoint (time until the proxy serves);
* ``background_check_s``: until the background rehash of the whole chain is done;

and the median latency of a durable charge with and without the guard. Writes
``bench/ledger_startup.json`` and prints a table.

    python -m bench.ledger_startup                     # 10^6 entries, both backends
    python -m bench.ledger_startup --entries 2000 --backends sqlite
"""

from __future__ import annotations

import argparse
import io
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from accountant import Accounting, cost_of, format_fraction, open_ledger
from accountant.ledger import Ledger
from accountant.ledger.chain import GENESIS, canonical_json, entry_hash
from accountant.ledger.checkpoints import Notary, load_key
from accountant.ledger.records import iso
from bench.measure import rss_mb

ANALYSTS = 10
EPSILONS = ("0.01", "0.05", "0.1", "0.25")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
COLUMNS = ("seq", "timestamp", "kind", "analyst", "actor", "reason", "query_id", "sql",
           "epsilon", "delta", "rho", "expires", "detail", "prev_hash", "hash", "delta_add")
OUT = Path(__file__).with_name("ledger_startup.json")


def rows(entries: int) -> Iterator[dict[str, Any]]:
    """The ledger's entries, hashed as the ledger hashes them."""
    prev, seq, stamp = GENESIS, 0, iso(datetime(2026, 6, 1, tzinfo=UTC))
    detail = canonical_json({"accounting": "pure", "groups": 0, "measures": [
        {"name": "n", "kind": "count", "column": None, "l1": 1, "l2_squared": 1,
         "grid_scale": "1", "mechanism": "discrete_laplace", "scale": "10", "share": "1"}],
        "partition_selection": None})

    def entry(**fields: Any) -> dict[str, Any]:
        nonlocal prev, seq
        seq += 1
        row = {name: None for name in COLUMNS}
        row.update({"seq": seq, "timestamp": stamp, "detail": "{}", "prev_hash": prev,
                    **fields})
        row["hash"] = entry_hash(row)
        prev = row["hash"]
        return row

    for i in range(ANALYSTS):
        name = f"analyst{i}"
        yield entry(kind="analyst", analyst=name, actor="bench", reason="bench",
                    detail=canonical_json({"event": "register", "role": "analyst",
                                           "key_sha256": f"{i:064x}", "disabled": False}))
        yield entry(kind="grant", analyst=name, actor="bench", reason="bench",
                    epsilon="1000000", delta="0.000001")
    while seq < entries:
        name = f"analyst{seq % ANALYSTS}"
        yield entry(kind="charge", analyst=name, actor=name, query_id=f"q_{seq:024x}",
                    sql="SELECT dept, COUNT(*) AS n FROM employees GROUP BY dept",
                    epsilon=EPSILONS[seq % len(EPSILONS)], delta="0", rho="0", detail=detail)


def totals(written: list[tuple[str, str]]) -> dict[str, Fraction]:
    spent: dict[str, Fraction] = {}
    for analyst, eps in written:
        spent[analyst] = spent.get(analyst, Fraction(0)) + Fraction(eps)
    return spent


def fill(url: str, entries: int) -> None:
    """Write the entries, the head, the registry and the totals as the ledger would."""
    open_ledger(url, Accounting.PURE).close()  # the tables and the head row
    charged: list[tuple[str, str]] = []
    last: dict[str, Any] = {}
    registry = []

    def stream() -> Iterator[tuple[Any, ...]]:
        nonlocal last
        for row in rows(entries):
            if row["kind"] == "charge":
                charged.append((row["analyst"], row["epsilon"]))
            elif row["kind"] == "analyst":
                registry.append((row["analyst"], "analyst", json.loads(row["detail"])[
                    "key_sha256"], 0))
            last = row
            yield tuple(row[c] for c in COLUMNS)

    spent_rows = lambda: [  # noqa: E731 - two backends, one shape
        ("analyst", a, format_fraction(v), "0", "0", "0") for a, v in totals(charged).items()
    ] + [("dataset", "", format_fraction(sum(totals(charged).values(), Fraction(0))),
          "0", "0", "0")]
    if url.startswith("sqlite:///"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO entries ({', '.join(COLUMNS)}) VALUES "
                         f"({', '.join('?' for _ in COLUMNS)})", stream())
        conn.executemany("INSERT INTO analysts VALUES (?, ?, ?, ?)", registry)
        conn.executemany("INSERT INTO totals VALUES (?, ?, ?, ?, ?, ?)", spent_rows())
        conn.execute("UPDATE head SET seq = ?, hash = ?", (last["seq"], last["hash"]))
        conn.execute("COMMIT")
        conn.close()
        return
    import psycopg

    with psycopg.connect(url) as conn:
        with conn.cursor().copy(f"COPY entries ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for values in stream():
                copy.write_row(values)
        conn.cursor().executemany("INSERT INTO analysts VALUES (%s, %s, %s, %s)", registry)
        conn.cursor().executemany("INSERT INTO totals VALUES (%s, %s, %s, %s, %s, %s)",
                                  spent_rows())
        conn.execute("UPDATE head SET seq = %s, hash = %s", (last["seq"], last["hash"]))
        conn.execute("ANALYZE entries")


def charge_latency(ledger: Ledger, n: int) -> float:
    """Median seconds of one charge (durable commit included)."""
    times = []
    for i in range(n):
        began = time.perf_counter()
        ledger.charge("analyst0", cost_of(Accounting.PURE, "0.01", 0), query_id=f"b{i}",
                      sql="SELECT COUNT(*) FROM employees", detail={})
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def measure(backend: str, url: str, entries: int, folder: Path, charges: int) -> dict[str, Any]:
    began = time.perf_counter()
    fill(url, entries)
    filled_s = time.perf_counter() - began
    notary = Notary(load_key(folder / f"{backend}.key", create=True),
                    folder / f"{backend}.checkpoints")
    plain = open_ledger(url, Accounting.PURE)
    unguarded = charge_latency(plain, charges)
    plain.close()

    def start() -> tuple[Ledger, float, float]:
        ledger = open_ledger(url, Accounting.PURE)
        ledger.use_notary(notary, every_entries=100)
        began = time.perf_counter()
        ledger.start_guarded()
        serving = time.perf_counter() - began
        assert ledger.wait_for_full_check() is None
        return ledger, serving, time.perf_counter() - began

    # no checkpoint yet (a ledger from before checkpoints): the whole chain, before serving
    first, first_s, _ = start()
    guarded = charge_latency(first, charges)
    first.close()
    rss_before = rss_mb()
    # a restart resumes from the state signed at the last checkpoint
    again, restart_s, background_s = start()
    again.close()
    return {"backend": backend, "entries": entries, "fill_s": round(filled_s, 1),
            "first_start_s": round(first_s, 3), "restart_s": round(restart_s, 3),
            "background_check_s": round(background_s, 3),
            "rss_growth_mb": round(rss_mb() - rss_before, 1),
            "charge_ms_unguarded": round(unguarded * 1000, 2),
            "charge_ms_guarded": round(guarded * 1000, 2)}


@contextmanager
def pg_database() -> Iterator[str]:
    import psycopg

    name = f"dpsql_bench_ledger_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run(entries: int, backends: list[str], charges: int) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for backend in backends:
            print(f"{backend}: writing {entries:_} entries …", file=sys.stderr)
            if backend == "sqlite":
                results.append(measure(backend, f"sqlite:///{folder / 'ledger.db'}", entries,
                                       folder, charges))
                continue
            with pg_database() as url:
                results.append(measure(backend, url, entries, folder, charges))
    return results


def table(results: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    heads = list(results[0])
    widths = [max(len(h), *(len(str(r[h])) for r in results)) for h in heads]
    out.write("  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)) + "\n")
    for r in results:
        out.write("  ".join(str(r[h]).ljust(w) for h, w in zip(heads, widths, strict=True))
                  + "\n")
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--charges", type=int, default=200,
                        help="charges timed with and without the guard")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    results = run(args.entries, args.backends.split(","), args.charges)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
