"""In a real browser: switching to English changes every string a person reads. A user holding every
role opens each page linked from the home page and the menus, in Chinese and then in English; in English
no page may show Chinese (the data seeded here is in Latin letters, so any Chinese left is interface
text), and in Chinese every page shows Chinese. Chinese that is the archive's own data is set aside: document
types' Chinese names (the type table shows both names, since both are edited there) and the retention
schedule's authority (the title of the company's Chinese retention table). The choice is kept with the
account: after logging out and in again from a fresh browser the pages stay English."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page
from sqlalchemy import select

from docsvc.files.customers import AccountRule, create_customer
from docsvc.governance.accounts import create_user
from docsvc.models import DocumentType, RetentionSchedule
from docsvc.runtime import Runtime
from tests.browser import Server, log_in, log_out
from tests.conftest import PASSWORD

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]+")
# The switch names the other language in that language: the one Chinese word an English page shows.
SWITCH_TO_CHINESE = "中文"
NOT_PAGES = re.compile(r"\.(csv|pdf|zip|xlsx|json|png)$|^/(logout|lang/|api/|static/|metrics|healthz|readyz)")
MAX_PAGES = 60


def _pages(page: Page, url: str) -> list[str]:
    """Every page linked from the home page, and from the pages it links to (one step further)."""
    seen: list[str] = []
    frontier = ["/"]
    for _depth in range(2):
        found = []
        for path in frontier:
            page.goto(url + path)
            for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
                target = urlsplit(href)
                if (target.netloc or not target.path.startswith("/") or NOT_PAGES.search(target.path)
                        or re.search(r"(^|&)(format|download)=", target.query)):
                    continue
                link = target.path + (f"?{target.query}" if target.query else "")
                if link not in seen and link not in found:
                    found.append(link)
        seen.extend(p for p in found if p not in seen)
        frontier = found
    return (["/"] + [p for p in seen if p != "/"])[:MAX_PAGES]


def _chinese_on(page: Page, data: frozenset[str] = frozenset()) -> list[str]:
    text = page.inner_text("body") + " " + page.title()
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    return [w for w in CJK.findall(text) if w != SWITCH_TO_CHINESE]


def test_switching_to_english_changes_every_visible_string(served: Server, served_runtime: Runtime,
                                                           browser_page: Page) -> None:
    with served_runtime.sessions() as session:
        create_user(session, "chief", PASSWORD, ["admin", "records_manager", "archivist", "operator"])
        create_customer(session, None, AccountRule(r"^\d{10}$"), "3012345678",
                        {"name": "Acme Works", "address": "1 Harbour Road"})
        data = frozenset(session.scalars(select(DocumentType.name_zh))) | frozenset(
            session.scalars(select(RetentionSchedule.authority)))
    page, url = browser_page, served.url
    log_in(page, url, "chief")
    pages = _pages(page, url)
    assert len(pages) >= 10, pages  # the crawl reached the application, not only the login page

    untranslated_in_chinese = []
    for path in pages:
        page.goto(url + path)
        if not _chinese_on(page):
            untranslated_in_chinese.append(path)
    assert not untranslated_in_chinese, f"pages without Chinese in Chinese mode: {untranslated_in_chinese}"

    page.goto(url + "/")
    page.click("header form[action^='/lang/'] button")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    left = {}
    for path in pages:
        page.goto(url + path)
        chinese = _chinese_on(page, data)
        if chinese:
            left[path] = chinese[:8]
    assert not left, "Chinese left on English pages:\n" + "\n".join(f"{p}: {w}" for p, w in left.items())

    log_out(page)
    browser: Browser = page.context.browser  # type: ignore[assignment]
    fresh = browser.new_context(locale="zh-CN").new_page()  # a Chinese browser, no cookie: the account decides
    try:
        log_in(fresh, url, "chief")
        assert fresh.locator("html").get_attribute("lang") == "en"
        assert not _chinese_on(fresh)
    finally:
        fresh.context.close()
