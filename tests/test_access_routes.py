"""Every route declares its access rule; a route without one is a leak waiting to happen."""
from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from docsvc.governance.access import Action, declared_rule
from tests.factories import add_stored_document

# The expected rule for each endpoint. A new route must be added here, with its rule, or this test fails.
EXPECTED: dict[str, Action] = {
    "healthz": Action.PUBLIC,
    "readyz": Action.PUBLIC,
    "metrics": Action.PUBLIC,  # DOCSVC_METRICS_TOKEN, when set, is checked by the view
    "auth.login": Action.PUBLIC,
    "auth.logout": Action.AUTHENTICATED,
    "auth.set_language": Action.PUBLIC,
    "home.index": Action.AUTHENTICATED,
    "batches.index": Action.VIEW_BATCH,
    "batches.upload": Action.UPLOAD,
    "batches.show": Action.VIEW_BATCH,
    "batches.progress": Action.VIEW_BATCH,
    "batches.retry": Action.RETRY,
    "batches.retry_page": Action.RETRY,
    "documents.show": Action.VIEW_METADATA,
    "documents.page": Action.VIEW_CONTENT,
    "documents.page_image": Action.VIEW_CONTENT,
    "documents.page_thumbnail": Action.VIEW_CONTENT,
    "documents.page_words_json": Action.VIEW_CONTENT,
    "documents.original": Action.DOWNLOAD,
    "documents.print_document": Action.PRINT,
    "search.search": Action.SEARCH,
    "api_v1.openapi": Action.PUBLIC,
    "api_v1.me": Action.AUTHENTICATED,
    "api_v1.create_batch": Action.UPLOAD,
    "api_v1.get_batch": Action.VIEW_BATCH,
    "api_v1.retry_batch": Action.RETRY,
    "api_v1.get_document_json": Action.VIEW_METADATA,
    "api_v1.get_page_json": Action.VIEW_CONTENT,
    "api_v1.retry_page": Action.RETRY,
    "api_v1.page_image": Action.VIEW_CONTENT,
    "api_v1.page_thumbnail": Action.VIEW_CONTENT,
    "api_v1.page_words_json": Action.VIEW_CONTENT,
    "api_v1.search": Action.SEARCH,
    "auth.account": Action.AUTHENTICATED,
    "auth.password": Action.AUTHENTICATED,
    "auth.create_token": Action.AUTHENTICATED,
    "auth.revoke": Action.AUTHENTICATED,
    "admin.accounts": Action.MANAGE_ACCOUNTS,
    "admin.create": Action.MANAGE_ACCOUNTS,
    "admin.update": Action.MANAGE_ACCOUNTS,
    "admin.integrity": Action.VIEW_INTEGRITY,
    "admin.four_properties": Action.CHECK_FOUR_PROPERTIES,
    "admin.run_four_properties": Action.CHECK_FOUR_PROPERTIES,
    "api_four_properties.run_four_properties": Action.CHECK_FOUR_PROPERTIES,
    "api_operations.index": Action.AUTHENTICATED,
    "api_operations.show": Action.AUTHENTICATED,
    "api_operations.backup": Action.RUN_MAINTENANCE,
    "api_operations.reindex": Action.RUN_MAINTENANCE,
    "loans.index": Action.LOAN_REQUEST,
    "loans.create": Action.LOAN_REQUEST,
    "loans.decide": Action.LOAN_DECIDE,
    "loans.give_back": Action.LOAN_REQUEST,
    "loans.renew": Action.LOAN_REQUEST,
    "audit.index": Action.READ_AUDIT,
    "audit.export": Action.READ_AUDIT,
    "audit.verify": Action.READ_AUDIT,
    "api_loans_audit.create_loan": Action.LOAN_REQUEST,
    "api_loans_audit.approve_loan": Action.LOAN_DECIDE,
    "api_loans_audit.reject_loan": Action.LOAN_DECIDE,
    "api_loans_audit.return_loan": Action.LOAN_REQUEST,
    "api_loans_audit.list_loans": Action.LOAN_REQUEST,
    "api_loans_audit.list_audit": Action.READ_AUDIT,
    "customers.index": Action.VIEW_METADATA,
    "customers.new": Action.MANAGE_CUSTOMERS,
    "customers.edit": Action.MANAGE_CUSTOMERS,
    "customers.show": Action.VIEW_METADATA,
    "customers.import_customers": Action.MANAGE_CUSTOMERS,
    "customers.import_errors": Action.MANAGE_CUSTOMERS,
    "customers.completeness_report": Action.VIEW_METADATA,
    "customers.cover_sheets": Action.FILE,
    "customers.cover_sheets_pdf": Action.FILE,
    "customers.originals_zip": Action.DOWNLOAD,
    "customers.file_pdf": Action.DOWNLOAD,
    "customers.start_export": Action.DOWNLOAD,
    "operations.index": Action.AUTHENTICATED,
    "operations.show": Action.AUTHENTICATED,
    "operations.progress": Action.AUTHENTICATED,
    "operations.download": Action.AUTHENTICATED,
    "operations.start_backup": Action.RUN_MAINTENANCE,
    "operations.start_reindex": Action.RUN_MAINTENANCE,
    "inbox.index": Action.FILE,
    "inbox.file": Action.FILE,
    "inbox.split": Action.FILE,
    "inbox.merge": Action.FILE,
    "inbox.page_op": Action.FILE,
    "inbox.customers": Action.FILE,
    "api_customers.list_customers": Action.VIEW_METADATA,
    "api_customers.create": Action.MANAGE_CUSTOMERS,
    "api_customers.show": Action.VIEW_METADATA,
    "api_customers.update": Action.MANAGE_CUSTOMERS,
    "api_customers.import_customers": Action.MANAGE_CUSTOMERS,
    "api_customers.customer_completeness": Action.VIEW_METADATA,
    "api_customers.file_pdf": Action.DOWNLOAD,
    "api_customers.completeness_report": Action.VIEW_METADATA,
    "api_customers.document_types": Action.VIEW_METADATA,
    "api_customers.document_type": Action.VIEW_METADATA,
    "api_customers.create_document_type": Action.MANAGE_CUSTOMERS,
    "api_customers.update_document_type": Action.MANAGE_CUSTOMERS,
    "doctypes.index": Action.MANAGE_CUSTOMERS,
    "doctypes.new": Action.MANAGE_CUSTOMERS,
    "doctypes.edit": Action.MANAGE_CUSTOMERS,
    "api_customers.patch_document": Action.FILE,
    "api_customers.correct_reference_code": Action.CORRECT_CODE,
    "api_customers.unfile": Action.UNFILE,
    "documents.unfile": Action.UNFILE,
    "api_customers.suggestions": Action.FILE,
    "api_customers.split": Action.FILE,
    "api_customers.merge": Action.FILE,
    "api_customers.reorder": Action.FILE,
    "api_customers.inbox": Action.FILE,
    "api_customers.assign": Action.FILE,
    "api_customers.move_page": Action.FILE,
    "api_customers.rotate_page": Action.FILE,
    "api_customers.delete_page": Action.FILE,
    "api_customers.restore_page": Action.FILE,
    "api_customers.purge_page": Action.FILE,
    "api_customers.cover_sheets": Action.FILE,
    "retention.dashboard": Action.VIEW_RETENTION,
    "retention.due": Action.VIEW_RETENTION,
    "retention.schedules": Action.VIEW_RETENTION,
    "retention.preview_schedule": Action.MANAGE_RETENTION,
    "retention.save_schedule": Action.MANAGE_RETENTION,
    "retention.hold_list": Action.VIEW_RETENTION,
    "retention.place_hold": Action.MANAGE_RETENTION,
    "retention.release_hold": Action.MANAGE_RETENTION,
    "retention.document_storage_only": Action.MANAGE_RETENTION,
    "retention.customer_storage_only": Action.MANAGE_RETENTION,
    "retention.customer_event": Action.MANAGE_RETENTION,
    "api_retention.schedules": Action.VIEW_RETENTION,
    "api_retention.save_schedule": Action.MANAGE_RETENTION,
    "api_retention.due": Action.VIEW_RETENTION,
    "api_retention.dashboard": Action.VIEW_RETENTION,
    "api_retention.record_event": Action.MANAGE_RETENTION,
    "api_retention.list_holds": Action.VIEW_RETENTION,
    "api_retention.place_hold": Action.MANAGE_RETENTION,
    "api_retention.release_hold": Action.MANAGE_RETENTION,
    "api_retention.document_storage_only": Action.MANAGE_RETENTION,
    "api_retention.customer_storage_only": Action.MANAGE_RETENTION,
    "destruction.index": Action.VIEW_RETENTION,
    "destruction.create": Action.MANAGE_RETENTION,
    "destruction.show": Action.VIEW_RETENTION,
    "destruction.progress": Action.VIEW_RETENTION,
    "destruction.appraise": Action.APPRAISE,
    "destruction.submit": Action.MANAGE_RETENTION,
    "destruction.approve": Action.APPROVE_DESTRUCTION,
    "destruction.reject": Action.APPROVE_DESTRUCTION,
    "destruction.supervise": Action.SUPERVISE_DESTRUCTION,
    "destruction.execute": Action.EXECUTE_DESTRUCTION,
    "destruction.cancel": Action.MANAGE_RETENTION,
    "destruction.register_file": Action.READ_REGISTER,
    "api_destruction.index": Action.VIEW_RETENTION,
    "api_destruction.create": Action.MANAGE_RETENTION,
    "api_destruction.show": Action.VIEW_RETENTION,
    "api_destruction.appraise": Action.APPRAISE,
    "api_destruction.submit": Action.MANAGE_RETENTION,
    "api_destruction.approve": Action.APPROVE_DESTRUCTION,
    "api_destruction.reject": Action.APPROVE_DESTRUCTION,
    "api_destruction.supervise": Action.SUPERVISE_DESTRUCTION,
    "api_destruction.execute": Action.EXECUTE_DESTRUCTION,
    "api_destruction.cancel": Action.MANAGE_RETENTION,
    "api_destruction.register_file": Action.READ_REGISTER,
}


