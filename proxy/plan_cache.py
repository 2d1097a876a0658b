"""Plans of recently asked query texts, so a repeated text skips sqlglot.

A plan (and the engine SQL generated from it) depends only on the query text,
the input dialect, the limits, the diagnostics share and the catalog, never on
the data, the analyst, ε or δ; each entry is keyed by all of them. The catalog
is matched by identity: when the tables change, `proxy.tables.TableStore.refresh`
builds a new `Catalog` object (the catalog version is the object), so no lookup
against it finds a plan made for the old one.

Privacy: serving a cached plan changes nothing a release depends on. The charge
is taken per request by the ledger and the noise is drawn per request by
`proxy.release`; only the answer cache (the ledger's, keyed per analyst, ε and
δ) ever repeats an answer. A refusal is not cached: it is raised again by
planning again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from rewriter import Catalog

__all__ = ["PlanCache"]

T = TypeVar("T")
SIZE = 1024


class PlanCache:
    """A bounded least-recently-used map from (catalog, key) to a plan.

    Entries hold their catalog, and a lookup matches only the very same catalog
    object, so a changed table can never be served an older catalog's plan; old
    catalogs' entries simply age out.
    """

    def __init__(self, size: int = SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[int, Hashable], tuple[Catalog, Any]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, catalog: Catalog, key: Hashable, build: Callable[[], T]) -> T:
        """The cached value of ``key`` under ``catalog``, else ``build()`` (cached if
        it returns; whatever it raises is raised, uncached)."""
        slot = (id(catalog), key)
        with self._lock:
            found = self._entries.get(slot)
            if found is not None and found[0] is catalog:
                self._entries.move_to_end(slot)
                self.hits += 1
                return found[1]  # type: ignore[no-any-return]
            self.misses += 1
        value = build()  # outside the lock: planning takes milliseconds
        with self._lock:
            self._entries[slot] = (catalog, value)
            self._entries.move_to_end(slot)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value
