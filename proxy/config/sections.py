"""The sections of ``dpsql.yaml`` (SPEC §2) as pydantic models: the single source of
the file's format, its defaults and its checks (:mod:`proxy.config` has the whole
story; the whole file is :mod:`proxy.config.deployment`, reading it
:mod:`proxy.config.load`).

Privacy numbers (ε, δ) are kept as :class:`decimal.Decimal` built from the text
the owner wrote, so a budget of ``1.0`` holds exactly ten queries at ``0.1``
(SPEC §4.5); binary floats would make that depend on rounding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from dpsql.errors import DpsqlError
from rewriter.limits import Limits

SQLITE_PREFIX = "sqlite:///"
_LEDGER_SCHEMES = (SQLITE_PREFIX, "postgresql://", "postgres://")


class ConfigError(DpsqlError):
    """The configuration is unusable; ``message`` lists every problem found."""

    code = "config_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:  # a more precise stable code (`dpsql serve` prints it)
            self.code = code


# --- exact privacy numbers -------------------------------------------------


def _exact(value: object) -> Decimal:
    """Read a number as written: floats via ``repr`` (the shortest text that
    round-trips, i.e. what YAML held), strings like ``"1e-7"`` as text."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"expected a number, got {value!r}") from None
    else:
        raise ValueError(f"expected a number, got {value!r}")
    if not number.is_finite():
        raise ValueError(f"must be a finite number, got {value!r}")
    if number < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return number


def _positive(value: object) -> Decimal:
    number = _exact(value)
    if number == 0:
        raise ValueError("must be greater than 0")
    return number


def _delta(value: object) -> Decimal:
    number = _exact(value)
    if number >= 1:
        raise ValueError(f"δ must be below 1, got {value!r}")
    return number


# Validated before pydantic's own Decimal parsing, which would read floats
# through binary and accept booleans; serialized as plain Decimal.
Amount = Annotated[Decimal, BeforeValidator(_exact)]
PositiveAmount = Annotated[Decimal, BeforeValidator(_positive)]
Delta = Annotated[Decimal, BeforeValidator(_delta)]


# --- sections ----------------------------------------------------------------


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_SPARK_FORMATS = ("parquet", "delta", "csv")


class SparkSource(Section):
    """Where one declared table's rows live on a Spark engine: a catalog table
    (`table: db.name`), or files (`path` and `format`), registered as a temporary
    view of the table's name when the engine opens. Only the owner's config names
    sources; analysts reach none but the declared tables."""

    table: str | None = None
    path: str | None = None
    format: Literal["parquet", "delta", "csv"] | None = None
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> SparkSource:
        if (self.table is None) == (self.path is None):
            raise ValueError("give a catalog `table` or a `path` (with its `format`), not both")
        if self.path is not None and self.format is None:
            raise ValueError("a `path` needs its `format`: " + ", ".join(_SPARK_FORMATS))
        if self.table is not None and (self.format is not None or self.options):
            raise ValueError("`format` and `options` are for a `path`; a catalog `table` "
                             "has its own")
        return self


