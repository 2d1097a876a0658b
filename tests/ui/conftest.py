"""Browser tests of the dashboard: one server and one Chromium per session (per xdist
worker), a fresh browser context per test (its own sessionStorage), and every test
fails if the page asked for anything that leaves 127.0.0.1 or threw a script error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .server import KEYS, chromium, guard, serve_demo, sign_in


@pytest.fixture(scope="session")
def ui_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_demo(tmp_path_factory.mktemp("ui")) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


class Tab:
    """One page in its own context, with what it did wrong collected."""

    def __init__(self, browser: Any, base: str, downloads: Path) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1280, "height": 900},
                                           accept_downloads=True)
        self.leaving = guard(self.context, base)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("console", self._console)
        # a key must never travel in a URL (address bar, history, logs, referrers)
        self.keyed_urls: list[str] = []
        self.context.on("request", lambda r: self.keyed_urls.append(r.url)
                        if any(k in r.url for k in KEYS.values()) else None)
        self.downloads = downloads

    def _console(self, message: Any) -> None:
        # the browser logs every 4xx answer; a refusal the page shows is not an error
        if message.type == "error" and not message.text.startswith(
                "Failed to load resource: the server responded with a status of 4"):
            self.errors.append(f"console: {message.text}")

    def sign_in(self, who: str) -> Any:
        sign_in(self.page, self.base, KEYS.get(who, who))
        return self.page


@pytest.fixture
def tab(browser: Any, ui_url: str, tmp_path: Path) -> Iterator[Tab]:
    t = Tab(browser, ui_url, tmp_path)
    yield t
    t.context.close()
    assert t.leaving == [], f"requests left the machine: {t.leaving}"
    assert t.keyed_urls == [], f"an API key was sent in a URL: {t.keyed_urls}"
    assert t.errors == [], t.errors
