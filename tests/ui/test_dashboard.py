"""The dashboard in a real browser (Debian's Chromium through Playwright): each role
signs in and does its job through the JSON API, and a wrong key or role reads a plain
message. The `tab` fixture fails any test whose page asked for anything off 127.0.0.1."""

from __future__ import annotations

import csv
import re

import httpx
from playwright.sync_api import expect

from .conftest import Tab
from .server import KEYS


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[who]}"}


def test_analyst_explains_then_queries_and_sees_the_chart(tab: Tab) -> None:
    page = tab.sign_in("alice")
    expect(page.locator("#who-text")).to_have_text(re.compile(r"alice · analyst"))
    expect(page.locator("#budget-summary")).to_contain_text("It never refills")
    run = page.locator("#run-button")
    expect(run).to_be_disabled()  # nothing is paid for before it was explained
    page.fill("#ask-sql", "SELECT dept, COUNT(*) AS n FROM employees GROUP BY dept")
    page.fill("#ask-epsilon", "0.2")
    page.click("#explain-button")
    expect(page.locator("#explain-cost")).to_contain_text("would be charged ε = 0.2")
    expect(page.locator("#explain-more")).to_contain_text(re.compile(r"about [\d,]+ queries like"))
    expect(page.locator("#explain-outputs")).to_contain_text("±")
    expect(page.locator("#explain-outputs")).to_contain_text("95 % of the time")
    expect(run).to_be_enabled()
    run.click()
    expect(page.locator("#result-charged")).to_contain_text("Charged ε = 0.2")
    # six departments (public keys): six bars, each with an error bar
    expect(page.locator("#result-chart svg rect.bar")).to_have_count(6)
    assert page.locator("#result-chart svg line.errbar").count() == 18
    expect(page.locator("#result-table tbody tr")).to_have_count(6)
    expect(page.locator("#result-words")).to_contain_text("within ±")
    # the budget now shows the spend, and its history has a step
    expect(page.locator("#budget-share")).not_to_have_text("0 %")
    history = httpx.get(f"{tab.base}/v1/budget/history", headers=auth("alice")).json()
    charges = len(history["points"])
    assert charges >= 1  # other tests in the session may have charged alice too
    expect(page.locator("#spend-words")).to_contain_text(
        f"{charges} charged {'query' if charges == 1 else 'queries'} so far")
    expect(page.locator("#spend-chart svg path.series")).to_have_count(1)
    # the tables tab lists what may be queried, with bounds and keys
    page.click("button.tab[data-tab=tables]")
    expect(page.locator("#tables-list")).to_contain_text("0 to 250,000")
    expect(page.locator("#tables-list")).to_contain_text("Protected person: id")


def test_sandbox_slider_changes_the_spread_then_runs_for_real(tab: Tab) -> None:
    page = tab.sign_in("bob")
    page.click("button.tab[data-tab=sandbox]")
    spread = page.locator("#sb-spread")
    expect(spread).to_have_attribute("data-epsilon", re.compile(r"."))
    first = float(spread.get_attribute("data-halfwidth") or "nan")
    eps = spread.get_attribute("data-epsilon")
    expect(page.locator("#sb-odds")).to_contain_text("times more likely")
    expect(page.locator("#sb-curve svg path.series")).to_have_count(2)
    assert page.locator("#sb-draws svg circle.draw").count() == 6 * 20
    marker = page.locator("#sb-curve svg line.marker")
    at = marker.get_attribute("x1")
    page.locator("#sb-slider").focus()
    page.keyboard.press("End")  # the largest ε allowed: the least noise
    expect(spread).not_to_have_attribute("data-epsilon", eps or "")
    expect(page.locator("#sb-eps")).to_have_text("1")
    expect(spread).to_have_attribute("data-epsilon", "1")
    last = float(spread.get_attribute("data-halfwidth") or "nan")
    assert last < first / 2, (first, last)
    expect(page.locator("#sb-odds")).to_contain_text("2.72 times")
    assert float(marker.get_attribute("x1") or "0") > float(at or "0")  # ε marked further right
    page.keyboard.press("Home")
    expect(spread).to_have_attribute("data-epsilon", "0.01")
    assert float(spread.get_attribute("data-halfwidth") or "nan") > first
    # nothing was charged by the sandbox; "run for real" pays for what was tried
    assert httpx.get(f"{tab.base}/v1/budget", headers=auth("bob")).json()["share_used"] == 0
    page.locator("#sb-slider").press("End")
    expect(page.locator("#sb-promote")).to_contain_text("ε = 1")
    page.click("#sb-promote")
    expect(page.locator("#result-charged")).to_contain_text("Charged ε = 1")
    expect(page.locator("#tab-ask")).to_be_visible()
    assert httpx.get(f"{tab.base}/v1/budget", headers=auth("bob")).json()["share_used"] > 0


