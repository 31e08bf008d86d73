"""Printing a document (打印): by duty, or under a loan whose approval allowed it; every print audited."""
from __future__ import annotations

import re

from flask.testing import FlaskClient

from docsvc.models import Loan
from docsvc.runtime import Runtime
from tests.conftest import AuthActions
from tests.test_access_audit import ACCOUNT_A, approved_loan, events, make_document

PRINT_BUTTON = 'id="print-document"'


def test_a_loan_that_allows_printing_shows_the_button_and_the_print_page_is_audited_with_the_loan(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    users.make("clerk", "viewer")
    users.make("head", "approver")
    doc_id, page_id = make_document(rt, ACCOUNT_A)
    loan_id = approved_loan(rt, "clerk", "head", document_ids=(doc_id,), want_print=True)
    auth.login("clerk")

    assert PRINT_BUTTON in client.get(f"/documents/{doc_id}").get_data(as_text=True)
    printed = client.get(f"/documents/{doc_id}/print")
    html = printed.get_data(as_text=True)
    assert printed.status_code == 200
    assert f'src="/pages/{page_id}/image"' in html  # the bytes come through the authorised image route
    assert '<script src="/static/js/print.js">' in html and not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "'unsafe-inline'" not in printed.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    script = client.get("/static/js/print.js")
    assert script.status_code == 200 and "window.print()" in script.get_data(as_text=True)

    (event,) = events(rt, "document.print")
    assert (event.actor_name, event.object_type, event.object_id, event.outcome, event.loan_id, event.ip) == (
        "clerk", "document", str(doc_id), "ok", loan_id, "127.0.0.1")


def test_a_loan_to_view_only_neither_shows_the_button_nor_lets_the_viewer_print(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    users.make("clerk", "viewer")
    users.make("head", "approver")
    doc_id, page_id = make_document(rt, ACCOUNT_A)
    loan_id = approved_loan(rt, "clerk", "head", customer_account=ACCOUNT_A, want_download=True)
    auth.login("clerk")

    assert client.get(f"/pages/{page_id}/image").status_code == 200  # viewing is allowed
    page = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert PRINT_BUTTON not in page and "/original" in page
    assert client.get(f"/documents/{doc_id}/print").status_code == 403
    assert client.get("/documents/999999/print").status_code == 403  # no probing ids either
    refused = [(e.object_id, e.outcome, e.loan_id) for e in events(rt, "document.print")]  # newest first
    assert refused == [("999999", "denied", None), (str(doc_id), "denied", None)]
    with rt.sessions() as session:
        assert session.get(Loan, loan_id).allow_print is False  # type: ignore[union-attr]


def test_archivists_print_by_duty_but_not_sensitive_documents_without_the_grant(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    doc_id, _ = make_document(rt, ACCOUNT_A)
    id_copy, _ = make_document(rt, ACCOUNT_A, doc_type="ZJ", title="张三身份证")
    auth.login("keeper", "archivist")

    assert PRINT_BUTTON in client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert client.get(f"/documents/{doc_id}/print").status_code == 200
    assert PRINT_BUTTON not in client.get(f"/documents/{id_copy}").get_data(as_text=True)
    assert client.get(f"/documents/{id_copy}/print").status_code == 403
    outcomes = [(e.object_id, e.outcome, e.loan_id) for e in events(rt, "document.print")]  # newest first
    assert outcomes == [(str(id_copy), "denied", None), (str(doc_id), "ok", None)]


def test_staff_without_content_rights_cannot_print(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    doc_id, _ = make_document(embedded_runtime, ACCOUNT_A)
    auth.login("head", "approver")
    assert PRINT_BUTTON not in client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert client.get(f"/documents/{doc_id}/print").status_code == 403


def test_print_is_asked_for_in_the_web_form_and_the_api_and_the_approver_may_withhold_it(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    doc_id, _ = make_document(rt, ACCOUNT_A)
    clerk = users.token("clerk", "viewer")
    head = users.token("head", "approver")
    bearer = lambda tok: {"Authorization": f"Bearer {tok}"}  # noqa: E731

    asked = client.post("/api/v1/loans", json={"document_ids": [doc_id], "purpose": "电费争议核查", "days": 7,
                                               "allow_print": True}, headers=bearer(clerk)).get_json()
    assert (asked["want_print"], asked["want_download"]) == (True, False)
    granted = client.post(f"/api/v1/loans/{asked['id']}/approve", json={}, headers=bearer(head)).get_json()
    assert (granted["allow_print"], granted["allow_download"]) == (True, False)

    auth.login("clerk")
    token = auth.csrf("/loans/")
    client.post("/loans/", data={"customer_account": ACCOUNT_A, "purpose": "复印存档", "days": "3",
                                 "want_print": "1", "csrf_token": token})
    web_loan = client.get("/api/v1/loans?state=pending", headers=bearer(clerk)).get_json()["pending"][0]
    assert web_loan["want_print"] is True
    auth.login("head")
    client.post(f"/loans/{web_loan['id']}/decide", data={"decision": "approve", "csrf_token": auth.csrf("/loans/")})
    withheld = client.get("/api/v1/loans?state=open", headers=bearer(head)).get_json()["open"]
    assert {(l["id"], l["allow_print"]) for l in withheld} == {(asked["id"], True), (web_loan["id"], False)}
