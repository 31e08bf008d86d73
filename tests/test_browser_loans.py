"""In a real browser: a clerk requests a loan, the archives head approves it, the clerk opens the
page, and the auditor finds that view, with its loan, in the audit trail."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from docsvc.runtime import Runtime, build_runtime
from docsvc.governance.accounts import create_user
from tests.browser import Server, log_in, log_out
from tests.conftest import PASSWORD, settings_for
from tests.test_access_audit import ACCOUNT_A, make_document


@pytest.fixture
def server_runtime(served: Server) -> Iterator[Runtime]:  # noqa: F811
    """The served instance's own database and store, for arranging accounts and a filed document."""
    rt = build_runtime(settings_for(served.data_dir))
    yield rt
    rt.close()


def test_loan_requested_approved_used_and_seen_by_the_auditor(
        served: Server, server_runtime: Runtime, browser_page: Page) -> None:  # noqa: F811
    with server_runtime.sessions() as session:
        for name, role in (("clerk", "viewer"), ("head", "approver"), ("auditor", "auditor")):
            create_user(session, name, PASSWORD, [role])
    doc_id, page_id = make_document(server_runtime, ACCOUNT_A)
    page, url = browser_page, served.url

    log_in(page, url, "clerk")
    assert page.goto(f"{url}/pages/{page_id}").status == 403
    page.goto(f"{url}/loans/")
    page.fill("#loan-request input[name=customer_account]", ACCOUNT_A)
    page.fill("#loan-request input[name=purpose]", "电费争议核查")
    page.fill("#loan-request input[name=days]", "7")
    page.click("#loan-request button[type=submit]")
    expect(page.locator("table.loans-pending tr[data-loan]")).to_have_count(1)
    log_out(page)

    log_in(page, url, "head")
    page.goto(f"{url}/loans/")
    page.click("table.loans-pending button[value=approve]")
    expect(page.locator("table.loans-open tr[data-loan]")).to_have_count(1)
    log_out(page)

    log_in(page, url, "clerk")
    response = page.goto(f"{url}/pages/{page_id}")
    assert response is not None and response.status == 200
    expect(page.locator("#page-text")).to_contain_text("产权分界点")
    log_out(page)

    log_in(page, url, "auditor")
    page.goto(f"{url}/audit/?actor=clerk&action=page.view")
    rows = page.locator("#audit-events tbody tr")
    expect(rows.filter(has_text="ok")).to_have_count(1)
    expect(rows.filter(has_text="ok")).to_contain_text(f"page:{page_id}")
    expect(rows.filter(has_text="denied")).to_have_count(1)
    page.click("#verify")
    expect(page.locator("#verify-report")).to_contain_text("审计日志完整")
