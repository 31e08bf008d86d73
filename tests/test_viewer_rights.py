"""The page viewer shows download and print only to those the gate would let through; the inbox's
customer choices (户号 prefix or part of the name) are for those who file."""
from __future__ import annotations

from flask.testing import FlaskClient

from docsvc.files.customers import AccountRule, create_customer
from docsvc.runtime import Runtime
from tests.conftest import AuthActions
from tests.test_access_audit import ACCOUNT_A, approved_loan, make_document

DOWNLOAD, PRINT = 'id="download-page"', 'id="print-document"'


def test_a_loan_shows_only_the_buttons_it_allows_and_duty_shows_both(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    users.make("clerk", "viewer")
    users.make("head", "approver")
    doc_id, page_id = make_document(rt, ACCOUNT_A)
    approved_loan(rt, "clerk", "head", document_ids=(doc_id,), want_print=True)   # print, no download
    auth.login("clerk")
    html = client.get(f"/pages/{page_id}").get_data(as_text=True)
    assert PRINT in html and DOWNLOAD not in html and 'id="rotate-view"' in html
    assert client.get(f"/documents/{doc_id}/original").status_code == 403   # what the hidden button would do

    auth.login("archivist", "archivist")
    html = client.get(f"/pages/{page_id}").get_data(as_text=True)
    assert PRINT in html and DOWNLOAD in html


def test_the_customer_choices_match_the_account_prefix_or_the_name_and_need_the_filing_right(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        for account, name in (("3000000001", "宏达机械制造有限公司"), ("3000000002", "宏达商贸有限公司"), ("4000000001", "城东小学")):
            create_customer(s, None, AccountRule(r"^\d{10}$"), account, {"name": name})
    auth.login("operator")
    by_name = client.get("/inbox/customers?q=宏达").get_json()
    assert [c["account"] for c in by_name["customers"]] == ["3000000001", "3000000002"]
    assert client.get("/inbox/customers?q=4000").get_json()["customers"] == [{"account": "4000000001", "name": "城东小学"}]
    assert client.get("/inbox/customers?q=水务").get_json() == {"total": 0, "customers": []}
    users.make("clerk", "viewer")
    auth.login("clerk")
    assert client.get("/inbox/customers?q=宏达").status_code == 403