class EngineConfig(Section):
    kind: Literal["duckdb", "postgres", "spark"]
    database: Path | None = None
    dsn: str | None = None
    # spark: a Spark Connect server (sc://host:15002) or a master (local[*], spark://…, yarn)
    connect_url: str | None = None
    master: str | None = None
    sources: dict[str, SparkSource] = Field(default_factory=dict)
    # spark with a master: extra Spark settings for the JVM this process starts
    spark_conf: dict[str, str] = Field(default_factory=dict)
    statement_timeout_s: float = Field(default=30, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_target(self) -> EngineConfig:
        spark_only = {"connect_url": self.connect_url, "master": self.master,
                      "sources": self.sources or None, "spark_conf": self.spark_conf or None}
        if self.kind != "spark":
            for key, value in spark_only.items():
                if value is not None:
                    raise ValueError(f"`{key}` is for spark; a {self.kind} engine does not use it")
        if self.kind == "duckdb":
            if self.database is None:
                raise ValueError("a duckdb engine needs `database` (the file to open read-only)")
            if self.dsn is not None:
                raise ValueError("`dsn` is for postgres; a duckdb engine uses `database`")
        elif self.kind == "postgres":
            if self.dsn is None:
                raise ValueError("a postgres engine needs `dsn` (postgresql://user@host/db)")
            if self.database is not None:
                raise ValueError("`database` is for duckdb; a postgres engine uses `dsn`")
        else:
            if (self.connect_url is None) == (self.master is None):
                raise ValueError("a spark engine needs exactly one of `connect_url` "
                                 "(sc://host:15002) and `master` (local[*], spark://…, yarn)")
            if self.connect_url is not None and not self.connect_url.startswith("sc://"):
                raise ValueError("`connect_url` is a Spark Connect URL: sc://host:15002")
            if self.connect_url is not None and self.spark_conf:
                raise ValueError("`spark_conf` configures a JVM this process starts (a "
                                 "`master`); a Spark Connect server has its own settings")
            if self.database is not None or self.dsn is not None:
                raise ValueError("a spark engine takes `connect_url` or `master` and "
                                 "`sources`, not `database` or `dsn`")
        return self


class CheckpointConfig(Section):
    """Signed checkpoints of the ledger's head, kept outside its database.

    Unset with a SQLite ledger: a key ``<ledger>.key`` and a file
    ``<ledger>.checkpoints`` are made next to it. With PostgreSQL name them here.
    """

    key_file: Path | None = Field(
        default=None, description="Ed25519 private key (PEM); readable by the proxy only")
    key_env: str | None = Field(
        default=None, description="or: an environment variable holding the key (PEM or hex)")
    file: Path | None = Field(
        default=None, description="append-only file every checkpoint is added to")
    every_entries: int = Field(default=100, ge=1, description="sign after this many entries")
    every_seconds: float = Field(default=60, gt=0, allow_inf_nan=False,
                                 description="and on this schedule when the ledger moved")

    @model_validator(mode="after")
    def _one_key(self) -> CheckpointConfig:
        if self.key_file is not None and self.key_env is not None:
            raise ValueError("give the signing key as `key_file` or `key_env`, not both")
        return self


class LedgerConfig(Section):
    url: str = "sqlite:///dpsql-ledger.db"
    checkpoints: CheckpointConfig | None = None

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str) -> str:
        if not url.startswith(_LEDGER_SCHEMES):
            raise ValueError("must start with sqlite:/// or postgresql://")
        if url.startswith(SQLITE_PREFIX) and url == SQLITE_PREFIX:
            raise ValueError(
                "a sqlite ledger url needs a file path, e.g. sqlite:///dpsql-ledger.db"
            )
        return url


class BudgetConfig(Section):
    """A budget as dpsql.yaml writes it (the accountant's is `accountant.Budget`)."""

    epsilon: Amount
    delta: Delta


class AnalystBudget(BudgetConfig):
    # date first: a quoted "2026-06-30" means through that day, not its first instant
    expires: dt.date | dt.datetime | None = None


class PrivacyConfig(Section):
    accounting: Literal["zcdp", "pure"] = "zcdp"
    default_query_epsilon: PositiveAmount = Decimal("0.1")
    default_query_delta: Delta = Decimal("1e-7")
    max_query_epsilon: PositiveAmount = Decimal("10")
    max_query_delta: Delta = Decimal("1e-5")
    dataset_budget: BudgetConfig | None = None
    # the share of each query's own charge that estimates what the per-person caps
    # and the clamping removed (proxy/diagnostics.py); 0 turns the estimates off
    diagnostics_share: Decimal = Field(default=Decimal("0.05"), ge=0, le=Decimal("0.5"))

    @model_validator(mode="after")
    def _defaults_within_caps(self) -> PrivacyConfig:
        if self.default_query_epsilon > self.max_query_epsilon:
            raise ValueError(
                f"default_query_epsilon ({self.default_query_epsilon}) must not exceed "
                f"max_query_epsilon ({self.max_query_epsilon})"
            )
        if self.default_query_delta > self.max_query_delta:
            raise ValueError(
                f"default_query_delta ({self.default_query_delta}) must not exceed "
                f"max_query_delta ({self.max_query_delta})"
            )
        return self


