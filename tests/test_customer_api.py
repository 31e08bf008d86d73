"""The customer-file API and pages, as a client and an operator use them."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from docsvc.constants import IndexState, JobState
from docsvc.models import Document, DocumentType, Page
from tests.pdftext import page_texts

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _inbox_document(rt, text: str = "户号：3000000001 用电申请书") -> int:  # type: ignore[no-untyped-def]
    with rt.sessions() as s:
        d = Document(sha256="a" * 64, original_key="originals/a", media_type="image/tiff", title="scan.tif")
        s.add(d)
        s.flush()
        s.add_all([Page(document_id=d.id, number=1, source_index=0, text=text, status=JobState.DONE,
                        index_state=IndexState.DONE),
                   Page(document_id=d.id, number=2, source_index=1, text="第二页", status=JobState.DONE)])
        d.page_count = 2
        s.commit()
        return d.id


def test_customer_crud_import_completeness_and_filing_through_the_api(client, users, embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    archivist = _h(users.token("arch", "archivist"))
    viewer = _h(users.token("clerk", "viewer"))
    r = client.post("/api/v1/customers", json={"account": "3000000001", "name": "宏达机械", "stage": "contract",
                                               "region": "城东", "grade": "一级"}, headers=archivist)
    assert r.status_code == 201, r.get_json()
    assert client.post("/api/v1/customers", json={"account": "3000000001", "name": "x"}, headers=archivist).status_code == 409
    assert client.post("/api/v1/customers", json={"account": "12", "name": "x"}, headers=archivist).status_code == 400
    assert client.post("/api/v1/customers", json={"account": "3000000009", "name": "x"}, headers=viewer).status_code == 403
    r = client.patch("/api/v1/customers/3000000001", json={"location": "3号库 A-12"}, headers=archivist)
    assert r.get_json()["location"] == "3号库 A-12"
    csv = "户号,户名\n3000000002,绿源食品\n3000000003,东方水泥\n".encode("gbk")
    r = client.post("/api/v1/customers/import", data={"file": (io.BytesIO(csv), "list.csv"), "dry_run": "true"},
                    headers=archivist)
    assert r.get_json()["created"] == 2 and not r.get_json()["applied"]
    r = client.post("/api/v1/customers/import", data={"file": (io.BytesIO(csv), "list.csv")}, headers=archivist)
    assert r.get_json()["applied"] and r.get_json()["encoding"] == "gbk"
    found = client.get("/api/v1/customers?q=绿源", headers=viewer).get_json()
    assert [c["account"] for c in found["customers"]] == ["3000000002"]

    completeness = client.get("/api/v1/customers/3000000001/completeness", headers=viewer).get_json()
    assert not completeness["complete"] and "HT" in completeness["missing"]

    doc_id = _inbox_document(embedded_runtime)
    r = client.get(f"/api/v1/documents/{doc_id}/suggestions", headers=archivist).get_json()
    assert r["suggestions"][0]["account"] == "3000000001"
    r = client.patch(f"/api/v1/documents/{doc_id}", json={"customer_account": "3000000001", "doc_type": "HT",
                                                          "title": "供用电合同", "document_date": "2019-05-01",
                                                          "contract_number": "GD-2019-004512"}, headers=archivist)
    body = r.get_json()
    assert r.status_code == 200, body
    assert body["archive_code"] == "J001-KH·2019-Y-YX-0001" and body["contract_number"] == "GD-2019-004512"
    assert body["location"] == "3号库 A-12"
    assert client.get(f"/api/v1/documents/{doc_id}", headers=viewer).get_json()["archive_code"] == body["archive_code"]
    # Only the records manager corrects a 档号, and only with a reason.
    fix = {"reference_code": "J001-KH·2019-Y-YX-0007", "reason": "与纸质装订号一致"}
    assert client.post(f"/api/v1/documents/{doc_id}/reference-code", json=fix, headers=archivist).status_code == 403
    manager = _h(users.token("boss", "records_manager"))
    assert client.post(f"/api/v1/documents/{doc_id}/reference-code", json={**fix, "reason": ""},
                       headers=manager).status_code == 400
    assert client.post(f"/api/v1/documents/{doc_id}/reference-code", json=fix, headers=manager).get_json()[
        "archive_code"] == "J001-KH·2019-Y-YX-0007"

    report = client.get("/api/v1/completeness?region=城东", headers=viewer).get_json()
    assert [f["account"] for f in report["files"]] == ["3000000001"]
    xlsx = client.get("/api/v1/completeness?format=xlsx", headers=viewer)
    rows = list(load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True))
    assert rows[1][0] == "3000000001"


def test_page_operations_through_the_api(client, users, embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    operator = _h(users.token("op", "operator"))
    doc_id = _inbox_document(embedded_runtime)
    pages = client.get(f"/api/v1/documents/{doc_id}", headers=operator).get_json()["pages"]
    r = client.post(f"/api/v1/pages/{pages[1]['id']}/rotate", json={"degrees": 90}, headers=operator)
    assert r.get_json()["view_rotation"] == 90
    r = client.post(f"/api/v1/documents/{doc_id}/split", json={"at_page": 2}, headers=operator).get_json()
    new_id = r["new_document"]["id"]
    assert r["page_count"] == 1 and r["new_document"]["page_count"] == 1
    r = client.post(f"/api/v1/documents/{doc_id}/merge", json={"source_document_id": new_id}, headers=operator)
    assert r.get_json()["page_count"] == 2
    r = client.post(f"/api/v1/pages/{pages[0]['id']}/delete", headers=operator).get_json()
    assert r["binned"] and client.get(f"/api/v1/documents/{doc_id}", headers=operator).get_json()["page_count"] == 1
    client.post(f"/api/v1/pages/{pages[0]['id']}/restore", headers=operator)
    assert [d["id"] for d in client.get("/api/v1/inbox", headers=operator).get_json()["documents"]] == [doc_id]


@pytest.mark.integration  # the PDF's text layer is set in tesseract's glyphless font
def test_cover_sheets_are_printed_in_the_readers_language(client, users, auth, embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    operator = _h(users.token("op", "operator"))
    client.post("/api/v1/customers", json={"account": "3000000001", "name": "宏达机械"},
                headers=_h(users.token("arch", "archivist")))
    url = "/api/v1/cover-sheets?account=3000000001&type=HT&account=3000000001&type=JC"
    pdf = client.get(url, headers=operator)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    chinese = page_texts(pdf.data)
    assert len(chinese) == 2
    for text in ("档案封面", "户号 3000000001", "类型 HT", "供用电合同及协议", "户名 宏达机械", "扫描时放在该文档第一页之前"):
        assert text in chinese[0], text
    assert "类型 JC" in chinese[1]
    assert not re.search("Cover|Account|Type|Customer|Place", " ".join(chinese))
    assert client.get("/api/v1/cover-sheets?account=3999999999&type=HT", headers=operator).status_code == 404

    with embedded_runtime.sessions() as s:
        type_name = s.get(DocumentType, "HT").name_en
    english = page_texts(client.get(url, headers={**operator, "Accept-Language": "en"}).data)
    for text in ("Cover sheet", "Account No. 3000000001", "Type HT", type_name, "Customer 宏达机械",
                 "Place before the first page of the document when scanning"):
        assert text in english[0], text
    assert not CJK.search(" ".join(english).replace("宏达机械", "")), english

    auth.login("clerk", "operator")  # the page's link, for someone who chose English with the switch
    client.set_cookie("lang", "en")
    page = client.get("/cover-sheets.pdf?account=3000000001&type=HT")
    assert page.status_code == 200 and "Cover sheet" in page_texts(page.data)[0]


def test_an_operator_files_an_inbox_document_in_the_browser_form(client, auth, embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    auth.login("archie", "archivist")
    token = auth.csrf("/customers/new")
    r = client.post("/customers/new", data={"csrf_token": token, "account": "3000000001", "name": "宏达机械"})
    assert r.status_code == 302
    doc_id = _inbox_document(embedded_runtime)
    page = client.get("/inbox").get_data(as_text=True)
    assert "3000000001" in page and "宏达机械" in page  # the suggestion
    r = client.post(f"/inbox/{doc_id}/file", data={"csrf_token": auth.csrf("/inbox"), "customer_account": "3000000001",
                                                   "doc_type": "SQ"})
    assert r.status_code == 302
    shown = client.get("/customers/3000000001").get_data(as_text=True)
    assert "J001-KH·" in shown and "SQ" in shown


def test_the_customer_file_downloads_as_a_zip_of_its_originals(client, auth, embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    import zipfile

    from docsvc.config import FilingSettings
    from workers.queues import InProcessJobQueue
    from docsvc.files.customers import AccountRule, create_customer
    from docsvc.pipeline.intake import Upload, receive
    from docsvc.pipeline.jobstate import job_limits
    from docsvc.pipeline.splitting import split_file
    from tests import filing_stack

    rt = embedded_runtime
    data = filing_stack.tiff([filing_stack.cover("3000000001", "HT"), filing_stack.content(1)])
    with rt.sessions() as s:
        create_customer(s, None, AccountRule(r"^\d{10}$"), "3000000001", {"name": "宏达机械"})
        batch = receive(s, rt.store, InProcessJobQueue(1), [Upload("stack.tif", io.BytesIO(data))], source="web")
        file_id = batch.files[0].id
    idle = InProcessJobQueue(1)  # never started: this test needs the filing, not the OCR
    with rt.sessions() as s:
        split_file(s, rt.store, idle, file_id, FilingSettings(), job_limits(rt.settings))
    auth.login("archie", "archivist")
    r = client.get("/customers/3000000001/originals.zip")
    assert r.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(r.data)).namelist()
    assert len(names) == 1 and names[0].startswith("HT_J001-KH_") and names[0].endswith(".tif")
    assert zipfile.ZipFile(io.BytesIO(r.data)).read(names[0]) == data
