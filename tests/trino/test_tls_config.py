"""`tls:` in dpsql.yaml: paths relative to the file, errors naming the key, and
`dpsql serve` listening with HTTPS."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from proxy.config import ConfigError, load_config
from tests.serving import free_port

from .conftest import Server


def test_tls_paths_are_relative_to_the_config(duck_server: Server) -> None:
    config = load_config(duck_server.config_path)
    assert config.tls is not None
    assert config.tls.certfile == duck_server.config_path.parent / "cert.pem"
    assert config.tls.uvicorn_options()["ssl_keyfile"].endswith("key.pem")


def test_a_tls_section_without_a_key_is_refused(duck_server: Server, tmp_path: Path) -> None:
    document = yaml.safe_load(duck_server.config_path.read_text())
    document["tls"] = {"certfile": "cert.pem"}
    path = tmp_path / "dpsql.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=r"tls\.keyfile: Field required"):
        load_config(path)


def test_dpsql_serve_listens_with_https(duck_server: Server, tmp_path: Path) -> None:
    document = yaml.safe_load(duck_server.config_path.read_text())
    folder = duck_server.config_path.parent
    document["tls"] = {"certfile": str(folder / "cert.pem"), "keyfile": str(folder / "key.pem")}
    document["ledger"]["url"] = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = document["engine"]
    if engine["kind"] == "duckdb":  # one process may hold the file under one configuration
        copy = tmp_path / "copy.duckdb"
        copy.write_bytes(Path(engine["database"]).read_bytes())
        engine["database"] = str(copy)
    path = tmp_path / "dpsql.yaml"
    path.write_text(yaml.safe_dump(document))
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "proxy.cli", "serve", "--config",
                                str(path), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        context = ssl.create_default_context(cafile=str(duck_server.certfile))
        deadline, status = time.monotonic() + 30, None
        while time.monotonic() < deadline and status is None:
            try:
                status = httpx.get(f"https://127.0.0.1:{port}/v1/info", verify=context,
                                   timeout=1).status_code
            except httpx.HTTPError:
                time.sleep(0.2)
        assert status == 200
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not served
            httpx.get(f"http://127.0.0.1:{port}/v1/info", timeout=2)
    finally:
        process.terminate()
        process.wait(timeout=10)
