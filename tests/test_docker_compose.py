"""docker/: the compose file, the proxy's config for it and the PostgreSQL init
script agree with each other and with the Dockerfile. Static checks, plus the
init script run on the local PostgreSQL (under unique names) with the proxy's
engine and catalog on top."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml
from psycopg import sql
from psycopg.conninfo import make_conninfo

from proxy.catalog import build_catalog
from proxy.config import Config, ConfigError, load_config, parse_config, substitute_environment
from proxy.engines.postgres import PostgresEngine
from rewriter import plan_query
from tests.pg import ADMIN_DSN, require_postgres

DOCKER = Path(__file__).resolve().parent.parent / "docker"
COMPOSE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
INIT_SQL = DOCKER / "init-postgres.sql"
CONFIG_IN_IMAGE = "/etc/dpsql/dpsql.yaml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """container path -> host path of each bind mount (relative to docker/)."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = (DOCKER / source).resolve()
    return mounts


# what compose passes to the proxy's container (compose.yaml `environment:`)
KEY_VARIABLES = ("DPSQL_ALICE_KEY_SHA256", "DPSQL_OLIVIA_KEY_SHA256", "DPSQL_CARL_KEY_SHA256")
HASHES = {name: hashlib.sha256(name.encode()).hexdigest() for name in KEY_VARIABLES}


def _config_path(compose: dict[str, Any]) -> Path:
    return _mounts(compose["services"]["dpsql"])[CONFIG_IN_IMAGE]


@pytest.fixture(scope="module")
def config(compose: dict[str, Any]) -> Config:
    """The proxy's config as the container reads it, with the key hashes set."""
    data = yaml.safe_load(_config_path(compose).read_text(encoding="utf-8"))
    return parse_config(substitute_environment(data, HASHES))


def _dockerfile(instruction: str) -> str:
    lines = [line for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
             if line.startswith(instruction + " ")]
    assert len(lines) == 1, f"expected one {instruction} in the Dockerfile"
    return lines[0].removeprefix(instruction + " ").strip()


def _cmd_option(option: str) -> str:
    args = json.loads(_dockerfile("CMD"))
    return str(args[args.index(option) + 1])


