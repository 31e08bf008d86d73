"""In a real browser: the administrator's dashboard renders under the strict policy (any violation fails
the test), with the embedded queue's threads alive and the panels styled by the stylesheet; the records
manager's chart is drawn as SVG with one bar per year."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from docsvc.governance.accounts import create_user
from docsvc.runtime import Runtime, build_runtime
from tests.browser import Server, log_in, log_out
from tests.conftest import PASSWORD, settings_for


@pytest.fixture
def server_runtime(served: Server) -> Iterator[Runtime]:
    """The served instance's own database, for arranging accounts."""
    rt = build_runtime(settings_for(served.data_dir))
    yield rt
    rt.close()


def test_admin_and_records_manager_dashboards_render_in_a_browser(
        served: Server, server_runtime: Runtime, browser_page: Page) -> None:
    with server_runtime.sessions() as session:
        create_user(session, "boss", PASSWORD, ["admin"])
        create_user(session, "keeper", PASSWORD, ["records_manager"])
    page, url = browser_page, served.url

    log_in(page, url, "boss")  # login lands on the dashboard
    assert page.url.rstrip("/") == url
    panel = page.locator("#panel-admin")
    expect(panel).to_be_visible()
    expect(page.locator("#queues tr[data-queue]")).to_have_count(4)  # ingest, ocr, index, operations
    expect(page.locator("#workers .status-done").first).to_have_text("alive")
    expect(page.locator("#workers .status-failed")).to_have_count(0)
    expect(page.locator("#disk tr[data-usage]")).to_have_count(2)
    expect(panel).to_have_css("border-top-style", "solid")  # the stylesheet applies
    expect(page.locator("#panel-operator")).to_have_count(0)
    page.click("#nav-batches")
    page.wait_for_url(f"{url}/batches")
    log_out(page)

    log_in(page, url, "keeper")
    expect(page.locator("#due-chart g.bar")).to_have_count(10)
    box = page.locator("#due-chart").bounding_box()
    assert box and box["width"] > 300  # drawn, not collapsed
