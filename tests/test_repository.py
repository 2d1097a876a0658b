"""Static checks of files no test runs directly: Docker, CI, README commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_dockerfile_copies_paths_that_exist_and_exposes_the_served_port() -> None:
    text = (ROOT / "docker" / "Dockerfile").read_text()
    for line in text.splitlines():
        if line.startswith("COPY"):
            *sources, _ = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), source
    exposed = re.search(r"^EXPOSE (\d+)", text, re.M)
    assert exposed and f'"--port", "{exposed.group(1)}"' in text
    assert re.search(r"^USER (?!root)", text, re.M), "the image must not run as root"
    assert "HEALTHCHECK" in text


def test_ci_runs_make_test_and_readme_shows_both_commands() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert readme.index("make demo") < readme.index("## A short tour")
    assert "make test" in readme


def test_cli_help_and_usage_exit_codes() -> None:
    dpsql = [sys.executable, "-m", "proxy.cli"]
    ok = subprocess.run([*dpsql, "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "serve" in ok.stdout
    usage = subprocess.run([*dpsql, "frobnicate"], capture_output=True, text=True)
    assert usage.returncode == 2 and usage.stdout == ""


def test_cli_reports_config_errors_with_key_path(tmp_path: Path) -> None:
    config = tmp_path / "dpsql.yaml"
    config.write_text("engine: {kind: duckdb, database: x.duckdb}\nprivacy: {accounting: magic}\n")
    run = subprocess.run([sys.executable, "-m", "proxy.cli", "ledger", "verify",
                          "--config", str(config)],
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.startswith("config_error:")
    assert "privacy.accounting" in run.stderr
    assert "Traceback" not in run.stderr


def test_readme_shows_the_role_sql_the_engine_demands() -> None:
    from proxy.engines.postgres import READ_ONLY_ROLE_SQL

    assert READ_ONLY_ROLE_SQL in (ROOT / "README.md").read_text()


def test_make_demo_passes_the_port_and_engine() -> None:
    run = subprocess.run(["make", "-n", "demo", "PORT=9191", "ENGINE=postgres"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    assert "dpsql demo --dir demo --port 9191 --engine postgres" in run.stdout
