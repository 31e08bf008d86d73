"""The README's screenshots, taken by a real browser on a served instance with realistic data: a batch
part read, an unfiled scan in the inbox, a filed contract found by search and opened on its hit, a customer
file, due documents on a destruction list under appraisal, the integrity panel. Each screen is asserted to
render; the PNGs are written to docs/screenshots/ only when DOCSVC_SCREENSHOTS=1 (so CI never rewrites
tracked files): `DOCSVC_SCREENSHOTS=1 python -m pytest tests/test_screenshots.py`."""
from __future__ import annotations

import io
import os
import re
from datetime import date
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from docsvc.config import FilingSettings
from docsvc.files import filing
from docsvc.files.customers import AccountRule, create_customer, find_customer
from docsvc.files.doctypes import find_type
from docsvc.governance import disposition
from docsvc.governance.accounts import create_user
from docsvc.models import Document, Page as PageRow
from docsvc.pipeline.indexing import index_pending
from docsvc.pipeline.intake import Upload, receive
from docsvc.pipeline.jobstate import job_limits
from docsvc.pipeline.recognition import process_page
from docsvc.pipeline.splitting import split_file
from docsvc.runtime import Runtime
from tests.browser import Server, log_in, log_out
from tests.conftest import PASSWORD, ROOT
from tests.destruction_setup import ACCOUNT, file_as_due, ingest, people, text_pdf
from workers.queues import InProcessJobQueue

SHOTS = ROOT / "docs" / "screenshots"
TERM = "产权分界点"
CONTRACT = ["供用电合同\n合同编号：GD-2019-004512\n供电人：国网某市供电公司\n用电人：宏达机械制造有限公司\n"
            "户号：3000000001\n用电地址：高新区工业大道88号\n第一条 供电方式：10kV单电源供电，"
            f"{TERM}位于用电人配电房进线柜。\n第二条 用电容量：受电变压器两台，合计1260kVA。",
            "第三条 计量方式：高供高计。\n第四条 电费结算：按月抄表，按月结算。\n供电人（盖章）　　用电人（盖章）\n"
            "签订日期：2019年6月12日"]
STACK = [["低压居民用电申请表\n户名：李秀英\n户号：3000000002\n申请容量：8kW"], ["增容申请书\n户号：3000000001\n申请增容至1600kVA"],
         ["营业执照（复印件）\n统一社会信用代码：91310000MA1FL0XX1Y"]]


def shoot(page: Page, name: str) -> None:
    if os.environ.get("DOCSVC_SCREENSHOTS") == "1":
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"))


def _batch_in_progress(rt: Runtime, tmp_path: Path) -> int:
    """Three scans uploaded as one batch: the first read, the second split but its page waiting, the
    third still queued — what the batch page shows while the workers are at it. Jobs go to a queue
    nobody runs, so the served workers leave the batch as it is."""
    idle = InProcessJobQueue(1)
    uploads = [Upload(f"扫描_{n:03d}.pdf", io.BytesIO(text_pdf(tmp_path, texts))) for n, texts in enumerate(STACK, 1)]
    with rt.sessions() as s:
        files = receive(s, rt.store, idle, uploads, source="web").files
        file_ids, batch_id = [f.id for f in files], files[0].batch_id
    for file_id in file_ids[:2]:
        with rt.sessions() as s:
            split_file(s, rt.store, idle, file_id, FilingSettings(), job_limits(rt.settings))
    with rt.sessions() as s:
        first = s.scalars(select(PageRow.id).join(Document).where(Document.batch_file_id == file_ids[0])).all()
    for page_id in first:
        with rt.sessions() as s:
            process_page(s, rt.settings, rt.store, idle, page_id)
    return batch_id


def _filed_contract(rt: Runtime, tmp_path: Path) -> int:
    """The contract read from its PDF, filed under the customer as 供用电合同 (HT); returns its first page."""
    doc_id = ingest(rt, "供用电合同.pdf", text_pdf(tmp_path, CONTRACT))
    with rt.sessions() as s:
        customer = find_customer(s, ACCOUNT) or create_customer(
            s, None, AccountRule(r"^\d{10}$"), ACCOUNT, {"name": "宏达机械制造有限公司"})
        document = s.get(Document, doc_id)
        assert document is not None
        filing.file_document(s, None, document, customer, find_type(s, "HT"), FilingSettings())  # type: ignore[arg-type]
        document.title, document.contract_no = "供用电合同（高压）", "GD-2019-004512"
        s.commit()
        index_pending(s, rt.index)
        return document.pages[0].id


