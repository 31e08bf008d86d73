"""The page viewer walks every hit of a document (issue 12, point 4): past a page's last hit, ↓ opens
the document's next matching page, skipping pages without one; ↑ goes back the same way."""
from __future__ import annotations

import re

from playwright.sync_api import Page as BrowserPage, expect

from docsvc.runtime import Runtime
from tests.browser import Server, log_in, seed_matching_document

TERM = "产权分界点"
TEXTS = [f"本合同{TERM}位于配电房", "签字页", f"附图：{TERM}示意"]     # pages 1 and 3 match


def seed(rt: Runtime) -> list[int]:
    """A three-page contract, read and indexed, each matching page with the term as an OCR word."""
    return seed_matching_document(rt, TEXTS, TERM, (160, 100, 300, 130))


def test_the_hit_buttons_walk_on_to_the_documents_other_matching_pages(
        browser_page: BrowserPage, served: Server, served_runtime: Runtime) -> None:
    first, _, third = seed(served_runtime)
    page, url = browser_page, served.url
    log_in(page, url, "operator")
    page.goto(f"{url}/pages/{first}?q={TERM}")
    expect(page.locator("#boxes .hit-box")).to_have_count(1)
    page.click("#next-hit")                                   # past page 1's only hit: page 3, not 2
    page.wait_for_url(re.compile(rf"/pages/{third}\b"))
    expect(page.locator("#boxes .hit-box")).to_have_count(1)
    expect(page.locator("#next-hit-page")).to_have_count(0)   # the last matching page
    page.click("#prev-hit")
    page.wait_for_url(re.compile(rf"/pages/{first}\b"))
