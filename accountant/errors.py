"""The accountant's exceptions.

One root, stable codes (the codes are API: the proxy maps them to HTTP errors
and they are never renamed)::

    AccountantError            code: (abstract); a dpsql.errors.DpsqlError
    ├── InvalidParameter       code: invalid_parameter
    ├── BudgetExhausted        code: budget_exhausted   (.which: analyst | dataset | expired)
    └── LedgerTampered         code: ledger_tampered    (the ledger disagrees with itself)
"""

from __future__ import annotations

from typing import Literal

from dpsql.errors import DpsqlError

Which = Literal["analyst", "dataset", "expired"]


class AccountantError(DpsqlError):
    """Root of every error the accountant raises on purpose.

    The accountant never knows a position in the SQL, so ``position`` stays None.
    """

    code: str = "internal"
    fixed_message = True

    def __init__(self, message: str) -> None:
        super().__init__(message)


class InvalidParameter(AccountantError):
    """A privacy parameter or budget value that cannot be used as given."""

    code = "invalid_parameter"


class BudgetExhausted(AccountantError):
    """The charge would exceed a limit; nothing was charged.

    ``which`` names the limit: the analyst's grant, the dataset-wide budget, or
    an expired grant.
    """

    code = "budget_exhausted"

    def __init__(self, message: str, which: Which) -> None:
        super().__init__(message)
        self.which: Which = which


class LedgerTampered(AccountantError):
    """The ledger cannot be trusted: its chain, its checkpoints or a table derived
    from the chain say different things. Nothing is charged while this holds."""

    code = "ledger_tampered"
