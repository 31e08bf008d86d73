"""Every route declares its access rule; a route without one is a leak waiting to happen."""
from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from docsvc.governance.access import Action, declared_rule

# The expected rule for each endpoint. A new route must be added here, with its rule, or this test fails.
EXPECTED: dict[str, Action] = {
    "healthz": Action.PUBLIC,
    "auth.login": Action.PUBLIC,
    "auth.logout": Action.AUTHENTICATED,
    "auth.set_language": Action.PUBLIC,
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
    "inbox.index": Action.FILE,
    "inbox.file": Action.FILE,
    "inbox.split": Action.FILE,
    "inbox.merge": Action.FILE,
    "inbox.page_op": Action.FILE,
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
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer dsv_nonsense"})
    assert response.status_code == 401
    assert "Bearer" in response.get_json()["error"]
