"""The whole customer file as one PDF: contents page, page images with a searchable text layer, the
download rule (sensitive types, loans) and the audit event — as an archivist and a clerk meet them."""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import date

import pypdfium2 as pdfium
import pytest
from flask.testing import FlaskClient
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from docsvc.config import FilingSettings
from docsvc.constants import IndexState, JobState
from docsvc.formats.image_pdf import ImagePdfWriter, Word
from workers.queues import InProcessJobQueue
from docsvc.models import AuditEvent, Document, DocumentType, Page
from docsvc.runtime import Runtime
from docsvc.search.snippets import MASKED_TITLE
from docsvc.files import filing, pageops
from docsvc.governance import loans
from docsvc.governance.accounts import create_user, find_user
from docsvc.formats.sheets import FONT_PATH
from docsvc.files.customers import AccountRule, create_customer
from docsvc.pipeline.intake import Upload, receive
from docsvc.pipeline.recognition import process_page
from docsvc.pipeline.jobstate import job_limits
from docsvc.pipeline.splitting import split_file
from tests.testdata import make_text_pdf
from tests import scans
from tests.conftest import PASSWORD
from tests.factories import add_document

pytestmark = pytest.mark.integration   # pages are read with tesseract's orientation check

ACCOUNT = "3000000001"
URL = f"/customers/{ACCOUNT}/file.pdf"
API = f"/api/v1/customers/{ACCOUNT}/file.pdf"


@dataclass
class FileDocs:
    contract: int  # HT, 2 pages, text layer
    application: int  # SQ, 1 page, text layer, turned 90° in the viewer
    scan: int  # JC, 1 OCR page of a bitonal TIFF, with a second page in the bin
    id_copy: int  # ZJ (sensitive), 1 page


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _ingest(rt: Runtime, name: str, data: bytes, *, doc_type: str | None) -> int:
    """Upload, split and read one file the way the workers do; returns its document's id."""
    idle = InProcessJobQueue(1)  # never started: the pages are read here, one by one
    with rt.sessions() as s:
        batch = receive(s, rt.store, idle, [Upload(name, io.BytesIO(data))], source="web",
                        customer_account=ACCOUNT if doc_type else None, doc_type=doc_type)
        file_id = batch.files[0].id
    with rt.sessions() as s:
        split_file(s, rt.store, idle, file_id, FilingSettings(), job_limits(rt.settings))
    with rt.sessions() as s:
        document = s.scalars(select(Document).where(Document.batch_file_id == file_id)).one()
        page_ids = [p.id for p in document.pages]
        doc_id = document.id
    for page_id in page_ids:
        with rt.sessions() as s:
            process_page(s, rt.settings, rt.store, idle, page_id)
    return doc_id


def _text_pdf(tmp_path, texts: list[str]) -> bytes:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{abs(hash(tuple(texts)))}.pdf"
    make_text_pdf(texts, path)
    return path.read_bytes()


def _customer_file(rt: Runtime, tmp_path, *, with_scan: bool = True) -> FileDocs:  # type: ignore[no-untyped-def]
    with rt.sessions() as s:
        create_customer(s, None, AccountRule(r"^\d{10}$"), ACCOUNT, {"name": "宏达机械制造有限公司"})
    contract = _ingest(rt, "contract.pdf", _text_pdf(tmp_path, [
        "供用电合同\n合同编号 GD-2019-004512\n产权分界点位于10kV进线电缆终端", "计量方式 高供高计\n电价 大工业"]),
        doc_type="HT")
    application = _ingest(rt, "application.pdf", _text_pdf(tmp_path, ["用电申请书\n申请容量 800kVA"]),
                          doc_type="SQ")
    id_copy = _ingest(rt, "id.pdf", _text_pdf(tmp_path, ["居民身份证复印件 王建国"]), doc_type="ZJ")
    scan = 0
    if with_scan:
        # Arrives without a customer: binned page 2 in the inbox, then filed.
        scan = _ingest(rt, "scan.tif", scans.tiff_bytes([3, 4]), doc_type=None)
    with rt.sessions() as s:
        titles = {contract: "供用电合同（高压）", application: "用电申请书", id_copy: "法人身份证复印件"}
        for doc_id, title in titles.items():
            s.get(Document, doc_id).title = title  # type: ignore[union-attr]
        s.get(Document, contract).doc_date = date(2019, 5, 1)  # type: ignore[union-attr]
        s.commit()
        pageops.rotate(s, None, s.get(Document, application).pages[0], 90)  # type: ignore[union-attr]
        if with_scan:
            document = s.get(Document, scan)
            pageops.bin_page(s, None, document.pages[1])  # type: ignore[union-attr]
            filing.update_document(s, None, document, {"customer_account": ACCOUNT, "doc_type": "JC",  # type: ignore[arg-type]
                                                       "title": "用电检查记录"}, FilingSettings())
    return FileDocs(contract, application, scan, id_copy)


