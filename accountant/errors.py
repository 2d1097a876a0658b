"""The accountant's exceptions.

One root, stable codes (the codes are API: the proxy maps them to HTTP errors
and they are never renamed)::

    AccountantError            code: (abstract)
    ├── InvalidParameter       code: invalid_parameter
    ├── BudgetExhausted        code: budget_exhausted   (.which: analyst | dataset | expired)
    └── LedgerTampered         code: ledger_tampered    (the ledger disagrees with itself)
"""

from __future__ import annotations

from typing import Literal

Which = Literal["analyst", "dataset", "expired"]


class AccountantError(Exception):
    """Root of every error the accountant raises on purpose.

    ``position`` exists so the proxy can render every error in one shape; the
    accountant never knows a position in the SQL, so it is always None here.
    """

    code: str = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.position = None


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
