"""The deployment file ``dpsql.yaml`` (SPEC §2), declared once as pydantic models.

The server refuses to start on any problem, and the data owner should be able to
fix every problem in one pass: :func:`load_config` collects all errors and
reports each as ``key.path: what is wrong``.

    sections.py    the sections, their defaults and checks; ConfigError; expiry dates
    deployment.py  Config, the whole file, and the checks that span sections
    load.py        strict YAML, ${VAR} substitution, validation, relative paths
"""

from .deployment import ANALYST_NAME_PATTERN, Config
from .load import load_config, parse_config, substitute_environment
from .sections import (
    AnalystBudget,
    AnalystConfig,
    BudgetConfig,
    CheckpointConfig,
    ConfigError,
    ConfigRole,
    EngineConfig,
    LedgerConfig,
    LimitsConfig,
    LoggingConfig,
    NamesConfig,
    PrivacyConfig,
    SparkSource,
    TlsConfig,
    grant_expiry,
    parse_expiry,
)

__all__ = [
    "ANALYST_NAME_PATTERN",
    "AnalystBudget",
    "AnalystConfig",
    "BudgetConfig",
    "CheckpointConfig",
    "Config",
    "ConfigError",
    "ConfigRole",
    "EngineConfig",
    "LedgerConfig",
    "LimitsConfig",
    "LoggingConfig",
    "NamesConfig",
    "PrivacyConfig",
    "SparkSource",
    "TlsConfig",
    "grant_expiry",
    "load_config",
    "parse_config",
    "parse_expiry",
    "substitute_environment",
]