def _due_from_2005(rt: Runtime, tmp_path: Path, name: str, text: str, title: str) -> int:
    """A due document dated 2005 before it is filed, so its 档号 carries the year it was formed."""
    doc_id = ingest(rt, name, text_pdf(tmp_path, [text]))
    with rt.sessions() as s:
        document = s.get(Document, doc_id)
        assert document is not None
        document.doc_date = date(2005, 3, 1)
        s.commit()
    file_as_due(rt, doc_id, title=title)
    return doc_id


def test_the_main_screens_render_and_are_photographed(
        browser_page: Page, served: Server, served_runtime: Runtime, tmp_path: Path) -> None:
    rt, page, url = served_runtime, browser_page, served.url
    page.set_viewport_size({"width": 1280, "height": 800})
    with rt.sessions() as s:
        create_user(s, "zhangwei", PASSWORD, ["admin"])
        create_user(s, "liuyang", PASSWORD, ["archivist"])
    batch_id = _batch_in_progress(rt, tmp_path)
    first_page = _filed_contract(rt, tmp_path)
    due = [_due_from_2005(rt, tmp_path, f"{n}.pdf", text, title) for n, (text, title) in enumerate(
        [("居民用电申请表 户号3000000001 2005年", "居民用电申请表"), ("电费缴费凭证 2005年3月", "电费缴费凭证"),
         ("业扩报装工单 2005年", "业扩报装工单")])]
    who = people(rt)
    with rt.sessions() as s:
        dlist = disposition.create_list(s, s.merge(who.rm), due, title="2016年到期客户档案销毁清册", index=rt.index)
        list_id = dlist.id

    log_in(page, url, "zhangwei")
    expect(page.locator("#panel-admin")).to_be_visible()
    expect(page.locator("#workers .status-done").first).to_have_text("alive")
    shoot(page, "home-admin")
    page.goto(f"{url}/admin/integrity")
    expect(page.locator("#fixity")).to_be_visible()
    expect(page.locator("#backlog")).to_be_visible()
    shoot(page, "integrity")
    log_out(page)

    log_in(page, url, "liuyang")
    page.goto(f"{url}/upload")
    expect(page.locator("#drop")).to_be_visible()
    shoot(page, "upload")
    page.goto(f"{url}/batches/{batch_id}")
    expect(page.locator("#files tr[data-file]")).to_have_count(3)
    expect(page.locator("#n-done")).to_have_text("1")
    shoot(page, "batch")
    page.goto(f"{url}/inbox")
    expect(page.locator("#current")).to_be_visible()
    shoot(page, "inbox")
    page.goto(f"{url}/search?q={TERM}")
    expect(page.locator("section.hit mark").first).to_have_text(TERM)
    shoot(page, "search")
    page.goto(f"{url}/pages/{first_page}?q={TERM}")
    expect(page.locator("#boxes .hit-box").first).to_be_visible()
    expect(page.locator("#page-text")).to_contain_text(TERM)
    shoot(page, "viewer")
    page.goto(f"{url}/customers/{ACCOUNT}")
    expect(page.locator("main")).to_contain_text("宏达机械制造有限公司")
    expect(page.locator("main")).to_contain_text("J001-KH·")
    shoot(page, "customer")
    log_out(page)

    log_in(page, url, "rm")
    page.goto(f"{url}/retention/due")
    expect(page.locator("#due-list tbody tr")).to_have_count(3)
    shoot(page, "retention-due")
    page.goto(f"{url}/destruction/{list_id}")
    expect(page.locator("#items tbody tr")).to_have_count(3)
    expect(page.locator("#list-state")).to_be_visible()
    shoot(page, "destruction")
    assert re.search(r"/destruction/\d+$", page.url)
