"""The privacy ledger: grants, charges, the answer cache and the hash chain.

Callers get a backend from :func:`open_ledger` and use only the
:class:`Ledger` interface, so a PostgreSQL backend slots in by URL scheme.
"""

from __future__ import annotations

from accountant.composition import Accounting
from accountant.errors import InvalidParameter
from accountant.ledger.base import Ledger
from accountant.ledger.records import (
    AnalystRecord,
    AnalystShare,
    BudgetStatus,
    Entry,
    Receipt,
    VerifyReport,
)
from accountant.ledger.seed import CONFIG_ACTOR, Declared, seed_ledger
from accountant.ledger.sqlite import SqliteLedger

_SQLITE = "sqlite:///"
_POSTGRES = ("postgresql://", "postgres://")


def open_ledger(url: str, accounting: Accounting) -> Ledger:
    """Open (creating if needed) the ledger named by ``url``.

    ``sqlite:///path/to/file.db`` opens a SQLite file at that path, as given
    (``sqlite:////abs/path.db`` for an absolute one); the caller resolves
    relative paths against its configuration directory.
    ``postgresql://user@host:5432/db`` (or ``postgres://``) opens the
    PostgreSQL ledger, creating its tables if missing; several proxies may
    share it.
    """
    if url.startswith(_POSTGRES):
        from accountant.ledger.postgres import PostgresLedger  # psycopg is optional

        return PostgresLedger(url, Accounting(accounting))
    if url.startswith(_SQLITE) and len(url) > len(_SQLITE):
        path = url[len(_SQLITE) :]
        if path == ":memory:":
            raise InvalidParameter(
                "ledger.url: an in-memory ledger would forget every charge; give a file path"
            )
        return SqliteLedger(path, Accounting(accounting))
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise InvalidParameter(
        f"ledger.url: unsupported ledger URL scheme {scheme!r}; use sqlite:///path/to/ledger.db "
        f"or postgresql://user@host/db"
    )


__all__ = [
    "AnalystRecord",
    "AnalystShare",
    "BudgetStatus",
    "CONFIG_ACTOR",
    "Declared",
    "Entry",
    "Ledger",
    "Receipt",
    "SqliteLedger",
    "VerifyReport",
    "open_ledger",
    "seed_ledger",
]
