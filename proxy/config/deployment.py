"""The whole ``dpsql.yaml``: :class:`Config`, its sections, and the checks that span
them (names that differ only by case, public-key references, Spark sources,
analysts' names and keys), each problem as ``key.path: problem``."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import Field, model_validator

from rewriter.metadata import PublicKeysRef, Table

from .sections import (
    AnalystConfig,
    ConfigError,
    EngineConfig,
    LedgerConfig,
    LimitsConfig,
    LoggingConfig,
    NamesConfig,
    PrivacyConfig,
    Section,
    TlsConfig,
    join_problems,
)

# analysts' names, for dpsql.yaml, the CLI and the owner API alike (proxy/grants.py)
ANALYST_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
ANALYST_NAME = re.compile(ANALYST_NAME_PATTERN)


class Config(Section):
    engine: EngineConfig
    names: NamesConfig = Field(default_factory=NamesConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    tls: TlsConfig | None = None
    tables: dict[str, Table] = Field(default_factory=dict)
    analysts: dict[str, AnalystConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _cross_check(self) -> Config:
        # Raised directly (not as ValueError) so each problem keeps its own path.
        problems = list(cross_problems(self))
        if problems:
            raise ConfigError(join_problems(problems))
        return self


def cross_problems(config: Config) -> Iterable[str]:
    """Checks that span sections, each as ``key.path: problem``."""
    lowered: dict[str, str] = {}
    for name in config.tables:
        if name.lower() in lowered:
            yield (
                f"tables.{name}: differs from `{lowered[name.lower()]}` only by case; "
                "SQL would not tell them apart"
            )
        lowered.setdefault(name.lower(), name)
    for name, table in config.tables.items():
        seen: dict[str, str] = {}
        for col_name, column in table.columns.items():
            path = f"tables.{name}.columns.{col_name}"
            if col_name.lower() in seen:
                yield f"{path}: differs from `{seen[col_name.lower()]}` only by case"
            seen.setdefault(col_name.lower(), col_name)
            if isinstance(column.public_keys, PublicKeysRef):
                yield from _check_ref(config, f"{path}.public_keys", column.public_keys)
    if config.engine.kind == "spark":
        sources = {n.lower() for n in config.engine.sources}
        for name in config.tables:
            if name.lower() not in sources:
                yield (f"tables.{name}: a spark engine reads only the sources its config "
                       f"registers; add `engine.sources.{name}` ({{table: db.name}} for a "
                       "catalog table, or {path: …, format: parquet})")
    owners: dict[str, str] = {}
    for name in config.analysts:
        if not ANALYST_NAME.match(name):
            yield (f"analysts.{name}: a name starts with a letter and holds up to 64 "
                   "letters, digits, '_', '.' or '-' (as the CLI and owner API require)")
    for name, analyst in config.analysts.items():
        if analyst.api_key_sha256 in owners:
            yield (
                f"analysts.{name}.api_key_sha256: the same key hash as "
                f"analysts.{owners[analyst.api_key_sha256]}; every analyst needs its own key"
            )
        owners.setdefault(analyst.api_key_sha256, name)


def _check_ref(config: Config, path: str, ref: PublicKeysRef) -> Iterable[str]:
    target = config.tables.get(ref.table)
    if target is None:
        yield f"{path}.table: names table `{ref.table}`, which is not declared under `tables`"
    elif not target.public:
        yield (
            f"{path}.table: `{ref.table}` is not `public: true`; group keys may only be "
            "read from a public table"
        )
    elif target.columns and ref.column not in target.columns:
        yield f"{path}.column: `{ref.table}` declares no column `{ref.column}`"
