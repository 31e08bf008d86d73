"""An operator in a real browser: logs in, uploads a good scan and a broken one, watches the batch
finish, and reads the good page's image and text in the viewer."""
from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.samples import form_text
from tests.browser import Server, log_in
from tests.scans import tiff_bytes, truncated

BATCH_FINISHES_MS = 45_000


def account_of(seed: int) -> str:
    match = re.search(r"户号：(\d{10})", form_text(seed))
    assert match
    return match.group(1)


def test_operator_uploads_in_the_browser_and_reads_the_page(
        browser_page: Page, served: Server, tmp_path: Path) -> None:
    page = browser_page
    good, broken = tmp_path / "扫描件.tif", tmp_path / "broken.tif"
    good.write_bytes(tiff_bytes([61]))
    broken.write_bytes(truncated(tiff_bytes([62], compression="tiff_lzw", variant="clean")))

    log_in(page, served.url, "operator")

    page.goto(f"{served.url}/upload")
    page.set_input_files("#files", [good, broken])
    expect(page.locator("#chosen li")).to_have_count(2)
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(re.compile(r"/batches/\d+$"))

    expect(page.locator("#batch-status")).to_have_class(re.compile(r"status-partial"), timeout=BATCH_FINISHES_MS)
    bar = page.locator("#batch-bar")
    assert bar.evaluate("b => [b.value, b.max]") == [1, 1]
    broken_row = page.locator("#files tr", has_text="broken.tif")
    expect(broken_row.locator(".error")).to_contain_text("文件已损坏")
    expect(broken_row.locator(".error")).to_contain_text("TIFF")
    good_row = page.locator("#files tr", has_text="扫描件.tif")
    expect(good_row).to_contain_text("已完成")
    expect(good_row.locator(".error")).to_have_text("")
    page.screenshot(path=str(tmp_path / "batch.png"), full_page=True)

    good_row.locator("a").first.click()
    page.wait_for_url(re.compile(r"/documents/\d+$"))
    expect(page.locator("h1")).to_contain_text("扫描件.tif")
    page.locator(".thumbs figure a").first.click()
    page.wait_for_url(re.compile(r"/pages/\d+"))

    image = page.locator("#page-image")
    expect(image).to_be_visible()
    page.wait_for_function("() => { const i = document.getElementById('page-image'); "
                           "return i.complete && i.naturalWidth > 0; }")
    assert image.evaluate("i => i.naturalWidth / i.naturalHeight") < 1  # an upright A4 page
    text = re.sub(r"\s+", "", page.locator("#page-text").inner_text())
    assert account_of(61) in text, text
    page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)


def test_files_dropped_on_the_upload_page_are_uploaded(
        browser_page: Page, served: Server, tmp_path: Path) -> None:
    page = browser_page
    log_in(page, served.url, "operator")
    page.goto(f"{served.url}/upload")
    scan = tiff_bytes([63])

    # What a file manager hands the page on a drop: a DataTransfer holding the files.
    page.evaluate("""([name, bytes]) => {
        const data = new DataTransfer();
        data.items.add(new File([new Uint8Array(bytes)], name, {type: 'image/tiff'}));
        document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true}));
    }""", ["拖入.tif", list(scan)])
    expect(page.locator("#chosen li")).to_have_text([re.compile(r"^拖入\.tif")])
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(re.compile(r"/batches/\d+$"))

    expect(page.locator("#batch-status")).to_have_class(re.compile(r"status-done"), timeout=BATCH_FINISHES_MS)
    expect(page.locator("#files tr", has_text="拖入.tif")).to_contain_text("已完成")
    expect(page.locator("#files .tile img")).to_have_count(1)
