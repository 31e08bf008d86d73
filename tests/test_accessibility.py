"""Accessibility smoke check (issue 14, Tests): axe-core (vendored in tests/vendor/axe-core) run on the main
pages of one served instance — login, home, upload, inbox, search results, page viewer, customer file,
retention — signed in as an archivist. No violation of impact "serious" or "critical" of any rule (labels
and accessible names, colour contrast, keyboard focus and the rest) may be left. Focus order, which axe
cannot judge, is checked by pressing Tab on the two forms people type into most: the login form and the
inbox's filing form.

The script is injected by Playwright into a context opened with `bypass_csp=True`: the application's
Content-Security-Policy rightly refuses any script it did not serve, and axe is a test tool that must never
be served to users. Bypassing the policy in this one test context changes nothing the pages themselves
do; the policy is checked by every other browser test (tests/browser.py `browser_page`)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page as BrowserPage

from docsvc.models import Customer, utcnow
from docsvc.runtime import Runtime
from tests.browser import CHROMIUM, CHROMIUM_ARGS, Server, cli, log_in, seed_matching_document, server_env
from tests.conftest import PASSWORD
from tests.factories import add_stored_document

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
TERM = "产权分界点"
ACCOUNT = "0100000001"
BLOCKING = ("serious", "critical")


@pytest.fixture
def a11y_page(served: Server) -> Iterator[BrowserPage]:
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM} (apt install chromium); browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", bypass_csp=True)
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def seed(rt: Runtime) -> tuple[int, str]:
    """An unfiled, read and indexed contract (in the inbox, found by TERM) and a customer file holding one
    filed document with a thumbnail. Returns the contract's first page id and the search query."""
    first, *_ = seed_matching_document(rt, [f"本合同{TERM}位于配电房", "签字页"], TERM, (160, 100, 300, 130))
    with rt.sessions() as s:
        customer = Customer(account=ACCOUNT, name="宏达机械制造有限公司")
        s.add(customer)
        s.commit()
        customer_id = customer.id
    add_stored_document(rt, b"%PDF filed", texts=["第一页"], title="供用电合同", customer_id=customer_id,
                        doc_type="HT", filed_at=utcnow())
    return first, TERM


def violations(page: BrowserPage) -> list[dict]:
    """axe's serious and critical violations on the page as it is now shown."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def tab_order(page: BrowserPage, start: str, presses: int) -> list[str]:
    """The fields Tab reaches from `start`, in order, each named by its name, id or text (a field with
    parts, such as a date's year, month and day, counted once)."""
    page.focus(start)
    order: list[str] = []
    for _ in range(presses + 1):
        name = page.evaluate("(e => e.name || e.id || e.textContent.trim())(document.activeElement)")
        if not order or order[-1] != name:
            order.append(name)
        page.keyboard.press("Tab")
    return order


def test_the_main_pages_have_no_serious_accessibility_violations(
        a11y_page: BrowserPage, served: Server, served_runtime: Runtime) -> None:
    cli(server_env(served.data_dir), "user", "create", "archivist", "--role", "archivist", "--password-stdin",
        stdin=PASSWORD + "\n")
    first_page, q = seed(served_runtime)
    page, url = a11y_page, served.url
    pages = {"login": "/login", "home": "/", "upload": "/upload", "inbox": "/inbox", "search": f"/search?q={q}",
             "viewer": f"/pages/{first_page}?q={q}", "customer file": f"/customers/{ACCOUNT}",
             "retention": "/retention"}
    found: list[str] = []
    for name, path in pages.items():
        if name == "home":
            log_in(page, url, "archivist")
        page.goto(url + path, wait_until="load")
        assert "/login" not in page.url or name == "login", f"{name}: sent to the login page"
        if name == "login":  # focus order: the form in reading order, from the field focused on arrival
            assert tab_order(page, ":focus", 2) == ["username", "password", "登录"]
        if name == "inbox":  # the filing form, worked with the keyboard all day
            assert tab_order(page, "#customer_account", 8)[:6] == [
                "customer_account", "type_code", "doc_type", "document_date", "contract_number", "归档"]
        for v in violations(page):
            targets = "; ".join(", ".join(n["target"]) + f" ({n['failureSummary']})" for n in v["nodes"][:5])
            found.append(f"{name} {path}: {v['id']} [{v['impact']}] {v['help']} — {targets}")
    assert not found, "accessibility violations:\n" + "\n".join(found)
