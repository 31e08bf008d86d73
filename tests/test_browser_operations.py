"""An archivist in a real browser imports a long customer list that changes every customer: the import runs
in the background, the bar moves as the rows are written, a reload midway finds it where it is, and it
reaches 100 % with the report."""
from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from docsvc.files import customer_import
from docsvc.files.customers import AccountRule
from docsvc.governance.accounts import create_user
from docsvc.runtime import Runtime
from tests.browser import Server, log_in
from tests.conftest import PASSWORD
from tests.operations_setup import customers_csv

ROWS = 40_000  # updated one by one: long enough to be watched (its progress is written once a second)
IMPORT_FINISHES_MS = 180_000


def test_a_long_import_shows_live_progress_that_survives_a_reload(
        browser_page: Page, served: Server, served_runtime: Runtime, tmp_path: Path) -> None:
    first = customers_csv(ROWS)
    with served_runtime.sessions() as session:
        create_user(session, "archivist", PASSWORD, ["archivist"])
        table = customer_import.read_table(first, "first.csv")
        customer_import.run_import(session, None, table, customer_import.guess_mapping(table.headers),
                                   AccountRule(served_runtime.settings.filing.account_pattern), dry_run=False)
    listing = tmp_path / "客户清单.csv"
    listing.write_bytes(first.replace("人民路".encode(), "解放路".encode()))  # every address moves
    page = browser_page
    log_in(page, served.url, "archivist")

    page.goto(f"{served.url}/customers/import")
    page.set_input_files("input[name=file]", listing)
    page.click("main form button[type=submit]")
    page.click("button[name=action][value=import]")
    page.wait_for_url(re.compile(r"/operations/\d+$"))

    bar = page.locator("#op-bar")
    writing = "写入客户"
    page.wait_for_function("([stage]) => { const b = document.getElementById('op-bar'); return b.value > 0 && "
                           "b.value < 100 && document.getElementById('op-stage').textContent === stage; }",
                           arg=[writing], timeout=IMPORT_FINISHES_MS)
    seen = bar.evaluate("b => b.value")
    page.reload()  # midway: the page is drawn again from the server's record of the run
    now = bar.evaluate("b => b.value")
    assert now >= seen or page.locator("#op-status.status-done").count() == 1, (seen, now)
    expect(page.locator("#op-status")).to_have_class(re.compile(r"status-done"), timeout=IMPORT_FINISHES_MS)
    assert bar.evaluate("b => b.value") == 100
    expect(page.locator("#op-summary")).to_contain_text(str(ROWS))  # updated
    page.goto(f"{served.url}/operations/")
    expect(page.locator("#operations tbody tr").first).to_contain_text("客户导入")