def _pdf_pages(data: bytes) -> list[tuple[str, int]]:
    """(text, rotation) of each page as a PDF reader sees it."""
    pdf = pdfium.PdfDocument(data)
    try:
        pages = []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            pages.append((textpage.get_text_range(), page.get_rotation()))
            textpage.close()
            page.close()
        return pages
    finally:
        pdf.close()


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _stored_words(rt: Runtime, page: Page) -> str:
    return "".join(w["text"] for w in json.loads(rt.store.read_bytes(page.words_key))["words"])  # type: ignore[arg-type]


def _events(rt: Runtime) -> list[AuditEvent]:
    with rt.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == "customer.download_file_pdf")
                              .order_by(AuditEvent.seq)))


def test_an_archivist_downloads_the_file_as_one_searchable_pdf_without_the_id_copy(
        client: FlaskClient, auth, embedded_runtime: Runtime, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    docs = _customer_file(rt, tmp_path)
    auth.login("archie", "archivist")
    assert 'id="download-pdf"' in client.get(f"/customers/{ACCOUNT}").get_data(as_text=True)

    r = client.get(URL)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f'filename="{ACCOUNT}-file.pdf"' in disposition
    assert "filename*=UTF-8''3000000001_%E5%AE%8F" in disposition  # 宏达…, percent-encoded
    pages = _pdf_pages(r.data)

    with rt.sessions() as s:
        by_id = {d: s.get(Document, d) for d in (docs.contract, docs.application, docs.scan, docs.id_copy)}
        # The file view's order is by type code: HT, JC, SQ (ZJ withheld).
        included = [by_id[docs.contract], by_id[docs.scan], by_id[docs.application]]
        live = [[p for p in d.pages if p.binned_at is None] for d in included]  # type: ignore[union-attr]
        assert [len(p) for p in live] == [2, 1, 1]
        assert len(pages) == 1 + 4

        contents = _squeeze(pages[0][0])
        assert "户号3000000001" in contents and "宏达机械制造有限公司" in contents
        start = 2
        for d, its_pages in zip(included, live):
            row = _squeeze(f"{d.reference_code} {d.title}")  # type: ignore[union-attr]
            assert row in contents, row
            assert _squeeze(f"{d.title} {d.doc_date or ''} {len(its_pages)} {start}") in contents  # type: ignore[union-attr]
            start += len(its_pages)
        assert "2019-05-01" in contents
        # The ID copy is listed as withheld, under the placeholder: its title is not given away.
        id_copy = by_id[docs.id_copy]
        assert _squeeze(f"{id_copy.reference_code} {MASKED_TITLE} 1 未包含") in contents  # type: ignore[union-attr]
        assert "法人身份证复印件" not in contents and "王建国" not in "".join(t for t, _ in pages)

        # Every page carries its own words as text (Chinese included), in the contents' order.
        pdf_pages = pages[1:]
        for page, (text, _) in zip([p for ps in live for p in ps], pdf_pages):
            assert _squeeze(_stored_words(rt, page)) in _squeeze(text), page.number
        assert "产权分界点位于10kV进线电缆终端" in _squeeze(pdf_pages[0][0])
        assert "GD-2019-004512" in pdf_pages[0][0]
        assert len(_squeeze(pdf_pages[2][0])) > 20  # the OCR page: its words, not nothing
        assert [rotation for _, rotation in pages] == [0, 0, 0, 0, 90]  # the application as turned in the viewer

    [event] = _events(rt)
    detail = json.loads(event.detail)
    assert (event.actor_name, event.outcome, event.object_id, event.loan_id) == ("archie", "ok", ACCOUNT, None)
    assert detail["document_ids"] == [docs.contract, docs.scan, docs.application]
    assert detail["withheld"] == [docs.id_copy] and detail["pages"] == 5


def test_the_sensitive_grant_brings_the_id_copy_in(client: FlaskClient, users, embedded_runtime: Runtime,
                                                   tmp_path) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    docs = _customer_file(rt, tmp_path, with_scan=False)
    with rt.sessions() as s:
        create_user(s, "head", PASSWORD, ["archivist"], grants=["sensitive"])
    r = client.get(API, headers=_bearer(users.token("head")))
    assert r.status_code == 200
    pages = _pdf_pages(r.data)
    assert len(pages) == 1 + 2 + 1 + 1
    contents = _squeeze(pages[0][0])
    assert "法人身份证复印件" in contents and "未包含" not in contents
    assert "居民身份证复印件王建国" in _squeeze(pages[-1][0])
    assert json.loads(_events(rt)[0].detail)["document_ids"] == [docs.contract, docs.application, docs.id_copy]


def test_a_clerk_needs_an_approved_loan_allowing_download(client: FlaskClient, users, embedded_runtime: Runtime,
                                                          tmp_path) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    docs = _customer_file(rt, tmp_path, with_scan=False)
    clerk = users.token("clerk", "viewer")
    with rt.sessions() as s:  # the file holds an ID copy: its loans need an approver granted `sensitive`
        create_user(s, "approver", PASSWORD, ["approver"], grants=["sensitive"])

    refused = client.get(API, headers=_bearer(clerk))
    assert refused.status_code == 403 and "error" in refused.get_json()

    def loan(download: bool) -> int:
        with rt.sessions() as s:
            requested = loans.request_loan(s, find_user(s, "clerk"), loans.LoanRequest(  # type: ignore[arg-type]
                purpose="电费争议核查", days=7, customer_account=ACCOUNT, want_download=download))
            return loans.decide(s, find_user(s, "approver"), requested.id, True).id  # type: ignore[arg-type]

    reading_only = loan(download=False)
    assert client.get(API, headers=_bearer(clerk)).status_code == 403
    with rt.sessions() as s:
        loans.return_loan(s, find_user(s, "clerk"), reading_only)  # type: ignore[arg-type]
    allowed = loan(download=True)
    r = client.get(API, headers=_bearer(clerk))
    assert r.status_code == 200
    assert len(_pdf_pages(r.data)) == 1 + 2 + 1  # the ID copy needs the sensitive grant, loan or not

    events = _events(rt)
    assert [(e.actor_name, e.outcome, e.loan_id) for e in events] == [
        ("clerk", "denied", None), ("clerk", "denied", None), ("clerk", "ok", allowed)]
    assert json.loads(events[0].detail)["withheld"] == [docs.contract, docs.application, docs.id_copy]
    assert json.loads(events[-1].detail)["document_ids"] == [docs.contract, docs.application]
    assert json.loads(events[-1].detail)["loan_ids"] == [allowed]


def test_a_long_file_has_contents_over_several_pages_and_pages_not_yet_read_keep_their_place(
        client: FlaskClient, users, embedded_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    with rt.sessions() as s:
        customer = create_customer(s, None, AccountRule(r"^\d{10}$"), ACCOUNT, {"name": "绿源食品加工厂"})
        contract = s.get(DocumentType, "HT")
        for n in range(40):  # OCR still queued: no page image yet
            d = add_document(s, sha256=f"{n:064d}", original_key=f"originals/{n}", title=f"补充协议 {n + 1:02d}",
                             texts=[None], page_status=JobState.QUEUED, index_state=IndexState.NONE)
            filing.file_document(s, None, d, customer, contract, FilingSettings())  # type: ignore[arg-type]
        s.commit()
        last = s.scalars(select(Document).order_by(Document.reference_code.desc())).first()
        assert last is not None
        last_code = last.reference_code
    r = client.get(API, headers=_bearer(users.token("archie", "archivist")))
    assert r.status_code == 200
    pages = _pdf_pages(r.data)
    assert len(pages) == 2 + 40  # two contents pages, then one page per document
    assert "目录第2/2页" in _squeeze(pages[1][0])
    assert _squeeze(f"{last_code} 补充协议 40 1 42") in _squeeze(pages[1][0])
    assert _squeeze(f"{last_code} · 第 1 页") in _squeeze(pages[41][0])
    assert "此页尚无页面图像（排队中）" in pages[41][0]


CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def test_the_pdf_is_in_the_readers_language_only(client: FlaskClient, users, embedded_runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    """Chinese by default, English for a reader asking for it: headings, columns, notes and the withheld
    mark; only the file's own data (names, titles) stays as it was written."""
    rt = embedded_runtime
    with rt.sessions() as s:
        customer = create_customer(s, None, AccountRule(r"^\d{10}$"), ACCOUNT, {"name": "绿源食品加工厂"})
        for n, code in enumerate(("HT", "ZJ")):  # the ID copy is withheld: the archivist lacks `sensitive`
            d = add_document(s, sha256=f"{n:064d}", original_key=f"originals/{n}", title=f"补充协议 {n + 1:02d}",
                             texts=[None], page_status=JobState.QUEUED, index_state=IndexState.NONE)
            filing.file_document(s, None, d, customer, s.get(DocumentType, code), FilingSettings())  # type: ignore[arg-type]
        s.commit()
        type_names = [s.get(DocumentType, code).name_en for code in ("HT", "ZJ")]  # type: ignore[union-attr]
    token = users.token("archie", "archivist")

    chinese = _pdf_pages(client.get(API, headers=_bearer(token)).data)
    contents, note = _squeeze(chinese[0][0]), _squeeze(chinese[1][0])
    for heading in ("客户档案整卷目录", "户号3000000001户名绿源食品加工厂", "1份文档，1页；1份未包含",
                    "序号档号题名日期页数起始页", "未包含：您无权下载的文档", "目录第1/1页"):
        assert heading in contents, heading
    assert "此页尚无页面图像（排队中）" in note
    for english in ("Customer", "contents", "Account", "xported", "documents", "ithheld", "Title", "Page"):
        assert english not in contents + note, english

    english = _pdf_pages(client.get(API, headers={**_bearer(token), "Accept-Language": "en"}).data)
    contents, note = english[0][0], english[1][0]
    for heading in ("Customer file contents", "Account 3000000001", "Customer 绿源食品加工厂",
                    "Documents: 1, pages: 1; withheld: 1", "No. Reference code Title Date Pages Starts on page",
                    "Withheld: documents you may not download", "Contents page 1 of 1", *type_names):
        assert _squeeze(heading) in _squeeze(contents), heading
    assert _squeeze("This page has no page image yet (Queued)") in _squeeze(note)
    data = ("绿源食品加工厂", "补充协议", str(MASKED_TITLE))
    assert not CJK.search(re.sub("|".join(map(re.escape, data)), "", contents)), contents


def test_page_images_go_in_unchanged_and_rare_characters_survive_the_text_layer() -> None:
    font = ImageFont.truetype(FONT_PATH, 40)
    sheet = Image.new("L", (600, 300), 255)
    ImageDraw.Draw(sheet).text((40, 40), "产权分界点 𠀀", font=font, fill=0)
    bitonal, grey = sheet.convert("1"), sheet
    png, jpeg = io.BytesIO(), io.BytesIO()
    bitonal.save(png, "PNG")
    grey.save(jpeg, "JPEG", quality=90)
    out = io.BytesIO()
    writer = ImagePdfWriter(out, title="测试")
    writer.add_page(png.getvalue(), dpi=72, words=[Word("产权分界点", (40, 40, 240, 80)), Word("𠀀", (260, 40, 300, 80))])
    writer.add_page(jpeg.getvalue(), dpi=72)
    writer.close()
    pdf = pdfium.PdfDocument(out.getvalue())
    try:
        assert pdf[0].get_size() == (600, 300)  # 72 dpi: a pixel a point
        rendered = pdf[0].render(scale=1).to_pil().convert("1")
        assert rendered.tobytes() == bitonal.tobytes()  # the PNG's pixels, not a re-encoding
        assert pdf[1].render(scale=1).to_pil().convert("L").tobytes() == Image.open(jpeg).convert("L").tobytes()
        assert _squeeze(pdf[0].get_textpage().get_text_range()) == "产权分界点𠀀"
    finally:
        pdf.close()
