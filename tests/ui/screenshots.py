"""`make screenshots`: one PNG per role's page of the dashboard, on a small demo
deployment with a little history (charges by two analysts, a refusal), in Chromium.

    python -m tests.ui.screenshots docs/screenshots
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from .server import KEYS, chromium, guard, sign_in

HISTORY = [
    ("alice", "SELECT COUNT(*) AS n FROM employees", 0.2),
    ("bob", "SELECT city, COUNT(*) AS visits FROM visits GROUP BY city", 0.3),
    ("alice", "SELECT dept, AVG(salary) AS avg_salary FROM employees GROUP BY dept", 0.4),
    ("bob", "SELECT AVG(age) AS age FROM employees", 0.2),
    ("alice", "SELECT name FROM employees", 0.1),  # refused: raw rows
]


def _history(base: str) -> None:
    for who, sql, eps in HISTORY:
        httpx.post(f"{base}/v1/query", json={"sql": sql, "epsilon": eps},
                   headers={"Authorization": f"Bearer {KEYS[who]}"}, timeout=60)


def _shoot(browser: Any, base: str, out: Path) -> list[Path]:
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  device_scale_factor=1)
    leaving = guard(context, base)
    page = context.new_page()
    page.set_default_timeout(30_000)
    taken = []

    def save(name: str) -> None:
        page.wait_for_timeout(400)  # let transitions end
        path = out / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)

    sign_in(page, base, KEYS["alice"])
    page.wait_for_selector("#spend-chart svg")
    page.fill("#ask-sql", "SELECT dept, COUNT(*) AS n FROM employees GROUP BY dept")
    page.fill("#ask-epsilon", "0.3")
    page.click("#explain-button")
    page.wait_for_selector("#run-button:enabled")
    page.click("#run-button")
    page.wait_for_selector("#result-chart svg rect.bar")
    save("analyst")
    page.click("button.tab[data-tab=sandbox]")
    page.wait_for_selector("#sb-draws svg circle.draw")
    page.wait_for_selector("#sb-curve svg path.series")
    save("sandbox")
    page.click("#sign-out")

    sign_in(page, base, KEYS["olivia"])
    page.wait_for_selector("#analysts-table tbody tr")
    page.wait_for_selector("#owner-tables .tcard")
    save("owner")
    page.click("#sign-out")

    sign_in(page, base, KEYS["carl"])
    page.wait_for_selector("#verify-status.ok")
    page.wait_for_selector("#c-spend-chart svg path.series")
    page.wait_for_selector("#attempts-table tbody tr")
    save("compliance")
    context.close()
    if leaving:
        raise SystemExit(f"requests left the machine: {leaving}")
    return taken


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    from .server import serve_demo

    with tempfile.TemporaryDirectory() as tmp, serve_demo(Path(tmp)) as base, \
            chromium() as browser:
        _history(base)
        for path in _shoot(browser, base, out):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
