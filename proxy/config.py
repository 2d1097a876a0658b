"""The deployment file ``dpsql.yaml`` (SPEC §2), declared once as pydantic models.

The server refuses to start on any problem, and the data owner should be able to
fix every problem in one pass: :func:`load_config` collects all errors and
reports each as ``key.path: what is wrong``.

Privacy numbers (ε, δ) are kept as :class:`decimal.Decimal` built from the text
the owner wrote, so a budget of ``1.0`` holds exactly ten queries at ``0.1``
(SPEC §4.5); binary floats would make that depend on rounding.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import types
import typing
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dpsql.errors import DpsqlError
from rewriter.limits import Limits
from rewriter.metadata import PublicKeysRef, Table

__all__ = [
    "AnalystBudget",
    "AnalystConfig",
    "BudgetConfig",
    "Config",
    "ConfigError",
    "EngineConfig",
    "CheckpointConfig",
    "LedgerConfig",
    "LimitsConfig",
    "LoggingConfig",
    "PrivacyConfig",
    "SparkSource",
    "TlsConfig",
    "load_config",
    "parse_config",
]

_SQLITE_PREFIX = "sqlite:///"
# analysts' names, for dpsql.yaml, the CLI and the owner API alike (proxy/grants.py)
ANALYST_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
_ANALYST_NAME = re.compile(ANALYST_NAME_PATTERN)
_LEDGER_SCHEMES = (_SQLITE_PREFIX, "postgresql://", "postgres://")


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


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_SPARK_FORMATS = ("parquet", "delta", "csv")


class SparkSource(_Section):
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


class EngineConfig(_Section):
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


class CheckpointConfig(_Section):
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


class LedgerConfig(_Section):
    url: str = "sqlite:///dpsql-ledger.db"
    checkpoints: CheckpointConfig | None = None

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str) -> str:
        if not url.startswith(_LEDGER_SCHEMES):
            raise ValueError("must start with sqlite:/// or postgresql://")
        if url.startswith(_SQLITE_PREFIX) and url == _SQLITE_PREFIX:
            raise ValueError(
                "a sqlite ledger url needs a file path, e.g. sqlite:///dpsql-ledger.db"
            )
        return url


class BudgetConfig(_Section):
    """A budget as dpsql.yaml writes it (the accountant's is `accountant.Budget`)."""

    epsilon: Amount
    delta: Delta


class AnalystBudget(BudgetConfig):
    # date first: a quoted "2026-06-30" means through that day, not its first instant
    expires: dt.date | dt.datetime | None = None


class PrivacyConfig(_Section):
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


class LimitsConfig(_Section):
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


class LoggingConfig(_Section):
    """What the server log may hold. Engine error messages can quote stored
    values, so they are logged only when the owner turns this on."""

    engine_errors: bool = False


class TlsConfig(_Section):
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


class AnalystConfig(_Section):
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


class NamesConfig(_Section):
    """The names analysts may qualify a table with (`FROM census.pums.people`)."""

    catalog: str | None = Field(default=None, min_length=1,
                                description="a catalog name accepted before the schema")
    schemas: tuple[str, ...] = Field(default=(), description="schema names accepted besides "
                                     "main and public")


class Config(_Section):
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
        problems = list(_cross_problems(self))
        if problems:
            raise ConfigError(_join(problems))
        return self


def _cross_problems(config: Config) -> Iterable[str]:
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
        if not _ANALYST_NAME.match(name):
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


# --- error formatting ---------------------------------------------------------


def _join(problems: Iterable[str]) -> str:
    lines = list(dict.fromkeys(problems))
    return "invalid configuration:\n" + "\n".join(f"  {line}" for line in lines)


def _branch(annotation: Any, tag: str) -> Any:
    """The member of a union that pydantic named ``tag`` in an error location."""
    for member in typing.get_args(annotation):
        origin = typing.get_origin(member) or member
        name = getattr(origin, "__name__", "")
        if tag == name or tag.startswith(f"{name}["):
            return member
    return None


def _readable_loc(loc: tuple[int | str, ...]) -> tuple[str, Any]:
    """Drop the union-member tags pydantic inserts, keeping keys the user wrote.

    Walking the model's annotations tells tags apart from user keys, so a column
    the owner named ``date`` or ``int`` is never mistaken for a tag. Also returns
    the type holding the last key, to list the keys it does accept.
    """
    parts: list[str] = []
    annotation: Any = Config
    container: Any = None
    for part in loc:
        while typing.get_origin(annotation) is Annotated:
            annotation = typing.get_args(annotation)[0]
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
            elif isinstance(part, str):
                annotation = _branch(annotation, part)
                continue
        parts.append(str(part))
        container = annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            annotation = field.annotation if field is not None else None
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        elif typing.get_origin(annotation) in (tuple, list):
            annotation = typing.get_args(annotation)[0]
        else:
            annotation = None
    return ".".join(parts), container


_PREFIXES = ("Value error, ", "Assertion failed, ")


def _message(item: Any, container: Any) -> str:
    if item["type"] == "extra_forbidden":
        if isinstance(container, type) and issubclass(container, BaseModel):
            return "unknown key; expected one of " + ", ".join(container.model_fields)
        return "unknown key; check the spelling"
    message: str = item["msg"]
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    return message


def _describe(error: ValidationError) -> list[str]:
    merged: dict[str, list[tuple[str, str]]] = {}
    for item in error.errors(include_url=False):
        path, container = _readable_loc(item["loc"])
        found = merged.setdefault(path or "(top level)", [])
        entry = (_message(item, container), item["type"])
        if entry not in found:
            found.append(entry)
    lines = []
    for path, entries in merged.items():
        # A union member that failed on the value's shape (e.g. "a valid tuple")
        # is noise when another member got further and reported deeper keys.
        deeper = any(other.startswith(path + ".") for other in merged)
        kept = [m for m, kind in entries if not (deeper and kind.endswith("_type"))]
        if kept:
            lines.append(f"{path}: {' or '.join(kept)}")
    return lines


# --- loading --------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice instead of keeping the last."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> Any:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
        except TypeError:
            continue  # unhashable key: construct_mapping reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _mapping_without_duplicates,  # type: ignore[arg-type]
)


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None


