"""The privacy ledger: grants, charges, the answer cache and the hash chain.

Callers get a backend from :func:`open_ledger` and use only the
:class:`Ledger` interface, so a PostgreSQL backend slots in by URL scheme.
:class:`Ledger` is the composite of six small interfaces
(:mod:`accountant.ledger.base`); a caller that needs one side may ask for that
interface alone:

- :class:`BudgetLedger` — grants, the dataset budget, ``charge`` (atomic and
  durable before it returns), ``charge_owner``, ``status``, ``shares``.
- :class:`AnalystRegistry` — register, disable and list analysts; find one by
  the SHA-256 of its key.
- :class:`AnswerCache` — ``store_answer`` / ``cached_answer``: a repeated
  query gets its first answer back, free.
- :class:`TableLog` — ``set_table`` / ``tables``: table metadata as chain
  entries, with a version that moves on every change.
- :class:`AuditTrail` — ``entries``, ``latest_entry``, and the attempts log
  (``record_attempt``, ``attempts``).
- :class:`TamperEvidence` — ``verify``, ``start_guarded``, ``head`` and signed
  checkpoints (``use_notary``, ``checkpoint``, ``checkpoints``).

Both backends, :class:`SqliteLedger` (:mod:`.sqlite`) and ``PostgresLedger``
(:mod:`.postgres`), supply only connections and locks; the logic is written
once in :mod:`._sql`, one part per interface. The rest of the package holds
what the parts share: the hash chain's encoding (:mod:`.chain`), the budget
rules and records (:mod:`.records`), group commit (:mod:`.batch`), the chain
state, verification and run-time guard (:mod:`.state`, :mod:`.verification`,
:mod:`.guard`), checkpoints and their notary (:mod:`.checkpoints`), the
attempts log's rows (:mod:`.attempts`) and seeding from the configuration
(:mod:`.seed`).
"""

from __future__ import annotations

from accountant.composition import Accounting
from accountant.errors import InvalidParameter
from accountant.ledger.base import (
    AnalystRegistry,
    AnswerCache,
    AuditTrail,
    BudgetLedger,
    Ledger,
    TableLog,
    TamperEvidence,
)
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
    "AnalystRegistry",
    "AnalystShare",
    "AnswerCache",
    "AuditTrail",
    "BudgetLedger",
    "BudgetStatus",
    "CONFIG_ACTOR",
    "Declared",
    "Entry",
    "Ledger",
    "Receipt",
    "SqliteLedger",
    "TableLog",
    "TamperEvidence",
    "VerifyReport",
    "open_ledger",
    "seed_ledger",
]
