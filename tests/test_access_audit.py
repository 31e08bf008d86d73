"""Roles, loans and the audit trail, as the clerk, the archives head and the auditor meet them."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from docsvc import i18n
from docsvc.governance.access import Action, can, content_filter, content_grant, loan_state
from docsvc.constants import LOCKOUT_THRESHOLD
from docsvc.models import AuditEvent, Document, User
from docsvc.runtime import Runtime
from docsvc.governance import audit, loans
from docsvc.governance.accounts import find_user
from tests.conftest import PASSWORD, AuthActions, docsvc_cli
from tests.factories import add_stored_document

ACCOUNT_A, ACCOUNT_B = "3100012345", "3100099999"


def make_document(rt: Runtime, account: str, doc_type: str = "HT", title: str = "供用电合同") -> tuple[int, int]:
    """A one-page document under `account` with its image, thumbnail and words in the store: (document id, page id)."""
    doc_id, pages = add_stored_document(rt, f"%PDF {account} {doc_type} {title}".encode(), texts=["产权分界点"], title=title, customer_account=account,
                                        doc_type=doc_type)
    return doc_id, pages[0]


def events(rt: Runtime, action: str | None = None) -> list[AuditEvent]:
    with rt.sessions() as session:
        return audit.find_events(session, audit.EventFilter(action=action), limit=None)


def user(rt: Runtime, name: str) -> User:
    with rt.sessions() as session:
        found = find_user(session, name)
        assert found is not None
        return found


def approved_loan(rt: Runtime, clerk: str, head: str, **request: object) -> int:
    with rt.sessions() as session:
        loan = loans.request_loan(session, find_user(session, clerk), loans.LoanRequest(  # type: ignore[arg-type]
            purpose="电费争议核查", days=7, **request))  # type: ignore[arg-type]
        loans.decide(session, find_user(session, head), loan.id, True)  # type: ignore[arg-type]
        return loan.id


def test_viewer_sees_content_only_under_an_approved_loan_and_access_ends_by_itself(
        embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    users.make("clerk", "viewer")
    users.make("head", "approver")
    doc_id, _ = make_document(rt, ACCOUNT_A)
    with rt.sessions() as session:
        clerk, head = find_user(session, "clerk"), find_user(session, "head")
        doc = session.get(Document, doc_id)
        assert can(clerk, Action.SEARCH) and not can(clerk, Action.VIEW_CONTENT, doc, session=session)
        loan = loans.request_loan(session, clerk, loans.LoanRequest(purpose="电费争议核查", days=7,  # type: ignore[arg-type]
                                                                   customer_account=ACCOUNT_A))
        assert content_grant(session, clerk, doc) is None  # pending is not approved
        approved = loans.decide(session, head, loan.id, True)  # type: ignore[arg-type]
        start = approved.starts_at
        assert start is not None
        assert content_grant(session, clerk, doc, now=start + timedelta(days=6)).loan_id == loan.id  # type: ignore[union-attr, arg-type]
        assert not content_grant(session, clerk, doc, Action.DOWNLOAD, now=start + timedelta(days=1))  # type: ignore[arg-type]
        after = start + timedelta(days=7, seconds=1)
        assert content_grant(session, clerk, doc, now=after) is None  # type: ignore[arg-type]
        assert loan_state(approved, after) == "expired"
        assert content_filter(session, clerk, start + timedelta(days=1)).customer_accounts == {ACCOUNT_A}
        assert content_filter(session, clerk, after).customer_accounts == frozenset()


def test_an_approver_cannot_approve_their_own_loan_and_sensitive_files_need_a_sensitive_approver(
        embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    users.make("head", "approver", "viewer")
    users.make("other", "approver")
    make_document(rt, ACCOUNT_B, doc_type="ZJ", title="身份证复印件")
    with rt.sessions() as session:
        head, other = find_user(session, "head"), find_user(session, "other")
        loan = loans.request_loan(session, head, loans.LoanRequest(purpose="核查", days=3, customer_account=ACCOUNT_B))  # type: ignore[arg-type]
        with pytest.raises(loans.LoanForbidden, match="自己"):
            loans.decide(session, head, loan.id, True)  # type: ignore[arg-type]
        with i18n.using("en"), pytest.raises(loans.LoanForbidden, match="holds sensitive documents"):
            loans.decide(session, other, loan.id, True)  # type: ignore[arg-type]
    refusals = events(rt, "loan.approve")
    assert [e.outcome for e in refusals] == ["denied", "denied"]
    # The trail records the reason as it always has, in both languages, whichever language it was said in.
    assert [json.loads(e.detail)["reason"] for e in refusals] == [  # type: ignore[arg-type]
        "该档案含身份证明等敏感材料，须由具有敏感信息权限的审批人审批。 / "
        "The file holds sensitive documents (ID copies): an approver granted `sensitive` must decide.",
        "不能审批自己的借阅申请，请由其他审批人处理。 / You cannot decide your own loan; another approver must."]


def test_a_viewer_fetching_another_files_pages_by_id_is_refused_and_audited(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    users.make("clerk", "viewer")
    users.make("head", "approver")
    own_doc, own_page = make_document(rt, ACCOUNT_A)
    other_doc, other_page = make_document(rt, ACCOUNT_B)
    loan_id = approved_loan(rt, "clerk", "head", customer_account=ACCOUNT_A)
    auth.login("clerk")

    for path in (f"/pages/{other_page}", f"/pages/{other_page}/image", f"/pages/{other_page}/thumbnail",
                 f"/pages/{other_page}/words", f"/documents/{other_doc}/original", "/pages/999999/image"):
        assert client.get(path).status_code == 403, path
    assert client.get(f"/pages/{own_page}/image").status_code == 200
    assert client.get(f"/documents/{own_doc}/original").status_code == 403  # viewing, not downloading

    trail = events(rt)
    denied = [(e.object_type, e.object_id) for e in trail if e.outcome == "denied"]
    assert ("page", str(other_page)) in denied and ("document", str(other_doc)) in denied and ("page", "999999") in denied
    view = next(e for e in trail if e.action == "page.image" and e.outcome == "ok")
    assert (view.actor_name, view.object_id, view.loan_id, view.ip) == ("clerk", str(own_page), loan_id, "127.0.0.1")


def test_sensitive_documents_are_hidden_from_those_not_granted_sensitive(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    doc_id, page_id = make_document(rt, ACCOUNT_A, doc_type="ZJ", title="张三身份证")
    auth.login("archivist", "archivist")
    assert client.get(f"/pages/{page_id}/image").status_code == 403
    shown = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "张三身份证" not in shown and "敏感材料" in shown
    with rt.sessions() as session:
        from docsvc.governance.accounts import set_grants

        set_grants(session, None, find_user(session, "archivist"), ["sensitive"])  # type: ignore[arg-type]
    assert client.get(f"/pages/{page_id}/image").status_code == 200


def test_a_form_without_its_csrf_token_is_refused(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("clerk", "viewer")
    response = client.post("/loans/", data={"customer_account": ACCOUNT_A, "purpose": "核查", "days": "7"})
    assert response.status_code == 400 and "表单已过期" in response.get_data(as_text=True)


def test_repeated_wrong_passwords_lock_the_account_with_a_clear_message(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    users.make("clerk", "viewer")
    token = auth.csrf("/login")
    for _ in range(LOCKOUT_THRESHOLD):
        client.post("/login", data={"username": "clerk", "password": "wrong password", "csrf_token": token})
    refused = client.post("/login", data={"username": "clerk", "password": PASSWORD, "csrf_token": token})
    # The same answer an unknown name gets (which names exist is not told), mentioning the lock.
    assert refused.status_code == 200 and "暂时锁定" in refused.get_data(as_text=True)
    outcomes = [e.outcome for e in events(embedded_runtime, "login")]
    assert outcomes.count("failed") == LOCKOUT_THRESHOLD and "locked" in outcomes
    assert events(embedded_runtime, "account.lock")
    with embedded_runtime.sessions() as session:
        from docsvc.governance.accounts import set_active

        set_active(session, None, find_user(session, "clerk"), True)  # type: ignore[arg-type]  # an admin unlocks
    assert client.post("/login", data={"username": "clerk", "password": PASSWORD, "csrf_token": token}).status_code == 302


def test_loans_through_the_api_and_the_auditor_exports_the_trail(
        client: FlaskClient, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    doc_id, page_id = make_document(rt, ACCOUNT_A)
    clerk, head, auditor = (users.token("clerk", "viewer"), users.token("head", "approver"),
                            users.token("auditor", "auditor"))
    bearer = lambda tok: {"Authorization": f"Bearer {tok}"}  # noqa: E731
    created = client.post("/api/v1/loans", json={"document_ids": [doc_id], "purpose": "电费争议核查", "days": 7,
                                                 "allow_download": True}, headers=bearer(clerk))
    assert created.status_code == 201, created.get_json()
    loan_id = created.get_json()["id"]
    assert client.post(f"/api/v1/loans/{loan_id}/approve", headers=bearer(clerk)).status_code == 403
    approved = client.post(f"/api/v1/loans/{loan_id}/approve", json={"allow_download": False}, headers=bearer(head))
    assert approved.get_json()["state"] == "approved" and approved.get_json()["allow_download"] is False
    assert client.get(f"/api/v1/pages/{page_id}", headers=bearer(clerk)).status_code == 200
    assert client.get("/api/v1/loans", headers=bearer(clerk)).get_json()["open"][0]["id"] == loan_id
    assert client.post(f"/api/v1/loans/{loan_id}/return", headers=bearer(clerk)).get_json()["state"] == "returned"
    assert client.get(f"/api/v1/pages/{page_id}", headers=bearer(clerk)).status_code == 403

    assert client.get("/api/v1/audit", headers=bearer(head)).status_code == 403
    listed = client.get("/api/v1/audit?actor=clerk&object=page:%d" % page_id, headers=bearer(auditor)).get_json()
    assert [(e["action"], e["outcome"], e["loan_id"]) for e in listed["events"]] == [
        ("page.text", "denied", None), ("page.text", "ok", loan_id)]
    exported = client.get("/api/v1/audit?format=csv&action=loan.", headers=bearer(auditor) | {"Accept-Language": "en"})
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [r["What"] for r in rows] == ["loan.return", "loan.approve", "loan.request"]
    # The headings are in the reader's language (Chinese by default); the events as they were recorded.
    chinese = client.get("/api/v1/audit?format=csv&action=loan.", headers=bearer(auditor)).get_data(as_text=True)
    assert chinese.splitlines()[0] == "序号,时间（UTC）,操作人,操作,对象类型,对象编号,结果,借阅用途,借阅,IP,说明,哈希值（SHA-256）"
    assert chinese.splitlines()[1:] == exported.get_data(as_text=True).splitlines()[1:]
    refused = client.get("/api/v1/audit?action=access.denied", headers=bearer(auditor)).get_json()["events"]
    assert {(e["actor"], e["detail"]["endpoint"]) for e in refused} == {
        ("clerk", "api_loans_audit.approve_loan"), ("head", "api_loans_audit.list_audit")}
    assert rows[-1]["Purpose"] == "电费争议核查"


def test_an_anchor_written_before_the_first_event_verifies(embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    """A fresh install's scheduler anchors the empty chain (seq 0); the trail that grows from it is whole."""
    rt = embedded_runtime
    with rt.sessions() as session:
        assert audit.write_anchor(session, rt.store).seq == 0
        audit.record(session, None, "page.view", object_type="page", object_id=1)
        session.commit()
        assert audit.verify(session, audit.load_anchors(rt.store)).ok