# `${NAME}` or `${NAME:-default}` in a string value; `$${` writes a literal `${`.
_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def substitute_environment(data: object, environ: typing.Mapping[str, str] | None = None,
                           path: str = "") -> object:
    """Replace `${VAR}` in the YAML's string values by the environment's value, so
    that secrets (DSNs with passwords, key hashes) need not live in the file.

    Substitution runs on parsed values, never on the YAML text, so a value cannot
    change the document's structure; an unset variable without a default is an
    error naming its key path.
    """
    env = os.environ if environ is None else environ
    if isinstance(data, dict):
        return {k: substitute_environment(v, env, f"{path}.{k}" if path else str(k))
                for k, v in data.items()}
    if isinstance(data, list):
        return [substitute_environment(v, env, f"{path}.{i}") for i, v in enumerate(data)]
    if not isinstance(data, str) or "$" not in data:
        return data

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"invalid configuration:\n  {path}: the environment variable "
                          f"{name} is not set (write ${{{name}:-default}} for a default)")

    return _VARIABLE.sub(value, data)


def parse_config(data: object) -> Config:
    """Validate already-parsed YAML; every problem is reported in one ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(
            "invalid configuration:\n  (top level): expected a mapping with `engine`, "
            f"`tables`, ... but got {type(data).__name__}"
        )
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_join(_describe(exc))) from None


def _resolve(config: Config, folder: Path) -> Config:
    """Make relative paths relative to the config file, not the working folder."""
    engine = config.engine
    if engine.database is not None and not engine.database.is_absolute():
        engine = engine.model_copy(update={"database": folder / engine.database})
    ledger = config.ledger
    if ledger.url.startswith(_SQLITE_PREFIX):
        target = ledger.url.removeprefix(_SQLITE_PREFIX)
        if target != ":memory:" and not Path(target).is_absolute():
            ledger = ledger.model_copy(update={"url": _SQLITE_PREFIX + str(folder / target)})
    tls = config.tls
    if tls is not None:
        tls = tls.model_copy(update={
            "certfile": tls.certfile if tls.certfile.is_absolute() else folder / tls.certfile,
            "keyfile": tls.keyfile if tls.keyfile.is_absolute() else folder / tls.keyfile})
    if ledger.checkpoints is not None:
        paths = {name: folder / value for name in ("key_file", "file")
                 if (value := getattr(ledger.checkpoints, name)) is not None
                 and not value.is_absolute()}
        ledger = ledger.model_copy(
            update={"checkpoints": ledger.checkpoints.model_copy(update=paths)})
    return config.model_copy(update={"engine": engine, "ledger": ledger, "tls": tls})


def load_config(path: str | Path) -> Config:
    """Read, validate and resolve ``dpsql.yaml``; raise ConfigError on any problem."""
    path = Path(path)
    config = parse_config(substitute_environment(_read_yaml(path)))
    return _resolve(config, path.resolve().parent)


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

