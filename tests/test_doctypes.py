"""The document-type table as the administrator edits it, and as the one source of which types are sensitive."""
from __future__ import annotations

import io
import json

from flask.testing import FlaskClient
from sqlalchemy import select

from docsvc.constants import IndexState, page_image_key
from docsvc.jobs import enqueue_index
from docsvc.models import AuditEvent, Document, DocumentType, Page
from docsvc.runtime import Runtime
from docsvc.governance.accounts import create_user, issue_token
from docsvc.files.doctypes import update_type
from docsvc.pipeline.reindex import reindex_documents
from tests.conftest import PASSWORD, AuthActions
from tests.factories import add_document

ACCOUNT = "3300000042"
METER_TEXT = "电能表检定证书 证书编号 JD-778899 检定结论合格"
METER_TYPE = {"code": "JD", "name_zh": "电能表检定证书", "name_en": "Meter test certificate", "retention": "D10"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token(rt: Runtime, name: str, role: str, *grants: str) -> str:
    with rt.sessions() as session:
        return issue_token(session, create_user(session, name, PASSWORD, [role], grants=list(grants)), "test")


def _document(rt: Runtime, doc_type: str, text: str = METER_TEXT, title: str = "电能表检定证书-王建国") -> tuple[int, int]:
    """A filed one-page document with its page image stored, indexed by the index worker: (document, page)."""
    stored, _ = rt.store.put_original(io.BytesIO(f"%PDF {doc_type} {title}".encode()))
    with rt.sessions() as session:
        doc = add_document(session, sha256=stored.sha256, original_key=stored.key, media_type="application/pdf",
                           title=title, customer_account=ACCOUNT, doc_type=doc_type, texts=[text],
                           index_state=IndexState.PENDING)
        page = doc.pages[0]
        page.image_key = page_image_key(page.id, "png")
        rt.store.put_bytes(page.image_key, b"\x89PNG page")
        session.commit()
        reindex_documents(session, rt.jobs, [doc.id])
        ids = doc.id, page.id
    assert rt.jobs.wait_idle(60)
    return ids


def _search(client: FlaskClient, token: str, q: str) -> dict:
    response = client.get("/api/v1/search", query_string={"q": q}, headers=_bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _events(rt: Runtime, action: str) -> list[AuditEvent]:
    with rt.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def _type(rt: Runtime, code: str) -> DocumentType:
    with rt.sessions() as session:
        found = session.get(DocumentType, code)
        assert found is not None
        return found


def test_an_administrator_adds_edits_and_deactivates_a_type_in_the_web_form(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    auth.login("admin", "admin")
    listing = client.get("/document-types").get_data(as_text=True)
    assert "身份证明" in listing and 'id="nav-doctypes"' in listing
    token = auth.csrf("/document-types/new")
    created = client.post("/document-types/new", data={
        "csrf_token": token, "code": "jd", "name_zh": "电能表检定证书", "name_en": "Meter test certificate",
        "retention": "D10", "required_from": "acceptance", "position": "", "active": "1"})
    assert created.status_code == 302
    assert "电能表检定证书" in client.get("/document-types").get_data(as_text=True)
    # a type goes by its name in the reader's language: Chinese by default, English when asked
    chinese = client.get("/cover-sheets").get_data(as_text=True)
    english = client.get("/cover-sheets", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "电能表检定证书" in chinese and "打印封面" in chinese and "Meter test certificate" not in chinese
    assert "Meter test certificate" in english and "Cover sheets" in english and "电能表检定证书" not in english
    meter = _type(rt, "JD")
    assert (meter.retention, meter.required_from, meter.sensitive, meter.active) == ("D10", "acceptance", False, True)
    assert meter.position == 10  # after the nine seeded types

    form = client.get("/document-types/JD/edit").get_data(as_text=True)
    assert 'value="电能表检定证书"' in form
    saved = client.post("/document-types/JD/edit", data={
        "csrf_token": token, "name_zh": "电能表检定证书", "name_en": "Meter test certificate", "retention": "D30",
        "required_from": "acceptance", "position": "3", "active": "1"})
    assert saved.status_code == 302
    assert "已保存文档类型 JD" in client.get("/document-types").get_data(as_text=True)
    assert (_type(rt, "JD").retention, _type(rt, "JD").position) == ("D30", 3)

    # Deactivated: gone from the pickers, while a document filed under it stays as it was.
    doc_id, _ = _document(rt, "JD")
    client.post("/document-types/JD/edit", data={
        "csrf_token": token, "name_zh": "电能表检定证书", "name_en": "Meter test certificate", "retention": "D30",
        "required_from": "acceptance", "position": "3"})
    assert _type(rt, "JD").active is False
    assert "<code>JD</code>" not in client.get("/cover-sheets").get_data(as_text=True)
    assert "<code>HT</code>" in client.get("/cover-sheets").get_data(as_text=True)
    shown = client.get(f"/documents/{doc_id}")
    assert shown.status_code == 200 and "电能表检定证书-王建国" in shown.get_data(as_text=True)
    with rt.sessions() as session:
        assert session.get(Document, doc_id).doc_type == "JD"  # type: ignore[union-attr]

    created_event, *updates = _events(rt, "doctype.create") + _events(rt, "doctype.update")
    assert created_event.actor_name == "admin" and created_event.object_id == "JD"
    assert json.loads(created_event.detail)["changes"]["retention"] == {"old": None, "new": "D10"}
    retention_change = json.loads(updates[0].detail)
    assert retention_change["changes"] == {"retention": {"old": "D10", "new": "D30"}, "position": {"old": 10, "new": 3}}
    assert retention_change["retention_rule_change"] and not retention_change["access_change"]
    assert json.loads(updates[1].detail)["changes"] == {"active": {"old": True, "new": False}}


def test_form_mistakes_are_explained_and_nothing_is_saved(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    auth.login("arch", "archivist")
    token = auth.csrf("/document-types/new")
    base = {"csrf_token": token, "code": "JD", "name_zh": "电能表检定证书", "retention": "D10", "active": "1"}
    cases = [
        ({"code": "检定"}, 400, "类型代码“检定”无效：请用 1–20 个英文字母或数字"),
        ({"code": "HT"}, 409, "类型代码“HT”已存在，请在列表中编辑它"),
        ({"name_zh": "  "}, 400, "新类型需要填写：中文名称"),
        ({"position": "第一"}, 400, "排序“第一”无效：请填写 0 到 9999 之间的整数"),
        ({"retention": "D5"}, 400, "保管期限“D5”无效，应为 Y（永久）、D30（30 年）或 D10（10 年）"),
        ({"required_from": "someday"}, 400, "业务环节“someday”无效"),
    ]
    for change, status, message in cases:
        response = client.post("/document-types/new", data=base | change)
        page = response.get_data(as_text=True)
        assert response.status_code == status, change
        assert message in page and 'id="form-error"' in page, change
    edit = client.post("/document-types/HT/edit", data={"csrf_token": token, "name_zh": "", "retention": "Y",
                                                         "active": "1"})
    assert edit.status_code == 400 and "请填写中文名称" in edit.get_data(as_text=True)
    with embedded_runtime.sessions() as session:
        assert session.get(DocumentType, "JD") is None
        assert session.get(DocumentType, "HT").name_zh == "供用电合同及协议"  # type: ignore[union-attr]
    assert _events(embedded_runtime, "doctype.create") == [] and _events(embedded_runtime, "doctype.update") == []


def test_the_api_creates_and_changes_types_and_the_audit_keeps_old_and_new_values(
        client: FlaskClient, embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    manager = _bearer(_token(rt, "boss", "records_manager"))
    created = client.post("/api/v1/document-types", json=METER_TYPE | {"code": "jd"}, headers=manager)
    assert created.status_code == 201, created.get_json()
    assert created.get_json() == {"code": "JD", "name_zh": "电能表检定证书", "name_en": "Meter test certificate",
                                  "retention": "D10", "sensitive": False, "required_from": None, "position": 10,
                                  "active": True}
    assert client.post("/api/v1/document-types", json=METER_TYPE, headers=manager).status_code == 409
    changed = client.patch("/api/v1/document-types/JD", json={"retention": "Y", "required_from": "contract"},
                           headers=manager)
    assert changed.status_code == 200 and changed.get_json()["retention"] == "Y"
    assert client.get("/api/v1/document-types/jd", headers=manager).get_json()["required_from"] == "contract"
    assert "JD" in {t["code"] for t in client.get("/api/v1/document-types", headers=manager).get_json()["types"]}

    refusals = [
        ({"sensitive": "yes"}, 400, "“敏感”应为 true 或 false"),
        ({"colour": "red"}, 400, "不认识的字段：colour"),
        ({"code": "JC"}, 400, "类型代码不能修改"),
        ({"position": -1}, 400, "排序“-1”无效"),
    ]
    for body, status, message in refusals:
        response = client.patch("/api/v1/document-types/JD", json=body, headers=manager)
        assert response.status_code == status and message in response.get_json()["error"], body
    assert client.patch("/api/v1/document-types/NOPE", json={"active": False}, headers=manager).status_code == 404
    # Sending what is already there changes nothing and records nothing.
    assert client.patch("/api/v1/document-types/JD", json={"retention": "Y"}, headers=manager).status_code == 200

    [event] = _events(rt, "doctype.update")
    detail = json.loads(event.detail)
    assert (event.actor_name, event.object_type, event.object_id) == ("boss", "document_type", "JD")
    assert detail["changes"] == {"retention": {"old": "D10", "new": "Y"},
                                 "required_from": {"old": None, "new": "contract"}}
    assert detail["retention_rule_change"] is True and detail["access_change"] is False


def test_a_viewer_or_operator_cannot_change_types(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    for name, role in (("clerk", "viewer"), ("op", "operator")):
        token = _bearer(_token(rt, name, role))
        assert client.get("/api/v1/document-types", headers=token).status_code == 200  # reading is fine
        assert client.post("/api/v1/document-types", json=METER_TYPE, headers=token).status_code == 403
        assert client.patch("/api/v1/document-types/ZJ", json={"sensitive": False}, headers=token).status_code == 403
    auth.login("op2", "operator")
    token = auth.csrf("/upload")
    assert client.get("/document-types").status_code == 403
    assert client.post("/document-types/new", data={"csrf_token": token, **METER_TYPE}).status_code == 403
    assert client.post("/document-types/ZJ/edit", data={"csrf_token": token, "name_zh": "身份证明",
                                                         "retention": "Y", "active": "1"}).status_code == 403
    assert _type(rt, "ZJ").sensitive is True
    with rt.sessions() as session:
        assert session.get(DocumentType, "JD") is None
    assert "nav-doctypes" not in client.get("/upload").get_data(as_text=True)


def test_flagging_a_type_sensitive_hides_its_pages_and_clearing_the_flag_shows_them_again(
        client: FlaskClient, embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    admin = _bearer(_token(rt, "head", "admin", "sensitive"))
    operator = _token(rt, "op", "operator")  # reads content by duty, but not sensitive types
    assert client.post("/api/v1/document-types", json=METER_TYPE, headers=admin).status_code == 201
    doc_id, page_id = _document(rt, "JD")
    image = f"/api/v1/pages/{page_id}/image"

    def operator_view() -> tuple[int, set[int], dict]:
        found = {p["page_id"] for d in _search(client, operator, "检定结论")["results"] for p in d["pages"]}
        by_account = _search(client, operator, f"户号:{ACCOUNT}")["results"][0]
        return client.get(image, headers=_bearer(operator)).status_code, found, by_account

    status, found, hit = operator_view()
    assert status == 200 and found == {page_id}
    assert hit["title"] == "电能表检定证书-王建国" and "JD-778899" in hit["pages"][0]["snippet"]

    assert client.patch("/api/v1/document-types/JD", json={"sensitive": True}, headers=admin).status_code == 200
    assert rt.jobs.wait_idle(60)
    status, found, hit = operator_view()
    assert status == 403 and found == set()                   # neither the image nor a text match
    assert hit["document_id"] == doc_id                        # found by the catalogue only…
    assert hit["title"] != "电能表检定证书-王建国" and hit["pages"][0]["masked"]  # …title and snippet masked
    assert "JD-778899" not in hit["pages"][0]["snippet"]
    # The page was re-indexed with the new flag (the engine alone, without today's table, masks it).
    assert rt.index.search("检定结论", mask_sensitive=True).documents[0].pages[0].masked
    assert client.get(image, headers=admin).status_code == 200  # the grant still opens it
    audit_detail = json.loads(_events(rt, "doctype.update")[-1].detail)
    assert audit_detail["changes"] == {"sensitive": {"old": False, "new": True}} and audit_detail["access_change"]

    assert client.patch("/api/v1/document-types/JD", json={"sensitive": False}, headers=admin).status_code == 200
    assert rt.jobs.wait_idle(60)
    status, found, hit = operator_view()
    assert status == 200 and found == {page_id}
    assert hit["title"] == "电能表检定证书-王建国" and not hit["pages"][0]["masked"]
    assert not rt.index.search("检定结论", mask_sensitive=True).documents[0].pages[0].masked


def test_search_hides_a_newly_sensitive_type_before_its_pages_are_reindexed(
        client: FlaskClient, embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    operator = _token(rt, "op", "operator")
    _document(rt, "JC", text="用电检查结论：计量装置封印完好 JC-5566")
    assert _search(client, operator, "封印完好")["total"] == 1
    with rt.sessions() as session:
        update_type(session, create_user(session, "head", PASSWORD, ["admin"], grants=["sensitive"]), "JC",
                    {"sensitive": True})  # committed; the index job is not queued yet
        assert session.scalar(select(Page.index_state).where(Page.text.like("%JC-5566%"))) == IndexState.PENDING
    assert _search(client, operator, "封印完好")["total"] == 0
    hit = _search(client, operator, f"户号:{ACCOUNT}")["results"][0]
    assert hit["pages"][0]["masked"] and hit["title"] != "电能表检定证书-王建国"
    enqueue_index(rt.jobs)
    assert rt.jobs.wait_idle(60)
    assert _search(client, operator, "封印完好")["total"] == 0


def test_clearing_the_sensitive_flag_needs_the_sensitive_grant(client: FlaskClient, embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    archivist = _bearer(_token(rt, "arch", "archivist"))
    refused = client.patch("/api/v1/document-types/ZJ", json={"sensitive": False, "name_en": "ID"}, headers=archivist)
    assert refused.status_code == 403 and "敏感材料" in refused.get_json()["error"]
    assert _type(rt, "ZJ").sensitive is True and _type(rt, "ZJ").name_en != "ID"
    [denied] = _events(rt, "doctype.update")
    assert (denied.outcome, denied.actor_name, denied.object_id) == ("denied", "arch", "ZJ")
    # Making a type more protected needs no grant.
    assert client.patch("/api/v1/document-types/WY", json={"sensitive": True}, headers=archivist).status_code == 200
    granted = _bearer(_token(rt, "chief", "records_manager", "sensitive"))
    assert client.patch("/api/v1/document-types/WY", json={"sensitive": False}, headers=granted).status_code == 200
    assert _type(rt, "WY").sensitive is False
