"""dpsql.yaml validation: every problem refused with its key path (SPEC §2)."""

from __future__ import annotations

import datetime as dt
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from proxy.config import Config, ConfigError, load_config
from rewriter.metadata import PublicKeysRef

HASH_A = "a" * 64
HASH_B = "b" * 64
HASH_C = "c" * 64

FULL = f"""
engine:
  kind: duckdb
  database: data/demo.duckdb
  statement_timeout_s: 30
ledger:
  url: sqlite:///dpsql-ledger.db
privacy:
  accounting: zcdp
  default_query_epsilon: 0.1
  default_query_delta: 1.0e-7
  max_query_epsilon: 1.0
  max_query_delta: 1.0e-6
  dataset_budget: {{epsilon: 10.0, delta: 1.0e-5}}
tables:
  employees:
    privacy_unit: id
    max_rows_per_unit: 1
    max_groups_per_unit: 1
    columns:
      id:     {{type: integer}}
      name:   {{type: text, groupable: false}}
      dept:   {{type: text, public_keys: [Engineering, HR, Legal, Sales]}}
      team:   {{type: text, public_keys: {{table: departments, column: dept}}}}
      salary: {{type: float, lower: 0, upper: 250000}}
      age:    {{type: integer, lower: 16, upper: 100}}
      hired:  {{type: date}}
  departments:
    public: true
analysts:
  alice:
    role: analyst
    api_key_sha256: "{HASH_A}"
    budget: {{epsilon: 3.0, delta: 1.0e-6, expires: 2027-06-30}}
  olivia: {{role: owner, api_key_sha256: "{HASH_B}"}}
  carl:   {{role: compliance, api_key_sha256: "{HASH_C}"}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dpsql.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def edited(change) -> str:  # type: ignore[no-untyped-def]
    """FULL with one change applied to its parsed tree."""
    data = yaml.safe_load(FULL)
    change(data)
    return yaml.safe_dump(data, sort_keys=False)


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert info.value.code == "config_error"
    return info.value.message


def test_full_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    assert config.engine.kind == "duckdb"
    assert config.engine.statement_timeout_s == 30
    assert config.privacy.accounting == "zcdp"
    assert config.privacy.dataset_budget is not None
    assert config.privacy.dataset_budget.epsilon == Decimal("10.0")
    assert set(config.tables) == {"employees", "departments"}
    assert config.tables["employees"].columns["salary"].upper == 250000
    assert config.tables["employees"].columns["team"].public_keys == PublicKeysRef(
        table="departments", column="dept"
    )
    alice = config.analysts["alice"]
    assert alice.role == "analyst"
    assert alice.budget is not None and alice.budget.expires == dt.date(2027, 6, 30)
    assert config.analysts["olivia"].budget is None


def test_round_trips_through_dump(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    again = Config.model_validate(config.model_dump())
    assert again == config


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "engine: {kind: duckdb, database: x.duckdb}\n"))
    assert config.engine.statement_timeout_s == 30
    assert config.ledger.url == f"sqlite:///{tmp_path.resolve() / 'dpsql-ledger.db'}"
    p = config.privacy
    assert (p.accounting, p.default_query_epsilon, p.default_query_delta) == (
        "zcdp",
        Decimal("0.1"),
        Decimal("1e-7"),
    )
    assert (p.max_query_epsilon, p.max_query_delta) == (Decimal("10"), Decimal("1e-5"))
    assert p.dataset_budget is None
    assert config.tables == {} and config.analysts == {}


def test_privacy_numbers_are_exact_decimals(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    assert config.privacy.default_query_epsilon == Decimal("0.1")
    assert isinstance(config.privacy.default_query_epsilon, Decimal)
    assert config.privacy.default_query_delta == Decimal("1.0e-7")
    budget = config.analysts["alice"].budget
    assert budget is not None
    assert budget.epsilon == Decimal("3.0") and budget.delta == Decimal("1e-6")
    assert sum([config.privacy.default_query_epsilon] * 10) == Decimal("1.0")


def test_string_numbers_accepted(tmp_path: Path) -> None:
    # YAML 1.1 reads 1e-7 (no dot) as a string
    text = edited(lambda d: d["privacy"].update(default_query_delta="1e-7"))
    assert "1e-7" in text or "'1e-7'" in text
    assert load_config(write(tmp_path, text)).privacy.default_query_delta == Decimal("1e-7")
    bare = FULL.replace("default_query_delta: 1.0e-7", "default_query_delta: 1e-7")
    assert load_config(write(tmp_path, bare)).privacy.default_query_delta == Decimal("1e-7")


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        (lambda d: d.update(engin={}), "engin", "unknown key"),
        (lambda d: d["engine"].update(threads=4), "engine.threads", "unknown key"),
        (
            lambda d: d["tables"]["employees"]["columns"]["age"].update(minimum=1),
            "tables.employees.columns.age.minimum",
            "unknown key",
        ),
        (
            lambda d: d["engine"].update(statement_timeout_s="soon"),
            "engine.statement_timeout_s",
            "valid number",
        ),
        (lambda d: d["engine"].update(statement_timeout_s=0), "engine.statement_timeout_s", "0"),
        (lambda d: d["engine"].update(kind="sqlite"), "engine.kind", "duckdb"),
        (lambda d: d["engine"].pop("database"), "engine", "needs `database`"),
        (lambda d: d["engine"].update(dsn="postgresql://x/y"), "engine", "`dsn` is for postgres"),
        (
            lambda d: d["engine"].update(kind="postgres"),
            "engine",
            "needs `dsn`",
        ),
        (
            lambda d: d["tables"]["employees"]["columns"]["salary"].update(lower=10, upper=5),
            "tables.employees.columns.salary",
            "lower (10) must not exceed upper (5)",
        ),
        (
            lambda d: d["tables"]["employees"]["columns"]["age"].update(lower="young"),
            "tables.employees.columns.age.lower",
            "valid",
        ),
        (
            lambda d: d["tables"]["employees"]["columns"]["age"].update(type="int"),
            "tables.employees.columns.age.type",
            "'integer'",
        ),
        (
            lambda d: d["tables"]["employees"].pop("privacy_unit"),
            "tables.employees",
            "needs `privacy_unit`",
        ),
        (
            lambda d: d["tables"]["employees"].update(max_rows_per_unit=0),
            "tables.employees.max_rows_per_unit",
            "greater than or equal to 1",
        ),
        (
            lambda d: d["analysts"]["alice"].update(api_key_sha256="ABC"),
            "analysts.alice.api_key_sha256",
            "64 lowercase hex",
        ),
        (
            lambda d: d["analysts"]["alice"].update(api_key_sha256="A" * 64),
            "analysts.alice.api_key_sha256",
            "64 lowercase hex",
        ),
        (lambda d: d["analysts"]["alice"].pop("budget"), "analysts.alice", "needs a `budget"),
        (lambda d: d["analysts"]["carl"].update(role="boss"), "analysts.carl.role", "'owner'"),
        (
            lambda d: d["analysts"]["alice"]["budget"].update(delta=1),
            "analysts.alice.budget.delta",
            "below 1",
        ),
        (
            lambda d: d["privacy"].update(max_query_delta=1.5),
            "privacy.max_query_delta",
            "below 1",
        ),
        (
            lambda d: d["analysts"]["alice"]["budget"].update(epsilon=-1),
            "analysts.alice.budget.epsilon",
            "negative",
        ),
        (
            lambda d: d["analysts"]["alice"]["budget"].update(epsilon=float("nan")),
            "analysts.alice.budget.epsilon",
            "finite",
        ),
        (
            lambda d: d["privacy"]["dataset_budget"].update(epsilon=float("inf")),
            "privacy.dataset_budget.epsilon",
            "finite",
        ),
        (
            lambda d: d["privacy"].update(default_query_epsilon=0),
            "privacy.default_query_epsilon",
            "greater than 0",
        ),
        (
            lambda d: d["privacy"].update(default_query_epsilon=True),
            "privacy.default_query_epsilon",
            "expected a number",
        ),
        (
            lambda d: d["privacy"].update(default_query_epsilon=2),
            "privacy",
            "must not exceed max_query_epsilon",
        ),
        (lambda d: d["privacy"].update(accounting="renyi"), "privacy.accounting", "'zcdp'"),
        (lambda d: d["ledger"].update(url="mysql://x"), "ledger.url", "sqlite:///"),
        (
            lambda d: d["tables"]["employees"]["columns"]["team"].update(
                public_keys={"table": "employees", "column": "dept"}
            ),
            "tables.employees.columns.team.public_keys.table",
            "not `public: true`",
        ),
        (
            lambda d: d["tables"]["employees"]["columns"]["team"].update(
                public_keys={"table": "nowhere", "column": "dept"}
            ),
            "tables.employees.columns.team.public_keys.table",
            "not declared",
        ),
        (
            lambda d: d["tables"]["employees"]["columns"]["team"].update(
                public_keys={"table": "departments", "colum": "dept"}
            ),
            "tables.employees.columns.team.public_keys.colum",
            "unknown key; expected one of table, column",
        ),
        (
            lambda d: d["analysts"]["carl"].update(api_key_sha256=HASH_A),
            "analysts.carl.api_key_sha256",
            "same key hash as analysts.alice",
        ),
        (
            lambda d: d["tables"].update(Employees={"public": True}),
            "tables.Employees",
            "only by case",
        ),
    ],
)
def test_refused_with_key_path(tmp_path: Path, change, path: str, fragment: str) -> None:  # type: ignore[no-untyped-def]
    message = refused(tmp_path, edited(change))
    line = next(
        (ln.strip() for ln in message.splitlines() if ln.strip().startswith(path + ":")), None
    )
    assert line is not None, message
    assert fragment in line, message


def test_union_noise_is_dropped(tmp_path: Path) -> None:
    def bad_ref(d):  # type: ignore[no-untyped-def]
        d["tables"]["employees"]["columns"]["team"]["public_keys"] = {"table": "departments"}

    message = refused(tmp_path, edited(bad_ref))
    assert "tables.employees.columns.team.public_keys.column: Field required" in message
    assert "valid tuple" not in message
    assert "PublicKeysRef" not in message


def test_column_named_like_a_type_keeps_its_name(tmp_path: Path) -> None:
    def bad(d):  # type: ignore[no-untyped-def]
        d["tables"]["employees"]["columns"]["date"] = {"type": "integer", "lower": "x", "upper": 1}

    message = refused(tmp_path, edited(bad))
    assert "tables.employees.columns.date.lower:" in message


def test_every_error_is_listed(tmp_path: Path) -> None:
    def many(d):  # type: ignore[no-untyped-def]
        d["engine"]["statement_timeout_s"] = -1
        d["analysts"]["alice"]["api_key_sha256"] = "nope"
        d["tables"]["employees"]["columns"]["salary"]["lower"] = 10**9

    message = refused(tmp_path, edited(many))
    assert "engine.statement_timeout_s:" in message
    assert "analysts.alice.api_key_sha256:" in message
    assert "tables.employees.columns.salary:" in message


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    message = refused(tmp_path, "engine:\n  kind: duckdb\n  database: [unclosed\n")
    assert "invalid YAML at line" in message


def test_duplicate_key_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, "engine: {kind: duckdb, database: a}\nengine: {kind: duckdb}\n")
    assert "line 2" in message and "'engine' appears twice" in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.yaml")


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    assert "expected a mapping" in refused(tmp_path, text)


def test_relative_paths_resolve_against_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "deploy"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    path = folder / "dpsql.yaml"
    path.write_text(
        "engine: {kind: duckdb, database: data/demo.duckdb}\n"
        "ledger: {url: 'sqlite:///ledger/l.db'}\n",
        encoding="utf-8",
    )
    config = load_config(Path("deploy/dpsql.yaml"))
    assert config.engine.database == folder.resolve() / "data/demo.duckdb"
    assert config.ledger.url == f"sqlite:///{folder.resolve() / 'ledger/l.db'}"


def test_absolute_paths_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "engine: {kind: duckdb, database: /srv/d.duckdb}\nledger: {url: 'sqlite:////var/l.db'}\n",
    )
    config = load_config(path)
    assert config.engine.database == Path("/srv/d.duckdb")
    assert config.ledger.url == "sqlite:////var/l.db"


def test_postgres_engine_config(tmp_path: Path) -> None:
    text = "engine: {kind: postgres, dsn: 'postgresql://r@h/db'}\n"
    config = load_config(write(tmp_path, text))
    assert config.engine.dsn == "postgresql://r@h/db" and config.engine.database is None


def test_models_are_frozen(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    with pytest.raises(Exception, match="frozen"):
        config.engine.kind = "postgres"  # type: ignore[misc]


def test_dumps_and_schema_without_warnings(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    dumped = config.model_dump(mode="json")
    assert dumped["privacy"]["default_query_epsilon"] == "0.1"
    assert Config.model_validate_json(config.model_dump_json()) == config
    schema = Config.model_json_schema()
    assert "PrivacyConfig" in schema["$defs"]