def test_owner_grants_a_budget_and_sorts_the_analysts(tab: Tab) -> None:
    page = tab.sign_in("olivia")
    expect(page.locator("#who-text")).to_have_text(re.compile(r"olivia · data owner"))
    table = page.locator("#analysts-table")
    everyone = httpx.get(f"{tab.base}/v1/admin/analysts", headers=auth("olivia")).json()
    expect(table.locator("tbody tr")).to_have_count(len(everyone["analysts"]))
    expect(page.locator("#ds-words")).to_contain_text("dataset-wide privacy budget")
    page.select_option("#grant-analyst", "bob")
    page.fill("#grant-epsilon", "2.5")
    page.fill("#grant-delta", "1e-6")
    page.fill("#grant-expires", "2099-06-30")
    page.fill("#grant-reason", "browser test grant")
    page.click("#grant-button")
    expect(page.locator("#grant-msg")).to_contain_text("bob now holds ε = 2.5")
    bob = table.locator("tr", has_text="bob")
    expect(bob).to_contain_text("2.5")
    expect(bob).to_contain_text("2099-06-30")
    listed = httpx.get(f"{tab.base}/v1/admin/analysts", headers=auth("olivia")).json()
    grant = next(a for a in listed["analysts"] if a["name"] == "bob")
    assert grant["granted"]["epsilon"] == 2.5
    assert grant["expires"].startswith("2099-07-01T00:00")  # a date runs through that day
    # sortable: by name, descending on the second click
    header = table.locator("th", has_text="name")
    header.click()
    header.click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(table.locator("tbody tr").first).to_contain_text("olivia")
    # a refused change is shown as the API words it, and changes nothing
    page.fill("#grant-expires", "2001-01-01")
    page.click("#grant-button")
    expect(page.locator("#grant-msg")).to_contain_text("is not in the future")
    # table metadata with bounds, and the bounds assistant offered per private table
    expect(page.locator("#owner-tables")).to_contain_text("Protected person (privacy unit): id")
    expect(page.locator("#owner-tables .assist")).to_have_count(2)


def test_compliance_filters_pages_and_exports_the_ledger(tab: Tab) -> None:
    # enough history for two pages of attempts, and a charge to filter for
    with httpx.Client(base_url=tab.base, headers=auth("alice")) as client:
        for n in range(27):
            assert client.post("/v1/explain", json={
                "sql": f"SELECT COUNT(*) FROM employees WHERE age > {n}"}).status_code == 200
        charged = client.post("/v1/query", json={"sql": "SELECT COUNT(*) FROM visits"})
        assert charged.status_code == 200
        refused = client.post("/v1/query", json={"sql": "SELECT name FROM employees"})
        assert refused.json()["error"]["code"] == "unsupported_query"
    page = tab.sign_in("carl")
    expect(page.locator("#verify-status")).to_contain_text("The ledger verifies")
    expect(page.locator("#verify-details")).to_contain_text("signed checkpoint")
    ledger = page.locator("#ledger-table")
    expect(ledger.locator("tbody tr").first).to_contain_text("analyst")
    page.select_option("#lf-kind", "charge")
    page.click("#lf-apply")
    expect(ledger.locator("tbody tr").first).to_contain_text("charge")
    kinds = ledger.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert kinds and set(kinds) == {"charge"}
    with page.expect_download() as caught:
        page.click("#lf-csv")
    path = tab.downloads / "ledger.csv"
    caught.value.save_as(path)
    assert caught.value.suggested_filename == "ledger.csv"
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and {r["kind"] for r in rows} == {"charge"}
    assert len(rows) == len(kinds)
    # the attempts log pages by 25
    attempts = page.locator("#attempts-table tbody tr")
    expect(attempts).to_have_count(25)
    expect(page.locator("#af-next")).to_be_enabled()
    page.click("#af-next")
    expect(page.locator("#af-page")).to_contain_text("page 2")
    expect(page.locator("#af-prev")).to_be_enabled()
    # refusals by code: the analyst's raw-row attempt and nothing else
    page.fill("#af-code", "unsupported_query")
    page.locator("#attempts-filter button[type=submit]").click()
    expect(page.locator("#af-page")).to_contain_text("page 1")
    expect(attempts.first).to_contain_text("refused (unsupported_query)")
    outcomes = page.locator("#attempts-table tbody tr td:nth-child(5)").all_inner_texts()
    assert outcomes and set(outcomes) == {"refused (unsupported_query)"}
    # a filter the API refuses is shown in its words
    page.fill("#af-code", "no_such_code")
    page.locator("#attempts-filter button[type=submit]").click()
    expect(page.locator("#attempts-error")).to_contain_text("is not one of")
    # spend per analyst over time
    expect(page.locator("#c-spend-chart svg path.series").first).to_be_visible()