def test_every_route_declares_the_expected_access_rule(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    declared = {e: declared_rule(app.view_functions[e]) for e in endpoints}
    assert declared == EXPECTED


def test_anonymous_requests_are_refused_everywhere_but_public_routes(app: Flask, client: FlaskClient) -> None:
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or EXPECTED[rule.endpoint] == Action.PUBLIC:
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<int:{arg}>", "1")
        method = "POST" if "POST" in rule.methods else "GET"
        response = client.open(url, method=method)
        if url.startswith("/api/"):
            assert response.status_code == 401, url
        elif method == "GET":
            assert response.status_code == 302 and "/login" in response.headers["Location"], url
        else:
            assert response.status_code in (302, 400), url  # no session, or no CSRF token


def test_viewer_without_content_rights_cannot_fetch_page_bytes(client: FlaskClient, users) -> None:  # type: ignore[no-untyped-def]
    token = users.token("clerk", "viewer")
    for path in ("/api/v1/pages/1", "/api/v1/pages/1/image", "/api/v1/pages/1/thumbnail", "/api/v1/pages/1/words"):
        assert client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 403, path


def test_a_bad_token_is_refused(client: FlaskClient) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer dsv_nonsense", "Accept-Language": "en"})
    assert response.status_code == 401
    assert "Bearer" in response.get_json()["error"]


# ---- Filing operations on a sensitive document (an ID copy): the `sensitive` grant, like reading ----

SENSITIVE_TITLE = "张三身份证 330102197001011234"


def _two_page_document(rt, doc_type: str, title: str, account: str | None = None) -> tuple[int, list[int]]:  # type: ignore[no-untyped-def]
    """An unfiled two-page document with its page objects in the store: (document id, page ids)."""
    return add_stored_document(rt, f"%PDF {doc_type} {title}".encode(), texts=[f"公民身份号码 第{n}页" for n in (1, 2)], title=title, doc_type=doc_type,
                               customer_account=account)


def _filing_requests(doc_id: int, pages: list[int], plain_id: int, plain_pages: list[int]) -> dict[str, tuple[str, str, dict | None]]:
    """Every API route that changes a sensitive document or answers about its pages: method, path, body."""
    return {
        "retype (PATCH)": ("PATCH", f"/api/v1/documents/{doc_id}", {"doc_type": "QT"}),
        "describe (PATCH)": ("PATCH", f"/api/v1/documents/{doc_id}", {"location": "3号库"}),
        "suggestions": ("GET", f"/api/v1/documents/{doc_id}/suggestions", None),
        "split": ("POST", f"/api/v1/documents/{doc_id}/split", {"at_page": 2}),
        "merge into it": ("POST", f"/api/v1/documents/{doc_id}/merge", {"source_document_id": plain_id}),
        "merge it away": ("POST", f"/api/v1/documents/{plain_id}/merge", {"source_document_id": doc_id}),
        "reorder": ("POST", f"/api/v1/documents/{doc_id}/reorder", {"page_ids": pages[::-1]}),
        "rotate": ("POST", f"/api/v1/pages/{pages[0]}/rotate", {"degrees": 360}),
        "move a page out": ("POST", f"/api/v1/pages/{pages[0]}/move", {"document_id": plain_id}),
        "move a page in": ("POST", f"/api/v1/pages/{plain_pages[0]}/move", {"document_id": doc_id}),
        "bin": ("POST", f"/api/v1/pages/{pages[0]}/delete", None),
        "restore": ("POST", f"/api/v1/pages/{pages[0]}/restore", None),
        "purge": ("POST", f"/api/v1/pages/{pages[0]}/purge", None),
        "retry page": ("POST", f"/api/v1/pages/{pages[0]}/retry", None),
        "inbox assign": ("POST", "/api/v1/inbox/assign", {"document_ids": [doc_id], "doc_type": "QT",
                                                          "customer_account": "3100012345"}),
        "correct 档号": ("POST", f"/api/v1/documents/{doc_id}/reference-code",
                        {"reference_code": "J001-KH·2019-D30-YX-0999", "reason": "更正"}),
        "unfile": ("POST", f"/api/v1/documents/{doc_id}/unfile", {"reason": "更正"}),
    }


def test_filing_operations_on_a_sensitive_document_need_the_sensitive_grant_for_every_role(
        client: FlaskClient, embedded_runtime, users) -> None:  # type: ignore[no-untyped-def]
    """Role × route: without the grant every filing route on an ID copy answers 403 (audited) and leaves
    it unchanged; the same routes reach the service for someone holding the grant."""
    import json

    from docsvc.models import AuditEvent, Document, Page
    from docsvc.governance.accounts import find_user, set_grants
    from sqlalchemy import select

    rt = embedded_runtime
    doc_id, pages = _two_page_document(rt, "ZJ", SENSITIVE_TITLE)
    plain_id, plain_pages = _two_page_document(rt, "HT", "供用电合同")
    for role in ("admin", "operator", "archivist", "records_manager"):
        token = users.token(f"{role}-no-grant", role)
        for name, (method, path, body) in _filing_requests(doc_id, pages, plain_id, plain_pages).items():
            response = client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 403, (role, name, response.status_code, response.get_data(as_text=True))
            assert SENSITIVE_TITLE not in response.get_data(as_text=True) and "公民身份号码" not in response.get_data(as_text=True)
    with rt.sessions() as session:
        doc = session.get(Document, doc_id)
        assert (doc.doc_type, doc.page_count, doc.location) == ("ZJ", 2, None)
        assert [p.view_rotation for p in doc.pages] == [0, 0] and all(p.binned_at is None for p in doc.pages)
        assert session.get(Page, plain_pages[0]).document_id == plain_id
        denied = session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied",
                                                          AuditEvent.object_id.in_([str(doc_id), str(pages[0])]))).all()
        assert denied and all(json.loads(e.detail)["reason"] == "sensitive" for e in denied)

    keeper = users.token("keeper", "archivist")
    with rt.sessions() as session:
        set_grants(session, None, find_user(session, "keeper"), ["sensitive"])  # type: ignore[arg-type]
    bearer = {"Authorization": f"Bearer {keeper}"}
    rotated = client.post(f"/api/v1/pages/{pages[0]}/rotate", json={"degrees": 90}, headers=bearer)
    assert rotated.status_code == 200 and rotated.get_json()["view_rotation"] == 90
    assert "text" not in rotated.get_json()  # a page operation is not a read: it never answers with the text
    assert client.post(f"/api/v1/documents/{doc_id}/split", json={"at_page": 2}, headers=bearer).status_code == 200


def test_web_inbox_page_operations_on_a_sensitive_document_need_the_grant(
        client: FlaskClient, auth, embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    doc_id, pages = _two_page_document(embedded_runtime, "ZJ", SENSITIVE_TITLE)
    auth.login("op", "operator")
    token = auth.csrf("/inbox")
    for path, data in ((f"/inbox/{doc_id}/split", {"at_page": "2"}), (f"/inbox/pages/{pages[0]}/rotate", {}),
                       (f"/inbox/pages/{pages[0]}/delete", {}), (f"/inbox/{doc_id}/file", {"doc_type": "QT"})):
        response = client.post(path, data={**data, "csrf_token": token})
        assert response.status_code == 403, (path, response.status_code)
