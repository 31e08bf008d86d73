"""An operator files an inbox document in a real browser with the keyboard only."""
from __future__ import annotations


from playwright.sync_api import Page, expect
from sqlalchemy import select

from docsvc.db import make_engine, make_sessionmaker
from docsvc.models import Document
from docsvc.files.customers import AccountRule, create_customer
from tests.browser import Server, log_in
from tests.factories import add_document


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
