"""dpsql's accountant: exact budgets, noise mechanisms and the privacy ledger.

Pure of the proxy and the rewriter: it takes sensitivities and (ε, δ) as plain
values and returns noise specs, noisy integers and ledger receipts.
"""

from accountant.budget import Budget, format_fraction, to_fraction, validate_query_parameters
from accountant.composition import (
    Accounting,
    Cost,
    capacity_for,
    cost_of,
    epsilon_from_rho,
    rho_for,
    split,
)
from accountant.errors import AccountantError, BudgetExhausted, InvalidParameter
from accountant.ledger import (
    AnalystRecord,
    AnalystRegistry,
    AnalystShare,
    AnswerCache,
    AuditTrail,
    BudgetLedger,
    BudgetStatus,
    Entry,
    Ledger,
    Receipt,
    TableLog,
    TamperEvidence,
    VerifyReport,
    open_ledger,
)
from accountant.mechanisms import (
    NoiseSpec,
    add_noise,
    ci95_halfwidth,
    epsilon_of,
    gaussian_for,
    gaussian_tail_bound,
    gaussian_threshold,
    laplace_for,
    laplace_tail_bound,
    laplace_threshold,
    rho_of,
)

__all__ = [
    "AccountantError",
    "Accounting",
    "AnalystRecord",
    "AnalystRegistry",
    "AnalystShare",
    "AnswerCache",
    "AuditTrail",
    "Budget",
    "BudgetExhausted",
    "BudgetLedger",
    "BudgetStatus",
    "Cost",
    "Entry",
    "InvalidParameter",
    "Ledger",
    "NoiseSpec",
    "Receipt",
    "TableLog",
    "TamperEvidence",
    "VerifyReport",
    "add_noise",
    "capacity_for",
    "ci95_halfwidth",
    "cost_of",
    "epsilon_from_rho",
    "epsilon_of",
    "format_fraction",
    "gaussian_for",
    "gaussian_tail_bound",
    "gaussian_threshold",
    "laplace_for",
    "laplace_tail_bound",
    "laplace_threshold",
    "open_ledger",
    "rho_for",
    "rho_of",
    "split",
    "to_fraction",
    "validate_query_parameters",
]