def test_verify_finds_an_edited_row_a_deleted_row_and_a_cut_tail(embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    users.make("clerk", "viewer")
    with rt.sessions() as session:
        clerk = find_user(session, "clerk")
        for i in range(6):
            audit.record(session, clerk, "page.view", object_type="page", object_id=i, ip="10.0.0.9")
            session.commit()
        anchor = audit.write_anchor(session, rt.store)
        assert audit.verify(session, audit.load_anchors(rt.store)).ok

        session.execute(text("UPDATE audit_events SET object_id = '99' WHERE seq = 4"))
        session.commit()
        report = audit.verify(session)
        assert not report.ok and report.first_broken_seq == 4 and "改动" in report.problem  # type: ignore[operator]
        session.execute(text("UPDATE audit_events SET object_id = '2' WHERE seq = 4"))  # put it back
        session.execute(text("DELETE FROM audit_events WHERE seq = 3"))
        session.commit()
        assert audit.verify(session).first_broken_seq == 3

    with rt.sessions() as session:  # a tail cut off, head pointer rewound too: only the anchor tells
        session.execute(text("DELETE FROM audit_events WHERE seq >= 3"))
        session.execute(text("UPDATE audit_chain_head SET seq = 2, hash = (SELECT hash FROM audit_events WHERE seq = 2)"))
        session.commit()
        assert audit.verify(session).ok  # without the anchor it looks whole
        report = audit.verify(session, audit.load_anchors(rt.store))
        assert not report.ok and f"{anchor.seq}" in report.problem and "截断" in report.problem  # type: ignore[operator]


@pytest.mark.integration   # runs the docsvc command
def test_the_audit_verify_command_exits_non_zero_on_a_broken_chain(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"DOCSVC_DATA_DIR": str(tmp_path / "var")}
    assert docsvc_cli("db", "upgrade", env=env).returncode == 0
    assert docsvc_cli("user", "create", "li", "--role", "viewer", "--grant", "sensitive", "--password-stdin",
                      env=env, input=PASSWORD + "\n").returncode == 0
    assert docsvc_cli("user", "set-role", "li", "--role", "approver", env=env).returncode == 0
    assert docsvc_cli("user", "disable", "li", env=env).returncode == 0
    ok = docsvc_cli("audit", "verify", env=env)
    assert ok.returncode == 0 and "3" in ok.stdout, ok.stdout + ok.stderr
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'docsvc.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor_name = 'someone' WHERE seq = 2"))
    engine.dispose()
    broken = docsvc_cli("audit", "verify", env=env)
    assert broken.returncode == 1 and "#2" in broken.stdout


def test_admin_reviews_accounts_by_last_login_and_disables_one(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    users.make("idle", "viewer")
    auth.login("boss", "admin")
    page = client.get("/admin/accounts").get_data(as_text=True)
    assert "idle" in page and "从未" in page
    idle_id = user(embedded_runtime, "idle").id
    token = auth.csrf("/admin/accounts")
    client.post(f"/admin/accounts/{idle_id}", data={"roles": ["viewer"], "csrf_token": token})
    assert not user(embedded_runtime, "idle").active
    disabled = events(embedded_runtime, "account.disable")[0]
    assert (disabled.actor_name, disabled.object_id) == ("boss", str(idle_id))
    auth.login("clerk", "viewer")
    assert client.get("/admin/accounts").status_code == 403
