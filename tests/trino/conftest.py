"""A real dpsql server with TLS for the Trino clients: a self-signed certificate
made here, the demo data plus a table with many public keys (for paging), on
DuckDB and on PostgreSQL. One server per engine for the whole session."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import ipaddress
import shutil
import ssl
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
import uvicorn
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from proxy.app import create_app
from proxy.config import load_config
from proxy.demo import build_demo_database, demo_config_yaml
from tests.pg import copy_duckdb_to_postgres, require_postgres, throwaway_database
from tests.serving import free_port, wait_until_healthy

KEYS = {"alice": "dpsql_alice_trino_key", "bob": "dpsql_bob_trino_key",
        "carl": "dpsql_carl_trino_key", "dora": "dpsql_dora_trino_key"}
DAYS = 1200  # public keys of events.day: a result of 1,200 rows spans several pages


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dpsql test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption()))
    return certfile, keyfile


@pytest.fixture(scope="session")
def trino_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trino-data") / "demo.duckdb"
    build_demo_database(path, people=1500, seed=5)
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE events AS SELECT (i % 1500) AS person_id, (i % 1300) AS day "
                    "FROM range(6000) t(i)")
    return path


@dataclass
class Server:
    url: str
    host: str
    port: int
    certfile: Path
    config_path: Path
    opened: list[Any] = field(default_factory=list)  # client connections, closed at the end

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.certfile))

    def budget(self, who: str = "alice") -> Any:
        return httpx.get(f"{self.url}/v1/budget", verify=self.tls(),
                         headers={"Authorization": f"Bearer {KEYS[who]}"}).json()

    def ledger(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/v1/ledger", verify=self.tls(),
                             headers={"Authorization": f"Bearer {KEYS['carl']}"})
        return list(response.json()["entries"])



def _document(data: Path, folder: Path, engine: dict[str, Any]) -> dict[str, Any]:
    document = yaml.safe_load(demo_config_yaml(str(data), {"alice": KEYS["alice"],
                                                           "carl": KEYS["carl"]},
                                               ledger_path=str(folder / "ledger.db")))
    document["engine"] = {**engine, "statement_timeout_s": 30}
    document["privacy"].update(accounting="pure", max_query_epsilon=10.0,
                               dataset_budget={"epsilon": 10_000.0, "delta": 1e-3})
    budget = {"epsilon": 5_000.0, "delta": 1e-3}
    document["analysts"]["alice"]["budget"] = budget
    document["analysts"]["bob"] = {**document["analysts"]["alice"], "budget": budget}
    document["analysts"]["bob"]["api_key_sha256"] = hashlib.sha256(
        KEYS["bob"].encode()).hexdigest()
    document["analysts"]["dora"] = {  # a small budget, to be exhausted
        "role": "analyst", "api_key_sha256": hashlib.sha256(KEYS["dora"].encode()).hexdigest(),
        "budget": {"epsilon": 0.25, "delta": 1e-6}}
    document["tables"]["events"] = {
        "privacy_unit": "person_id", "max_rows_per_unit": 4, "max_groups_per_unit": 4,
        "columns": {"person_id": {"type": "integer"},
                    "day": {"type": "integer", "public_keys": list(range(DAYS))}},
    }
    certfile, keyfile = make_certificate(folder)
    document["tls"] = {"certfile": certfile.name, "keyfile": keyfile.name}  # relative paths
    return document


def _start(document: dict[str, Any], folder: Path) -> Iterator[Server]:
    path = folder / "dpsql.yaml"
    path.write_text(yaml.safe_dump(document))
    config = load_config(path)
    assert config.tls is not None
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port,
                                           log_level="warning",
                                           **config.tls.uvicorn_options()))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{port}"
    if not wait_until_healthy(url, 30, ssl.create_default_context(
            cafile=str(config.tls.certfile))):
        pytest.fail("the TLS server did not start")
    running = Server(url, "127.0.0.1", port, config.tls.certfile, path)
    yield running
    for connection in running.opened:  # an idle keep-alive connection delays shutdown
        connection.close()
    # The trino client does not release the connection of a query that failed at
    # its POST; until the socket is collected, the server's TLS shutdown waits on it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def duck_server(trino_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("trino-duck")
    yield from _start(_document(trino_data, folder, {"kind": "duckdb",
                                                     "database": str(trino_data)}), folder)


@pytest.fixture(scope="session")
def pg_server(trino_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_postgres()
    folder = tmp_path_factory.mktemp("trino-pg")
    # a copy: the DuckDB server holds the file open under another configuration
    copy = folder / "copy.duckdb"
    shutil.copyfile(trino_data, copy)
    with throwaway_database("dpsql_trino") as (admin_dsn, reader_dsn):
        copy_duckdb_to_postgres(copy, admin_dsn)
        yield from _start(_document(trino_data, folder, {"kind": "postgres",
                                                         "dsn": reader_dsn}), folder)


@pytest.fixture(params=["duckdb", "postgres"])
def server(request: pytest.FixtureRequest) -> Server:
    """The core client tests run on both engines."""
    name = "duck_server" if request.param == "duckdb" else "pg_server"
    found: Server = request.getfixturevalue(name)
    return found


@pytest.fixture(scope="session", autouse=True)
def _own_ca_bundle() -> Iterator[None]:
    """`requests` (under the trino client) lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
    override the `verify=` a client passes; on machines that set them, the test's
    own certificate would never be trusted."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        patch.delenv("CURL_CA_BUNDLE", raising=False)
        yield
