"""Timing and memory helpers shared by the benchmark runners.

Peak memory is sampled, not taken from ``getrusage``: ``ru_maxrss`` is the
peak of the whole process so far, so once one heavy query has run every later
measurement would report the same number. A thread reads the resident set size
from ``/proc/self/statm`` every 2 ms while a measurement runs (DuckDB releases
the GIL while it works, so the sampler barely disturbs it). Where ``/proc`` is
missing the process peak from ``getrusage`` is reported instead.

Only the standard library is imported here: the peer workers (``_snsql_worker.py``,
``_qrlew_worker.py``) run in virtualenvs of their own and import this file too.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RssSampler", "Timing", "peer_records", "rss_mb", "timed"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_STATM = "/proc/self/statm"


def rss_mb() -> float:
    """The current resident set size in MiB (the process peak where /proc is absent)."""
    try:
        with open(_STATM, encoding="ascii") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class RssSampler:
    """Context manager: ``peak_mb`` is the highest RSS seen while inside."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_mb = 0.0

    def __enter__(self) -> RssSampler:
        self.peak_mb = rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak_mb = max(self.peak_mb, rss_mb())


def timed(run: Callable[[], Any]) -> tuple[float, float, Any]:
    """(seconds, peak RSS in MiB, result) of one call of `run`."""
    with RssSampler() as rss:
        start = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - start
    return elapsed, rss.peak_mb, result


@dataclass
class Timing:
    """Repeated measurements of one (query, engine, rows, variant)."""

    query: str
    engine: str
    rows: int
    variant: str
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0

    def measure(self, run: Callable[[], Any]) -> Any:
        with RssSampler() as rss:
            start = time.perf_counter()
            out = run()
            elapsed = time.perf_counter() - start
        self.seconds.append(elapsed)
        self.peak_rss_mb = max(self.peak_rss_mb, rss.peak_mb)
        return out

    def record(self) -> dict[str, Any]:
        """One object of ``bench/results.json``."""
        return {
            "query": self.query,
            "engine": self.engine,
            "rows": self.rows,
            "variant": self.variant,
            "median_s": statistics.median(self.seconds),
            "min_s": min(self.seconds),
            "max_s": max(self.seconds),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "reps": len(self.seconds),
        }


def peer_records(results: list[dict[str, Any]], *, engine: str, rows: int,
                 variant: str) -> list[dict[str, Any]]:
    """A peer worker's timings (SmartNoise's, Qrlew's: one result per query with
    ``seconds`` and ``peak_rss_mb``, or ``error``) as results.json records; each
    error goes to stderr and leaves its query out."""
    records = []
    for r in results:
        if r["error"] is not None:
            print(f"{variant} {r['query']}: {r['error']}", file=sys.stderr)
            continue
        s = r["seconds"]
        record = {"query": r["query"], "engine": engine, "rows": rows, "variant": variant,
                  "median_s": statistics.median(s), "min_s": min(s), "max_s": max(s)}
        if "rewrite_seconds" in r:
            record["rewrite_s"] = statistics.median(r["rewrite_seconds"])
        records.append({**record, "peak_rss_mb": round(r["peak_rss_mb"], 1), "reps": len(s)})
    return records
