"""CLI tests run `dpsql` in-process (tests/cli_runner.py) against a throwaway deployment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from proxy.demo import build_demo_database, demo_config_yaml
from tests.cli_runner import Completed, run_cli

KEYS = {"alice": "dpsql_alice_key", "olivia": "dpsql_olivia_key", "carl": "dpsql_carl_key"}


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "demo.duckdb"
    build_demo_database(path, people=500)
    return path


@dataclass
class Deployment:
    config: Path
    ledger_url: str

    def run(self, *args: str, user: str = "olivia") -> Completed:
        """`dpsql ARGS --config <this deployment>`; the actor is `cli:<user>`."""
        return run_cli(*args, "--config", str(self.config), env={"USER": user})


@pytest.fixture
def make_deployment(tmp_path: Path, demo_db: Path) -> Callable[..., Deployment]:
    def make(*, accounting: str = "pure", ledger_url: str | None = None,
             dataset: dict[str, float] | None = None) -> Deployment:
        document = yaml.safe_load(demo_config_yaml(str(demo_db), KEYS, ledger_path="ledger.db"))
        document["privacy"]["accounting"] = accounting
        document["privacy"]["dataset_budget"] = dataset or {"epsilon": 5.0, "delta": 1e-5}
        if ledger_url is not None:
            document["ledger"]["url"] = ledger_url
        config = tmp_path / "dpsql.yaml"
        config.write_text(yaml.safe_dump(document))
        return Deployment(config, ledger_url or f"sqlite:///{tmp_path / 'ledger.db'}")

    return make


@pytest.fixture
def deployment(make_deployment: Callable[..., Deployment]) -> Deployment:
    return make_deployment()
