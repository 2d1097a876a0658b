"""How the dashboard and the docs are served, without a browser: only local assets,
a strict Content-Security-Policy, the files shipped as package data, and the API key
as an OpenAPI security scheme (what Swagger UI's "Authorize" needs)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import httpx
import pytest

from proxy.ui.serve import STATIC

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_pages_load_only_local_assets_under_a_strict_policy(ui_url: str, path: str) -> None:
    page = httpx.get(ui_url + path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert not re.search(r"(https?:)?//[a-z]", page.text.replace("http://www.w3.org", ""))
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert assets
    for asset in assets:
        served = httpx.get(ui_url + asset)
        assert served.status_code == 200, asset
        assert served.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text  # no inline script: the policy would refuse it


def test_the_key_is_an_openapi_security_scheme(ui_url: str) -> None:
    spec = httpx.get(ui_url + "/openapi.json").json()
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "http", "scheme": "bearer",
        "description": "Your dpsql API key: `Authorization: Bearer <key>`."}
    for path in ("/v1/query", "/v1/budget", "/v1/ledger", "/v1/me", "/v1/admin/analysts"):
        for operation in spec["paths"][path].values():
            assert operation["security"] == [{"apiKey": []}], path
            assert all(p["name"].lower() != "authorization"
                       for p in operation.get("parameters", [])), path
    assert "/" not in spec["paths"] and "/docs" not in spec["paths"]


def test_every_static_file_is_shipped_as_package_data() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = project["tool"]["setuptools"]["package-data"]["proxy.ui"]
    assert shipped == ["static/*"]
    assert not [p for p in STATIC.rglob("*") if p.is_dir()]  # static/* is every file
    assert {"index.html", "docs.html", "app.css", "api.js"} <= {p.name for p in STATIC.iterdir()}


def test_unknown_asset_is_a_json_404(ui_url: str) -> None:
    missing = httpx.get(ui_url + "/ui/static/nope.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
