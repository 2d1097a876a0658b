"""Request and response bodies of the HTTP API, declared once for the routes
and the OpenAPI document, by area:

    base.py     the strict request base, (ε, δ), budgets as people read them, errors
    query.py    the analyst's: query, explain, budget, tables, whoami
    ledger.py   compliance: entries, attempts, verification, receipts, spend over time
    owner.py    analysts, grants, the dataset budget, table changes, the assistant
"""

from .base import (
    Body,
    BudgetSide,
    Charge,
    ErrorDetail,
    ErrorResponse,
    Spend,
)
from .ledger import (
    AttemptRecord,
    AttemptsPage,
    LedgerEntry,
    LedgerPage,
    ReceiptResponse,
    SpendHistory,
    SpendOverview,
    SpendPoint,
    VerifyResponse,
)
from .owner import (
    AnalystCreate,
    AnalystInfo,
    AnalystKey,
    AnalystList,
    AnalystUpdate,
    DatasetBudget,
    DatasetGrant,
    GrantRequest,
    KeyRotation,
    ProposalInfo,
    SuggestRequest,
    SuggestResponse,
    TableChangeReport,
)
from .query import (
    AccuracyInfo,
    AccuracyTarget,
    BoundingInfo,
    BudgetResponse,
    ColumnInfo,
    ColumnMeta,
    EstimateInfo,
    ExplainResponse,
    OutputPlan,
    QueryRequest,
    QueryResponse,
    TableMeta,
    TablesResponse,
    WhoAmI,
)

__all__ = [
    "AccuracyInfo",
    "AccuracyTarget",
    "AnalystCreate",
    "AnalystInfo",
    "AnalystKey",
    "AnalystList",
    "AnalystUpdate",
    "AttemptRecord",
    "AttemptsPage",
    "Body",
    "BoundingInfo",
    "BudgetResponse",
    "BudgetSide",
    "Charge",
    "ColumnInfo",
    "ColumnMeta",
    "DatasetBudget",
    "DatasetGrant",
    "ErrorDetail",
    "ErrorResponse",
    "EstimateInfo",
    "ExplainResponse",
    "GrantRequest",
    "KeyRotation",
    "LedgerEntry",
    "LedgerPage",
    "OutputPlan",
    "ProposalInfo",
    "QueryRequest",
    "QueryResponse",
    "ReceiptResponse",
    "Spend",
    "SpendHistory",
    "SpendOverview",
    "SpendPoint",
    "SuggestRequest",
    "SuggestResponse",
    "TableChangeReport",
    "TableMeta",
    "TablesResponse",
    "VerifyResponse",
    "WhoAmI",
]
