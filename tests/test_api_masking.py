"""Sensitive documents (ID copies) in metadata: the API and the customer page show a placeholder, not
the title or contract number, to anyone not granted `sensitive` — as search results do."""
from __future__ import annotations

import io
import json

from flask.testing import FlaskClient

from docsvc.models import Customer, Document
from docsvc.runtime import Runtime
from docsvc.governance.accounts import find_user, set_grants
from tests.conftest import AuthActions
from tests.test_access_audit import ACCOUNT_A, make_document

SECRET_TITLE, SECRET_CONTRACT, SECRET_NOTE = "张三身份证", "GD-2019-777777", "身份证号 330102197001011234"


def _id_copy(rt: Runtime) -> int:
    """An unfiled ID copy with a contract number and a note, under a known customer."""
    doc_id, _ = make_document(rt, ACCOUNT_A, doc_type="ZJ", title=SECRET_TITLE)
    with rt.sessions() as session:
        customer = Customer(account=ACCOUNT_A, name="张三")
        session.add(customer)
        session.flush()
        doc = session.get(Document, doc_id)
        assert doc is not None
        doc.contract_no, doc.notes, doc.customer_id = SECRET_CONTRACT, SECRET_NOTE, customer.id
        session.commit()
    return doc_id


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _grant_sensitive(rt: Runtime, username: str) -> None:
    with rt.sessions() as session:
        set_grants(session, None, find_user(session, username), ["sensitive"])  # type: ignore[arg-type]


def _reveals(body: object) -> bool:
    text = json.dumps(body, ensure_ascii=False)
    return any(secret in text for secret in (SECRET_TITLE, SECRET_CONTRACT, SECRET_NOTE))


def test_document_metadata_hides_a_sensitive_documents_identity_from_those_without_the_grant(
        client: FlaskClient, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    secret_id = _id_copy(rt)
    contract_id, _ = make_document(rt, ACCOUNT_A, title="供用电合同")
    archivist, viewer = _bearer(users.token("keeper", "archivist")), _bearer(users.token("clerk", "viewer"))

    for who in (archivist, viewer):
        shown = client.get(f"/api/v1/documents/{secret_id}", headers=who).get_json()
        assert not _reveals(shown) and shown["masked"] is True
        assert (shown["id"], shown["doc_type"], shown["customer_account"]) == (secret_id, "ZJ", ACCOUNT_A)
        assert "敏感" in shown["title"] and shown["contract_number"] is None
    plain = client.get(f"/api/v1/documents/{contract_id}", headers=viewer).get_json()
    assert (plain["title"], plain["masked"]) == ("供用电合同", False)

    listed = client.get("/api/v1/inbox", headers=archivist).get_json()["documents"]
    assert {d["id"]: d["masked"] for d in listed} == {secret_id: True, contract_id: False}
    assert not _reveals(listed)
    # Changing a sensitive document's description needs the grant too (it would reveal it).
    edited = client.patch(f"/api/v1/documents/{secret_id}", json={"location": "3号库 A-12"}, headers=archivist)
    assert edited.status_code == 403 and not _reveals(edited.get_json())

    _grant_sensitive(rt, "keeper")
    revealed = client.get(f"/api/v1/documents/{secret_id}", headers=archivist).get_json()
    assert (revealed["title"], revealed["contract_number"], revealed["notes"], revealed["masked"]) == (
        SECRET_TITLE, SECRET_CONTRACT, SECRET_NOTE, False)
    assert client.get(f"/api/v1/documents/{secret_id}", headers=viewer).get_json()["masked"] is True


def test_a_batch_holding_a_copy_of_a_sensitive_document_does_not_name_it(
        client: FlaskClient, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    secret_id = _id_copy(rt)
    same_bytes = f"%PDF {ACCOUNT_A} ZJ {SECRET_TITLE}".encode()  # what make_document stored
    operator = _bearer(users.token("op", "operator"))
    sent = client.post("/api/v1/batches", data={"files": (io.BytesIO(same_bytes), "scan.pdf")}, headers=operator)
    (file,) = sent.get_json()["files"]
    assert file["status"] == "duplicate" and file["document_ids"] == [secret_id]
    assert f"#{secret_id}" in file["error"] and not _reveals(sent.get_json())


def test_the_customer_page_lists_a_sensitive_document_under_a_placeholder(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    _id_copy(rt)
    auth.login("keeper", "archivist")
    page = client.get(f"/customers/{ACCOUNT_A}").get_data(as_text=True)
    assert SECRET_TITLE not in page and "敏感材料" in page
    _grant_sensitive(rt, "keeper")
    assert SECRET_TITLE in client.get(f"/customers/{ACCOUNT_A}").get_data(as_text=True)


def test_the_inbox_lists_an_unfiled_sensitive_document_under_a_placeholder(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    doc_id = _id_copy(rt)
    auth.login("scanner", "operator")
    for page in (client.get("/inbox"), client.get(f"/inbox?document={doc_id}")):
        html = page.get_data(as_text=True)
        assert f"#{doc_id}" in html and SECRET_TITLE not in html and "敏感材料" in html
    _grant_sensitive(rt, "scanner")
    assert SECRET_TITLE in client.get(f"/inbox?document={doc_id}").get_data(as_text=True)
