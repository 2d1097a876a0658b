"""A dpsql server on a free port over a small demo deployment, and a headless Chromium
that refuses every request leaving 127.0.0.1: what the browser tests and `make
screenshots` share. Plain functions and context managers, no fixtures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from proxy.demo import build_demo_database, demo_config_yaml
from tests.serving import serve_in_thread

__all__ = ["CHROMIUM", "KEYS", "chromium", "guard", "serve_demo", "sign_in"]

CHROMIUM = "/usr/bin/chromium"  # Debian's package: `make test` installs it when missing
# Chromium on its own phones home (updates, field trials, safe browsing, QUIC probes):
# these flags keep it quiet, and `guard` refuses whatever still tries to leave.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--metrics-recording-only",
        "--safebrowsing-disable-auto-update", "--disable-features=Translate,OptimizationHints"]
KEYS = {"alice": "dpsql_alice_key", "bob": "dpsql_bob_key",
        "olivia": "dpsql_olivia_key", "carl": "dpsql_carl_key"}


@contextmanager
def serve_demo(folder: Path, *, people: int = 2000) -> Iterator[str]:
    """The demo deployment (zCDP, alice and bob analysts at ε = 3, olivia the owner, carl
    compliance) on a small database, served by uvicorn in a thread; yields its URL."""
    build_demo_database(folder / "demo.duckdb", people=people, seed=23)
    document = yaml.safe_load(demo_config_yaml(str(folder / "demo.duckdb"), KEYS,
                                               ledger_path=str(folder / "ledger.db")))
    (folder / "dpsql.yaml").write_text(yaml.safe_dump(document))
    with serve_in_thread(folder / "dpsql.yaml") as url:
        yield url


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium from Debian, driven by Playwright (never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        raise RuntimeError(f"{CHROMIUM} is missing: `make test` installs it "
                           "(apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def guard(context: Any, base: str) -> list[str]:
    """Abort every request of `context` that does not go to `base`; returns the list the
    refused URLs are appended to (a test fails when it is not empty)."""
    leaving: list[str] = []

    def local(url: str) -> bool:
        return url == base or url.startswith((base + "/", "data:", "blob:"))

    def route(r: Any) -> None:
        if local(r.request.url):
            r.continue_()
        else:
            r.abort()

    context.route("**/*", route)
    context.on("request", lambda request: None if local(request.url)
               else leaving.append(request.url))
    return leaving


def sign_in(page: Any, base: str, key: str) -> None:
    page.goto(base + "/")
    page.fill("#signin-key", key)
    page.click("#signin-button")
