"""The ledger logic both SQL backends share; a backend supplies only connections and locks.

A backend subclasses :class:`SqlLedger` and provides ``_write`` (a transaction
that holds the ledger's write lock from its first statement, so
check-and-charge is one atomic step, and that commits durably on exit),
``_write_answer`` (the answer cache's and the attempts log's, not forced to
disk) and ``_read`` (a transaction that sees one consistent snapshot); see
:class:`~accountant.ledger._sql.core.SqlCore`. Everything else — the tables,
the queries, the hash chain, the budget rules — is written once here in the
SQL SQLite and PostgreSQL both accept, with ``?`` placeholders (the
PostgreSQL backend translates them), one part per interface of
:mod:`accountant.ledger.base`:

=================  ======================================  ==================
module             part                                    implements
=================  ======================================  ==================
``schema``         the tables, the ``Conn`` protocol
``statements``     appending an entry, totals, grants
``core``           transactions, the guarded chain write
``charges``        :class:`SqlBudgetLedger`                ``BudgetLedger``
``analysts``       :class:`SqlAnalystRegistry`             ``AnalystRegistry``
``answers``        :class:`SqlAnswerCache`                 ``AnswerCache``
``tables``         :class:`SqlTableLog`                    ``TableLog``
``trail``          :class:`SqlAuditTrail`                  ``AuditTrail``
``trust``          :class:`SqlTamperEvidence`              ``TamperEvidence``
=================  ======================================  ==================
"""

from __future__ import annotations

from accountant.ledger._sql.analysts import SqlAnalystRegistry
from accountant.ledger._sql.answers import SqlAnswerCache
from accountant.ledger._sql.charges import SqlBudgetLedger
from accountant.ledger._sql.core import SqlCore
from accountant.ledger._sql.schema import ADDED_COLUMNS, TABLES, Conn, Rows
from accountant.ledger._sql.tables import SqlTableLog
from accountant.ledger._sql.trail import SqlAuditTrail
from accountant.ledger._sql.trust import FULL_CHECK_BELOW, SqlTamperEvidence
from accountant.ledger.base import Ledger

__all__ = [
    "ADDED_COLUMNS",
    "FULL_CHECK_BELOW",
    "TABLES",
    "Conn",
    "Rows",
    "SqlAnalystRegistry",
    "SqlAnswerCache",
    "SqlAuditTrail",
    "SqlBudgetLedger",
    "SqlCore",
    "SqlLedger",
    "SqlTableLog",
    "SqlTamperEvidence",
]


class SqlLedger(
    SqlBudgetLedger,
    SqlAnalystRegistry,
    SqlAnswerCache,
    SqlTableLog,
    SqlAuditTrail,
    SqlTamperEvidence,
    Ledger,
):
    """Every :class:`~accountant.ledger.base.Ledger` operation over the backend's
    transactions, one part per interface; see the module docstring."""
