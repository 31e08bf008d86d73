"""An operator files an inbox document in a real browser with the keyboard only."""
from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect
from sqlalchemy import select

from docsvc.db import make_engine, make_sessionmaker
from docsvc.models import Document
from docsvc.files.customers import AccountRule, create_customer
from tests.browser import Server, log_in
from tests.factories import add_document
from tests.inbox_keys import CHOSEN, TYPE_CODE, file_with_keyboard, seed_inbox


def _seed(server: Server) -> int:
    """A customer and an unfiled two-page document whose text names it (as OCR would have read it)."""
    engine = make_engine(f"sqlite:///{server.data_dir / 'docsvc.sqlite3'}")
    with make_sessionmaker(engine)() as s:
        create_customer(s, None, AccountRule(r"^\d{10}$"), "3000000001", {"name": "宏达机械制造有限公司"})
        d = add_document(s, title="扫描件.tif", texts=["供用电合同 合同编号：GD-2019-004512 户号：3000000001",
                                                      "第二页 签字页"])
        s.commit()
        doc_id = d.id
    engine.dispose()
    return doc_id


def test_operator_files_an_inbox_document_with_the_keyboard(browser_page: Page, served: Server) -> None:
    doc_id = _seed(served)
    page = browser_page
    log_in(page, served.url, "operator")

    page.goto(f"{served.url}/inbox")
    expect(page.locator("#current")).to_have_attribute("data-id", str(doc_id))
    expect(page.locator(".suggestion").first).to_contain_text("3000000001")
    page.locator("body").click()
    page.keyboard.press("5")  # the fifth type: HT 供用电合同
    expect(page.locator("#doc_type")).to_have_value("HT")
    page.keyboard.press("Enter")  # take the suggestion and file
    expect(page.locator(".flash")).to_contain_text("J001-KH·")
    expect(page.locator("main")).to_contain_text("收件箱是空的")

    engine = make_engine(f"sqlite:///{served.data_dir / 'docsvc.sqlite3'}")
    with make_sessionmaker(engine)() as s:
        d = s.scalars(select(Document).where(Document.id == doc_id)).one()
        assert (d.customer_account, d.doc_type) == ("3000000001", "HT") and d.reference_code.startswith("J001-KH·")
    engine.dispose()


def test_a_twenty_page_document_is_filed_and_pages_are_worked_with_keys_only(browser_page: Page, served: Server) -> None:
    """Keyboard only after logging in: 20 pages looked at, customer typed by name and taken from the
    choices, type set by its code, filed; then on the next document a page rotated (saved) and the
    document split there. The time is printed (bench/ui_keys.py records it against its floor)."""
    twenty, three = seed_inbox(served.data_dir, (20, 3))
    page = browser_page
    log_in(page, served.url, "operator")
    page.goto(f"{served.url}/inbox")
    expect(page.locator("#current")).to_have_attribute("data-id", str(twenty))
    expect(page.locator("#inbox-keys")).to_contain_text("类型代码")
    # thumbnails eager, the big image of the chosen page only after them
    assert page.locator("#pages img[loading=eager]").count() == 20
    expect(page.locator("#preview-image")).to_have_attribute("src", re.compile(r"/pages/\d+/image$"))
    page.wait_for_function("() => [...document.querySelectorAll('#pages img, #preview-image')].every(i => i.complete && i.naturalWidth > 0)")
    page.keyboard.press("+")                                   # zoom the preview
    expect(page.locator("#preview-image")).to_have_attribute("style", re.compile(r"width: 125%"))
    page.keyboard.press("0")

    started = time.perf_counter()
    keys = file_with_keyboard(page, 20)
    print(f"\nfiled a 20-page document with {keys} keystrokes in {time.perf_counter() - started:.2f} s")

    expect(page.locator("#current")).to_have_attribute("data-id", str(three))
    expect(page.locator("#pages .page[data-number='1']")).to_have_class("page selected")   # inbox.js ran
    page.keyboard.press("j")                                   # page 2 of the next document
    page.keyboard.press("r")                                   # rotate it (saved), page reloads
    expect(page.locator("#pages .page[data-number='2']")).to_have_attribute("data-rotation", "90")
    expect(page.locator("#pages .page[data-number='2']")).to_have_class("page selected")   # still chosen
    page.keyboard.press("s")                                   # split before page 2
    expect(page.locator("#pages .page")).to_have_count(1)

    engine = make_engine(f"sqlite:///{served.data_dir / 'docsvc.sqlite3'}")
    with make_sessionmaker(engine)() as s:
        d = s.scalars(select(Document).where(Document.id == twenty)).one()
        assert (d.customer_account, d.doc_type, d.page_count) == (CHOSEN, TYPE_CODE, 20)
        assert d.reference_code and d.filed_at is not None
        rest = s.scalars(select(Document).where(Document.id > three)).all()
        assert [len(x.pages) for x in rest] == [2] and s.get(Document, three).page_count == 1
        assert [p.view_rotation for p in sorted(rest[0].pages, key=lambda p: p.number)] == [90, 0]
    engine.dispose()


def test_the_inbox_script_writes_in_the_pages_language(browser_page: Page, served: Server) -> None:
    """inbox.js takes its texts from the page: the preview's caption and the message for a type code
    that does not exist read in Chinese, and in English once the operator switches the language."""
    seed_inbox(served.data_dir, (3,))
    page = browser_page
    log_in(page, served.url, "operator")
    page.goto(f"{served.url}/inbox")
    expect(page.locator("#preview-caption")).to_have_text("第 1 页，共 3 页")
    page.keyboard.press("t")
    page.keyboard.type("ZZ")
    page.keyboard.press("Enter")
    expect(page.locator("#type-code-error")).to_have_text("没有代码为“ZZ”的文档类型，请查看下拉列表中的代码。")

    page.keyboard.press("Escape")
    page.click("#language-switch")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#language-switch")).to_have_text("中文")
    expect(page.locator("#preview-caption")).to_have_text("Page 1 of 3")
    page.keyboard.press("t")
    page.keyboard.type("ZZ")
    page.keyboard.press("Enter")
    expect(page.locator("#type-code-error")).to_have_text("No document type has the code “ZZ”: see the codes in the list.")
