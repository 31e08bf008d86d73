"""In a real browser, under the real Content-Security-Policy: the print button opens the print page,
its page images load through the authorised route, and its script file opens the print dialog."""
from __future__ import annotations

import io

from PIL import Image
from playwright.sync_api import Page

from docsvc.constants import page_image_key
from docsvc.runtime import Runtime
from tests.browser import Server, log_in
from tests.test_access_audit import ACCOUNT_A, events, make_document
from tests.test_browser_loans import server_runtime  # noqa: F401  (fixture)

# Chromium's print dialog cannot be driven headless: count the calls instead, and any script or
# style the policy blocked.
WATCH_PRINT = """
window.print = () => { window.__printed = (window.__printed || 0) + 1; };
document.addEventListener('securitypolicyviolation', e => {
  window.__blocked = (window.__blocked || []).concat(e.violatedDirective);
});
"""


def test_the_print_button_opens_the_page_images_and_the_print_dialog(
        served: Server, server_runtime: Runtime, browser_page: Page) -> None:  # noqa: F811
    doc_id, page_id = make_document(server_runtime, ACCOUNT_A)
    scan = io.BytesIO()
    Image.new("L", (120, 170), 255).save(scan, "PNG")
    server_runtime.store.put_bytes(page_image_key(page_id, "png"), scan.getvalue())
    page, url = browser_page, served.url
    page.context.add_init_script(WATCH_PRINT)

    log_in(page, url, "operator")
    page.goto(f"{url}/documents/{doc_id}")
    with page.context.expect_page() as opened:
        page.click("#print-document")
    sheet = opened.value
    sheet.wait_for_function("() => window.__printed === 1")
    assert sheet.evaluate("document.querySelector('.sheet img').naturalWidth") == 120
    sheet.click("#print-again")
    sheet.wait_for_function("() => window.__printed === 2")
    assert sheet.evaluate("window.__blocked || []") == []
    assert [(e.actor_name, e.object_id) for e in events(server_runtime, "document.print")] == [
        ("operator", str(doc_id))]
