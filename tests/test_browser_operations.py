"""An archivist in a real browser imports a long customer list: the import runs in the background, the bar
moves, a reload midway finds it where it is, and it reaches 100 % with the report."""
from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from docsvc.governance.accounts import create_user
from docsvc.runtime import Runtime
from tests.browser import Server, log_in
from tests.conftest import PASSWORD
from tests.operations_setup import customers_csv

ROWS = 40_000  # enough rows that the import is seen running: its progress is written once a second
IMPORT_FINISHES_MS = 180_000


def test_a_long_import_shows_live_progress_that_survives_a_reload(
        browser_page: Page, served: Server, served_runtime: Runtime, tmp_path: Path) -> None:
    with served_runtime.sessions() as session:
        create_user(session, "archivist", PASSWORD, ["archivist"])
    listing = tmp_path / "客户清单.csv"
    listing.write_bytes(customers_csv(ROWS))
    page = browser_page
    log_in(page, served.url, "archivist")

    page.goto(f"{served.url}/customers/import")
    page.set_input_files("input[name=file]", listing)
    page.click("main form button[type=submit]")
    page.click("button[name=action][value=import]")
    page.wait_for_url(re.compile(r"/operations/\d+$"))

    bar = page.locator("#op-bar")
    page.wait_for_function("() => { const b = document.getElementById('op-bar'); return b.value > 0 && b.value < 100; }",
                           timeout=IMPORT_FINISHES_MS)
    seen = bar.evaluate("b => b.value")
    page.reload()  # midway: the page is drawn again from the record in the database
    assert bar.evaluate("b => b.value") >= seen
    expect(page.locator("#op-status")).to_have_class(re.compile(r"status-done"), timeout=IMPORT_FINISHES_MS)
    assert bar.evaluate("b => b.value") == 100
    expect(page.locator("#op-summary")).to_contain_text(str(ROWS))
    page.goto(f"{served.url}/operations/")
    expect(page.locator("#operations tbody tr").first).to_contain_text("客户导入")