_DEFAULT_LIMITS = Limits()
_MAX_PARSER_DEPTH = 40  # sqlglot's parser needs ~20 Python frames per level


class LimitsConfig(Section):
    """Bounds on one query's work, checked before any charge (SPEC §4.7); the
    fields are `rewriter.limits.Limits`'s, with the same defaults."""

    max_sql_chars: int = Field(default=_DEFAULT_LIMITS.max_sql_chars, strict=True, ge=1,
                               le=500_000)  # the request body is capped at 1 MiB
    max_nesting_depth: int = Field(default=_DEFAULT_LIMITS.max_nesting_depth, strict=True, ge=1,
                                   le=_MAX_PARSER_DEPTH)
    max_joins: int = Field(default=_DEFAULT_LIMITS.max_joins, strict=True, ge=0)
    max_noise_cells: int = Field(default=_DEFAULT_LIMITS.max_noise_cells, strict=True, ge=1)
    max_noise_cells_per_group: int = Field(default=_DEFAULT_LIMITS.max_noise_cells_per_group,
                                           strict=True, ge=1)

    def limits(self) -> Limits:
        return Limits(**self.model_dump())


class LoggingConfig(Section):
    """What the server log may hold. Engine error messages can quote stored
    values, so they are logged only when the owner turns this on."""

    engine_errors: bool = False


class TlsConfig(Section):
    """HTTPS for the server: Trino clients and BI tools send an API key only over
    TLS (README, "Connect a BI tool"). PEM files; relative paths are relative to
    dpsql.yaml."""

    certfile: Path
    keyfile: Path

    def uvicorn_options(self) -> dict[str, Any]:
        return {"ssl_certfile": str(self.certfile), "ssl_keyfile": str(self.keyfile)}


#: `accountant.ledger.records.Role`, spelt again so that reading dpsql.yaml (and
#: `dpsql --help`) need not import the accountant; a test keeps the two equal.
ConfigRole = Literal["analyst", "owner", "compliance"]


class AnalystConfig(Section):
    role: ConfigRole
    api_key_sha256: str
    budget: AnalystBudget | None = None

    @field_validator("api_key_sha256")
    @classmethod
    def _hex_digest(cls, digest: str) -> str:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(
                "must be the SHA-256 of the key as 64 lowercase hex digits "
                f"(got {len(digest)} characters)"
            )
        return digest

    @model_validator(mode="after")
    def _analyst_has_budget(self) -> AnalystConfig:
        if self.role == "analyst" and self.budget is None:
            raise ValueError("an analyst needs a `budget: {epsilon, delta}`")
        if self.role != "analyst" and self.budget is not None:
            raise ValueError(f"a {self.role} asks no queries and holds no budget; remove "
                             "`budget` (budgets are for analysts)")
        return self


class NamesConfig(Section):
    """The names analysts may qualify a table with (`FROM census.pums.people`)."""

    catalog: str | None = Field(default=None, min_length=1,
                                description="a catalog name accepted before the schema")
    schemas: tuple[str, ...] = Field(default=(), description="schema names accepted besides "
                                     "main and public")


def join_problems(problems: Iterable[str]) -> str:
    lines = list(dict.fromkeys(problems))
    return "invalid configuration:\n" + "\n".join(f"  {line}" for line in lines)


def grant_expiry(expires: dt.date | dt.datetime | None) -> dt.datetime | None:
    """A date means "through that day" (UTC): the grant ends at the next midnight."""
    if expires is None:
        return None
    if isinstance(expires, dt.datetime):
        return expires if expires.tzinfo else expires.replace(tzinfo=dt.UTC)
    return dt.datetime.combine(expires + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def parse_expiry(text: str) -> dt.datetime:
    """An expiry typed on the CLI or sent to the owner API, read as dpsql.yaml reads
    it: a bare date runs through that day. Raises ValueError when not ISO 8601."""
    value: dt.date | dt.datetime = (
        dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
    )
    expiry = grant_expiry(value)
    assert expiry is not None
    return expiry