def test_a_wrong_key_or_role_reads_a_plain_message(tab: Tab) -> None:
    page = tab.sign_in("dpsql_not_a_key")
    error = page.locator("#signin-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("unknown API key")
    expect(page.locator("#analyst")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('dpsql.key')") is None
    assert "Traceback" not in page.content()
    # the key never shows in the address bar
    assert "dpsql_" not in page.url
    # signed in as an analyst, a route of another role is refused in words
    page.fill("#signin-key", KEYS["alice"])
    page.click("#signin-button")
    expect(page.locator("#analyst")).to_be_visible()
    page.evaluate("""DP.api('GET', '/v1/ledger').catch((e) => DP.fail('ask-error', e))""")
    box = page.locator("#ask-error")
    expect(box).to_contain_text("alice has the role analyst; this endpoint is for compliance")
    expect(box).to_have_attribute("data-code", "forbidden")
    assert "Traceback" not in page.content()
    # a refused query shows its code's message, not a stack trace
    page.fill("#ask-sql", "SELECT name FROM employees")
    page.click("#explain-button")
    expect(box).to_contain_text("name is not aggregated")
    assert "Traceback" not in page.content()


def test_a_key_disabled_mid_session_is_told_so(tab: Tab, ui_url: str) -> None:
    page = tab.sign_in("bob")
    expect(page.locator("#analyst")).to_be_visible()
    off = httpx.patch(f"{ui_url}/v1/admin/analysts/bob", headers=auth("olivia"),
                      json={"disabled": True, "reason": "browser test"})
    assert off.status_code == 200
    try:
        page.click("#explain-button")
        expect(page.locator("#ask-error")).to_contain_text("was disabled by a data owner")
    finally:
        httpx.patch(f"{ui_url}/v1/admin/analysts/bob", headers=auth("olivia"),
                    json={"disabled": False, "reason": "browser test"})


def test_api_docs_work_offline_and_authorize_with_a_key(tab: Tab) -> None:
    page = tab.page
    page.goto(tab.base + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("dpsql")
    page.click("button.authorize")
    page.locator(".auth-container input").first.fill(KEYS["alice"])
    page.locator(".auth-btn-wrapper button.authorize").click()
    page.locator(".auth-btn-wrapper button.btn-done").click()
    op = page.locator("#operations-analyst-me_v1_me_get")
    op.locator(".opblock-summary").click()
    op.locator("button.try-out__btn").click()
    op.locator("button.execute").click()
    body = op.locator(".live-responses-table .response-col_description pre").first
    expect(body).to_contain_text('"role": "analyst"')


def test_owner_runs_the_bounds_assistant_after_confirming(tab: Tab) -> None:
    page = tab.sign_in("olivia")
    before = httpx.get(f"{tab.base}/v1/admin/budget", headers=auth("olivia")).json()
    assist = page.locator("#owner-tables .tcard", has_text="employees").locator(".assist")
    page.once("dialog", lambda dialog: dialog.dismiss())  # "no": nothing is spent
    assist.locator("button", has_text="Suggest").click()
    page.wait_for_timeout(300)
    assert httpx.get(f"{tab.base}/v1/admin/budget",
                     headers=auth("olivia")).json()["spent"] == before["spent"]
    page.once("dialog", lambda dialog: dialog.accept())
    assist.locator("input").fill("0.5")
    assist.locator("button", has_text="Suggest").click()
    expect(assist).to_contain_text("Charged ε = 0.5 of the dataset-wide budget")
    expect(assist.locator("li").first).to_be_visible()
    expect(assist.locator("button", has_text="Apply these proposals")).to_be_visible()
    after = httpx.get(f"{tab.base}/v1/admin/budget", headers=auth("olivia")).json()
    assert after["share_used"] > before["share_used"]


def test_owner_adds_an_analyst_whose_key_then_signs_in(tab: Tab) -> None:
    page = tab.sign_in("olivia")
    page.fill("#add-name", "dana")
    page.fill("#add-epsilon", "0.75")
    page.fill("#add-reason", "browser test")
    page.click("#add-button")
    expect(page.locator("#add-msg")).to_contain_text("shown only this once")
    key = page.locator("#add-key").inner_text()
    assert key.startswith("dpsql_")
    expect(page.locator("#analysts-table tr", has_text="dana")).to_contain_text("0.75")
    again = page.locator("#add-name")
    again.fill("dana")
    page.click("#add-button")
    expect(page.locator("#add-msg")).to_contain_text("an analyst named 'dana' exists")
    page.click("#sign-out")
    page.fill("#signin-key", key)
    page.click("#signin-button")
    expect(page.locator("#who-text")).to_have_text(re.compile(r"dana · analyst"))
    expect(page.locator("#budget-summary")).to_contain_text("of 0.75")