def test_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "dpsql"}
    assert services["postgres"]["image"] == "postgres:15"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["dpsql"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "ports" not in services["postgres"]  # only the proxy is reachable from outside


def test_referenced_local_paths_exist(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        for host_path in _mounts(service).values():
            assert host_path.is_file(), host_path
    build = compose["services"]["dpsql"]["build"]
    context = (DOCKER / build["context"]).resolve()
    assert (context / "pyproject.toml").is_file()
    assert (context / build["dockerfile"]).resolve() == DOCKERFILE
    init = _mounts(compose["services"]["postgres"])
    assert any(t.startswith("/docker-entrypoint-initdb.d/") and p == INIT_SQL
               for t, p in init.items())


def test_port_matches_dockerfile(compose: dict[str, Any]) -> None:
    (mapping,) = compose["services"]["dpsql"]["ports"]
    container_port = str(mapping).split(":")[-1]
    assert container_port == _dockerfile("EXPOSE") == _cmd_option("--port")
    assert _cmd_option("--config") == CONFIG_IN_IMAGE


def _compose_default(text: str) -> str:
    """What compose makes of `${VAR:-default}` with VAR unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def test_the_proxy_binds_to_localhost_unless_told_otherwise(compose: dict[str, Any]) -> None:
    (mapping,) = compose["services"]["dpsql"]["ports"]
    host, host_port, container_port = _compose_default(str(mapping)).split(":")
    assert (host, host_port, container_port) == ("127.0.0.1", "8080", "8080")
    assert "${DPSQL_BIND:-127.0.0.1}" in str(mapping)


def test_no_file_carries_a_usable_key(compose: dict[str, Any]) -> None:
    """Every key hash is a ${VAR} reference compose requires; no text in docker/ (or the
    .dockerignore'd build context) holds a key whose SHA-256 the config would accept."""
    raw = yaml.safe_load(_config_path(compose).read_text(encoding="utf-8"))
    for name, analyst in raw["analysts"].items():
        assert re.fullmatch(r"\$\{DPSQL_[A-Z]+_KEY_SHA256\}", analyst["api_key_sha256"]), name
    environment = compose["services"]["dpsql"]["environment"]
    for variable in KEY_VARIABLES:
        assert environment[variable].startswith(f"${{{variable}:?"), variable  # required
    texts = [p.read_text(encoding="utf-8") for p in sorted(DOCKER.iterdir()) if p.is_file()]
    tokens = {t for text in texts for t in re.findall(r"[A-Za-z0-9_.-]{8,}", text)}
    hashes = {hashlib.sha256(t.encode()).hexdigest() for t in tokens}
    assert not re.search(r"\b[0-9a-f]{64}\b", "\n".join(texts)), "a literal key hash"
    assert not any(h in "\n".join(texts) for h in hashes)
    ignored = (DOCKER.parent / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for needed in ("**/.venv", "*.db", "demo", ".git", "dpsql.yaml"):
        assert needed in ignored, needed


def test_variables_are_substituted_and_required(compose: dict[str, Any], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "dpsql.yaml"
    copy.write_text(_config_path(compose).read_text(encoding="utf-8"))
    for variable, value in HASHES.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("DPSQL_READER_PASSWORD", "s3cret")
    loaded = load_config(copy)
    assert loaded.analysts["alice"].api_key_sha256 == HASHES["DPSQL_ALICE_KEY_SHA256"]
    assert loaded.engine.dsn is not None and urlsplit(loaded.engine.dsn).password == "s3cret"
    assert urlsplit(loaded.ledger.url).password == "demo-ledger-change-me"  # the default
    monkeypatch.delenv("DPSQL_CARL_KEY_SHA256")
    with pytest.raises(ConfigError, match="analysts.carl.api_key_sha256: the environment "
                                          "variable DPSQL_CARL_KEY_SHA256 is not set"):
        load_config(copy)


def test_config_points_at_the_postgres_service(config: Config) -> None:
    assert config.engine.kind == "postgres" and config.engine.dsn is not None
    engine, ledger = urlsplit(config.engine.dsn), urlsplit(config.ledger.url)
    assert engine.hostname == ledger.hostname == "postgres"  # the service name
    assert engine.port == ledger.port == 5432
    assert (engine.username, engine.path) == ("dpsql_reader", "/dpsql")
    assert (ledger.username, ledger.path) == ("dpsql_ledger", "/dpsql_ledger")
    assert set(config.tables) == {"employees", "visits", "departments"}
    assert {a.role for a in config.analysts.values()} == {"analyst", "owner", "compliance"}


def test_compose_database_is_the_dsn_database(compose: dict[str, Any], config: Config) -> None:
    assert config.engine.dsn is not None
    env = compose["services"]["postgres"]["environment"]
    assert "/" + env["POSTGRES_DB"] == urlsplit(config.engine.dsn).path


def test_init_script_sets_the_configured_passwords(config: Config) -> None:
    assert config.engine.dsn is not None
    text = INIT_SQL.read_text(encoding="utf-8")
    for url in (config.engine.dsn, config.ledger.url):
        parts = urlsplit(url)
        assert f"CREATE ROLE {parts.username} LOGIN PASSWORD '{parts.password}'" in text


# --- the init script on a real PostgreSQL ----------------------------------------


def _renamed(text: str, names: dict[str, str]) -> str:
    for old, new in names.items():
        text = re.sub(rf"\b{old}\b", new, text)
    return text


@pytest.fixture(scope="module")
def initialized() -> Iterator[dict[str, str]]:
    """docker/init-postgres.sql run as the image would, under unique names."""
    require_postgres()
    psql = shutil.which("psql")
    if psql is None:
        pytest.fail("psql (postgresql-client) is needed to run docker/init-postgres.sql")
    unique = f"dpsql_dc_{secrets.token_hex(4)}"
    # \b in _renamed keeps `dpsql` from matching inside `dpsql_reader`
    names = {"dpsql_reader": f"{unique}_reader", "dpsql_ledger": f"{unique}_ledger",
             "dpsql": unique}
    script = _renamed(INIT_SQL.read_text(encoding="utf-8"), names)
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(unique)))
    try:
        admin_dsn = make_conninfo(ADMIN_DSN, dbname=unique)
        command = [psql, "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q", "-d", admin_dsn]
        done = subprocess.run(command, input=script, text=True, capture_output=True,
                              timeout=120, check=False)
        assert done.returncode == 0, f"{shlex.join(command)}\n{done.stderr}"
        yield names
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            for db in (f"{unique}_ledger", unique):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(db)))
            for role in (f"{unique}_reader", f"{unique}_ledger"):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _local(url: str, names: dict[str, str]) -> str:
    """The compose URL pointed at the local server, under the unique names
    (local auth is trust, so the demo password is simply ignored)."""
    parts = urlsplit(url)
    user, db = names[parts.username or ""], names[parts.path.lstrip("/")]
    return make_conninfo(ADMIN_DSN, user=user, dbname=db)


def test_reader_passes_the_engine_check_and_answers(
    initialized: dict[str, str], config: Config
) -> None:
    assert config.engine.dsn is not None
    engine = PostgresEngine(_local(config.engine.dsn, initialized), statement_timeout_s=10)
    try:
        counts = dict(engine.execute(
            "SELECT 'employees', count(*) FROM employees UNION ALL "
            "SELECT 'visits', count(*) FROM visits UNION ALL "
            "SELECT 'departments', count(*) FROM departments").rows)
        assert counts == {"employees": 100_000, "visits": counts["visits"], "departments": 6}
        assert 400_000 < counts["visits"] < 600_000
        catalog = build_catalog(config.tables, engine)
        plan = plan_query("SELECT dept, COUNT(*), AVG(salary) FROM employees GROUP BY dept",
                          catalog)
        rows = engine.execute(plan.sql(engine.dialect)).rows
        assert sum(int(r[1]) for r in rows) == 100_000
        assert {r[0] for r in rows} == set(catalog.public_keys("employees", "dept"))
    finally:
        engine.close()


def test_ledger_role_owns_its_database_only(
    initialized: dict[str, str], config: Config
) -> None:
    assert config.engine.dsn is not None
    ledger_dsn = _local(config.ledger.url, initialized)
    with psycopg.connect(ledger_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE probe (a integer)")
        conn.execute("DROP TABLE probe")
    cross = [
        make_conninfo(ledger_dsn, dbname=initialized["dpsql"]),  # ledger role -> data
        make_conninfo(_local(config.engine.dsn, initialized),
                      dbname=initialized["dpsql_ledger"]),  # reader -> ledger
    ]
    for dsn in cross:
        with pytest.raises(psycopg.OperationalError, match="CONNECT privilege"):
            psycopg.connect(dsn).close()
