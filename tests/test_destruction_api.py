"""A destruction list through the API and the web pages, each step by its own account; the stub
afterwards, as the archivists meet it."""
from __future__ import annotations

import pytest

import io
import time
from pathlib import Path

import pdfplumber
from flask.testing import FlaskClient

from docsvc.runtime import Runtime
from tests.destruction_setup import due_document, text_pdf
from tests.pdftext import pdf_text

pytestmark = pytest.mark.integration   # executes erasure: register PDFs read tesseract's font, objects, index

SECRET = "窃电嫌疑人王五住址松柏路三号"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_list_goes_from_due_items_to_an_executed_register_through_the_api(
        client: FlaskClient, users, embedded_runtime: Runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    doomed = due_document(rt, tmp_path, "a.pdf", [f"用电检查单\n{SECRET}"])
    kept = due_document(rt, tmp_path, "b.pdf", ["用电检查单 保留件"])
    rm, archivist, leader = users.token("rm", "records_manager"), users.token("arch", "archivist"), users.token(
        "leader", "approver")
    sup1, sup2, auditor = users.token("sup1", "supervisor"), users.token("sup2", "supervisor"), users.token(
        "aud", "auditor")
    base = "/api/v1/destruction-lists"
    assert client.post(base, json={"document_ids": [doomed]}, headers=_bearer(leader)).status_code == 403
    created = client.post(base, json={"document_ids": [doomed, kept], "title": "2026 年度销毁清册"},
                          headers=_bearer(rm))
    assert created.status_code == 201, created.get_json()
    list_id = created.get_json()["id"]
    url = f"{base}/{list_id}"
    bad = client.post(f"{url}/appraisal", json={"decisions": [{"document_id": kept, "decision": "keep"}]},
                      headers=_bearer(archivist))
    assert bad.status_code == 400 and "理由" in bad.get_json()["error"]
    appraised = client.post(f"{url}/appraisal", headers=_bearer(archivist), json={"decisions": [
        {"document_id": doomed, "decision": "destroy"},
        {"document_id": kept, "decision": "keep", "reason": "涉及窃电诉讼，永久保存"}]})
    assert appraised.status_code == 200 and appraised.get_json()["state"] == "appraisal"
    assert client.post(f"{url}/submit", headers=_bearer(rm)).get_json()["state"] == "submitted"
    early = client.post(f"{url}/supervise", headers=_bearer(sup1))
    assert early.status_code == 409 and "「已提交审批」" in early.get_json()["error"] and "已批准" in early.get_json()["error"]
    early = client.post(f"{url}/supervise", headers=_bearer(sup1) | {"Accept-Language": "en"})
    assert early.status_code == 409 and "“Submitted for approval”" in early.get_json()["error"]
    assert client.post(f"{url}/approve", headers=_bearer(leader)).get_json()["state"] == "approved"
    assert client.post(f"{url}/supervise", headers=_bearer(sup1)).get_json()["supervisors"] == ["sup1"]
    twice = client.post(f"{url}/supervise", headers=_bearer(sup1))
    assert twice.status_code == 403 and "另一人" in twice.get_json()["error"]
    assert client.post(f"{url}/supervise", headers=_bearer(sup2)).get_json()["state"] == "supervised"
    started = client.post(f"{url}/execute", headers=_bearer(rm))
    assert started.status_code == 202
    deadline = time.monotonic() + 120
    while (body := client.get(url, headers=_bearer(auditor)).get_json())["state"] != "executed":
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    results = {i["document_id"]: (i["decision"], i["result"]) for i in body["items"]}
    assert results == {doomed: ("destroy", "destroyed"), kept: ("keep", None)}
    assert body["register"]["pdf_sha256"] and body["progress"] == {"total": 1, "done": 1, "destroyed": 1, "held": 0, "failed": 0}

    pdf = client.get(f"{url}/register.pdf", headers=_bearer(auditor))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    with pdfplumber.open(io.BytesIO(pdf.data)) as document:
        text = "".join(p.extract_text() or "" for p in document.pages).replace(" ", "").replace("\n", "")
    assert "永久保存：涉及窃电诉讼，永久保存" in text and "已销毁" in text
    csv = client.get(f"{url}/register.csv", headers=_bearer(auditor))
    assert csv.status_code == 200 and "2026 年度销毁清册" in csv.data.decode("utf-8-sig")
    assert client.get(f"{url}/register.csv", headers=_bearer(archivist)).status_code == 403

    # The stub: found by its 档号 in the catalogue, gone from search, shown as destroyed.
    stub = client.get(f"/api/v1/documents/{doomed}", headers=_bearer(rm)).get_json()
    assert stub["title"] == "已销毁 / destroyed" and stub["pages"] == []
    assert stub["destruction_list_id"] == list_id and stub["destroyed_at"] and stub["archive_code"]
    search = client.get("/api/v1/search", query_string={"q": SECRET[:6]}, headers=_bearer(rm)).get_json()
    assert search["total"] == 0
    # The same scan uploaded again: refused, naming the list, unless a reason is given.
    data = text_pdf(tmp_path, [f"用电检查单\n{SECRET}"])
    operator = users.token("op", "operator")
    again = client.post("/api/v1/batches", headers=_bearer(operator),
                        data={"files": (io.BytesIO(data), "again.pdf")}, content_type="multipart/form-data")
    assert again.status_code == 409 and f"销毁清册 #{list_id}" in again.get_json()["error"]
    kept_again = client.post("/api/v1/batches", headers=_bearer(operator), content_type="multipart/form-data",
                             data={"files": (io.BytesIO(data), "again.pdf"), "reason_for_destroyed": "法院调取"})
    assert kept_again.status_code == 202
    openapi = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert f"{base}/{{list_id}}/supervise" in openapi and f"{base}/{{list_id}}/register.pdf" in openapi


def test_the_records_manager_compiles_and_the_stub_shows_as_destroyed_in_the_browser(
        client: FlaskClient, auth, embedded_runtime: Runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from docsvc.models import Document
    from tests.destruction_setup import people, supervised
    from workers.jobs import execute_destruction

    rt = embedded_runtime
    doomed = due_document(rt, tmp_path, "c.pdf", [f"用电检查单\n{SECRET}"])
    auth.login("rm2", "records_manager")
    page = client.get("/destruction/").get_data(as_text=True)
    assert "到期待鉴定的文档" in page and f'value="{doomed}"' in page
    token = auth.csrf("/destruction/")
    created = client.post("/destruction/", data={"document_id": [str(doomed)], "title": "网页编制", "csrf_token": token})
    assert created.status_code == 302
    shown = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "已编制销毁清册" in shown and "网页编制" in shown
    # Cancel that one; a list taken through every step by the others is executed.
    list_id = int(created.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    client.post(f"/destruction/{list_id}/cancel", data={"reason": "重新编制", "csrf_token": token})
    executed = supervised(rt, people(rt), [doomed])
    execute_destruction(executed)
    # The list's page and the index are Chinese by default and English when asked.
    chinese = {f"/destruction/{executed}": [f"<h1>销毁清册 #{executed}", ">已执行<", "登记簿：", ">已销毁<", "执行结果"],
               "/destruction/": ["<h1>销毁清册</h1>", ">已执行<", ">已取消<", "到期 → 鉴定"]}
    english = {f"/destruction/{executed}": [f"<h1>Destruction list #{executed}", ">Executed<", "Register:",
                                             ">Destroyed<", "Execution result"],
               "/destruction/": ["<h1>Destruction lists</h1>", ">Executed<", ">Cancelled<", "Due → appraisal"]}
    for path in chinese:
        page = client.get(path).get_data(as_text=True)
        assert all(text in page for text in chinese[path]) and not any(text in page for text in english[path]), path
        page = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert all(text in page for text in english[path]) and not any(text in page for text in chinese[path]), path
    with rt.sessions() as s:
        code = s.get(Document, doomed).reference_code  # type: ignore[union-attr]
    document = client.get(f"/documents/{doomed}").get_data(as_text=True)
    assert 'id="destroyed"' in document and "已销毁" in document
    found = client.get("/search", query_string={"q": code}).get_data(as_text=True)
    assert 'id="destroyed-stub"' in found and code in found

    # An operator drops the destroyed scan in again through the upload page.
    auth.login("op2", "operator")
    data = text_pdf(tmp_path, [f"用电检查单\n{SECRET}"])
    refused = client.post("/upload", data={"files": (io.BytesIO(data), "again.pdf"), "csrf_token": auth.csrf()},
                          content_type="multipart/form-data")
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/upload")
    shown = client.get("/upload").get_data(as_text=True)
    assert f"销毁清册 #{executed}" in shown and "重新保存已销毁内容的理由" in shown


def test_the_register_is_in_the_language_of_whoever_set_the_execution_going(
        client: FlaskClient, users, embedded_runtime: Runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Chinese by default; English when the records manager executing the list reads English, although the
    job that writes it runs later and elsewhere. Every later reader gets that same register, and it can
    be generated again from the list byte for byte."""
    import hashlib
    import re

    from docsvc.governance import register
    from docsvc.models import DestructionList
    from tests.destruction_setup import people, supervised

    rt = embedded_runtime
    who = people(rt)
    rm, auditor = users.token("rm"), users.token("aud", "auditor")

    def executed(name: str, language: dict[str, str]) -> tuple[int, str, str]:
        doomed = due_document(rt, tmp_path, name, [f"用电检查单 {name}"], title=f"用电检查单 {name}")
        list_id = supervised(rt, who, [doomed], start=False)
        url = f"/api/v1/destruction-lists/{list_id}"
        assert client.post(f"{url}/execute", headers={**_bearer(rm), **language}).status_code == 202
        deadline = time.monotonic() + 120
        while client.get(url, headers=_bearer(auditor)).get_json()["state"] != "executed":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        pdf = client.get(f"{url}/register.pdf", headers=_bearer(auditor)).data
        table = client.get(f"{url}/register.csv", headers=_bearer(auditor)).data.decode("utf-8-sig")
        return list_id, pdf_text(pdf), table

    _, chinese, table = executed("a.pdf", {})
    for text in ("档案销毁清册", "全宗号", "数量", "编制人", "审批日期", "监销人", "销毁日期", "序号", "档号",
                 "应保管期限", "已保管期限", "10年", "已销毁", "销毁清册#", "页"):
        assert text in chinese.replace(" ", ""), text
    assert "序号,档号,题名,年度,应保管期限,已保管期限,页数,备注" in table
    assert not re.search("Destruction|Fonds|Compiled|Reference|Remarks|years|Destroyed", chinese + table)

    list_id, english, table = executed("b.pdf", {"Accept-Language": "en"})
    for text in ("Destruction register", "Fonds J001", "Quantity", "Items destroyed: 1 (pages: 1); items listed: 1",
                 "Compiled by", "Approved on", "Supervised by sup1, sup2", "Destroyed on", "No.", "Reference code",
                 "Required retention", "Kept for", "Remarks", "10 years", "Destroyed", "page 1 of 1"):
        assert text in english, text
    assert "No.,Reference code,Title,Year,Required retention,Kept for,Pages,Remarks" in table
    with rt.sessions() as s:
        dlist = s.get(DestructionList, list_id)
        assert dlist is not None and dlist.register_language == "en"
        data = [dlist.title, dlist.appraisal_report or "", dlist.method or "", *(i.title or "" for i in dlist.items)]
        # Outside any request (the command line, a later check): the same bytes as recorded.
        again = register.render(dlist, rt.settings.filing.fonds, rt.settings.timezone)
        assert [hashlib.sha256(b).hexdigest() for b in again] == [dlist.register_pdf_sha256, dlist.register_csv_sha256]
    cjk = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
    squeezed = re.sub(r"\s", "", english)
    for value in data:  # what people wrote into the list stays as written
        squeezed = squeezed.replace(re.sub(r"\s", "", value), "")
    assert not cjk.search(squeezed), english
