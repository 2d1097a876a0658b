"""Result pages between a statement's POST and the client's GETs on `nextUri`.

A bounded in-memory store: each result is keyed by an unguessable slug, tied to
the analyst who ran it (another analyst's GET finds nothing), and forgotten
after `TTL_SECONDS` or when the store is full (oldest first). GETs are
idempotent: clients retry a page on 502/503/504 (notes §2.4), so a page,
including the last, stays readable until the result expires or is cancelled.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

PAGE_ROWS = 500  # rows per page: the JSON of one page stays small for every client
TTL_SECONDS = 600.0
MAX_RESULTS = 500


@dataclass
class Stored:
    analyst: str
    query_id: str
    columns: list[dict[str, Any]]
    pages: list[list[list[Any]]]
    warnings: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None  # a failed statement: its Trino error object
    update_type: str | None = None  # a statement without a result set (SET SESSION, …)
    created: float = field(default_factory=time.monotonic)


class PageStore:
    def __init__(self, *, ttl: float = TTL_SECONDS, capacity: int = MAX_RESULTS,
                 page_rows: int = PAGE_ROWS) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self.page_rows = page_rows
        self._results: OrderedDict[str, Stored] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, analyst: str, query_id: str, columns: list[dict[str, Any]],
            rows: list[list[Any]], warnings: list[dict[str, Any]], *,
            error: dict[str, Any] | None = None, update_type: str | None = None) -> str:
        pages = [rows[i:i + self.page_rows] for i in range(0, len(rows), self.page_rows)] or [[]]
        slug = secrets.token_urlsafe(24)
        stored = Stored(analyst, query_id, columns, pages, warnings, error, update_type)
        with self._lock:
            self._expire()
            while len(self._results) >= self._capacity:
                self._results.popitem(last=False)
            self._results[slug] = stored
        return slug

    def get(self, analyst: str, slug: str) -> Stored | None:
        with self._lock:
            self._expire()
            found = self._results.get(slug)
        if found is None or not secrets.compare_digest(found.analyst, analyst):
            return None
        return found

    def drop(self, analyst: str, slug: str) -> None:
        with self._lock:
            found = self._results.get(slug)
            if found is not None and found.analyst == analyst:
                del self._results[slug]

    def _expire(self) -> None:
        cutoff = time.monotonic() - self._ttl
        while self._results:
            slug, oldest = next(iter(self._results.items()))
            if oldest.created >= cutoff:
                break
            del self._results[slug]
