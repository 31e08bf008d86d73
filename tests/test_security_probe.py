"""The black-box probe of issue 9, one finding per test: each failed before the fix."""
from __future__ import annotations

import csv
import io
import json
import re
import time
import zipfile

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from docsvc.config import Settings
from docsvc.models import AuditEvent, Customer, Document, Page, utcnow
from docsvc.runtime import Runtime
from docsvc.governance import accounts
from docsvc.governance.accounts import AccountError, create_user, find_user, set_grants, set_roles
from tests.conftest import PASSWORD, AuthActions, Users, _csrf_from
from tests.test_access_routes import SENSITIVE_TITLE, _two_page_document

ACCOUNT = "3100012345"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _file(rt: Runtime, doc_id: int, code: str = "J001-KH·2019-D30-YX-0001") -> None:
    with rt.sessions() as session:
        customer = session.scalar(select(Customer).where(Customer.account == ACCOUNT))
        if customer is None:
            customer = Customer(account=ACCOUNT, name="宏达机械制造有限公司")
            session.add(customer)
            session.flush()
        doc = session.get(Document, doc_id)
        assert doc is not None
        doc.customer_id, doc.customer_account, doc.filed_at, doc.reference_code = customer.id, ACCOUNT, utcnow(), code
        session.commit()


def _log_in(client: FlaskClient, username: str, password: str = PASSWORD, next_: str | None = None,
            ip: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    token = _csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", query_string={"next": next_} if next_ is not None else None,
                       data={"username": username, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": ip})


# 1 — rotate answered with the OCR text, audited as a rotation
def test_a_page_operation_never_answers_with_the_pages_text(client: FlaskClient, embedded_runtime: Runtime,
                                                            users: Users) -> None:
    doc_id, pages = _two_page_document(embedded_runtime, "HT", "供用电合同")
    operator = _bearer(users.token("op", "operator"))
    for op, body in (("rotate", {"degrees": 360}), ("delete", None), ("restore", None)):
        response = client.post(f"/api/v1/pages/{pages[0]}/{op}", json=body, headers=operator)
        assert response.status_code == 200, (op, response.get_json())
        assert "text" not in response.get_json() and "公民身份号码" not in response.get_data(as_text=True)


# 2 — an operator split a filed document, binned and purged its page
def test_a_filed_document_keeps_its_pages_until_an_archivist_unfiles_it(
        client: FlaskClient, embedded_runtime: Runtime, users: Users) -> None:
    rt = embedded_runtime
    doc_id, pages = _two_page_document(rt, "HT", "供用电合同")
    other_id, _ = _two_page_document(rt, "QT", "其他")
    _file(rt, doc_id)
    for role in ("operator", "archivist", "admin"):
        who = _bearer(users.token(f"{role}1", role))
        for path, body in ((f"/api/v1/documents/{doc_id}/split", {"at_page": 2}),
                           (f"/api/v1/pages/{pages[1]}/move", {"document_id": other_id}),
                           (f"/api/v1/pages/{pages[1]}/delete", None)):
            response = client.post(path, json=body, headers=who)
            assert response.status_code == 409, (role, path, response.get_json())
            message = response.get_json()["error"]
            assert "已归档" in message and "撤回归档" in message
            english = client.post(path, json=body, headers={**who, "Accept-Language": "en"}).get_json()["error"]
            assert "is filed" in english and "unfiles it first" in english
    with rt.sessions() as session:
        assert [p.document_id for p in session.scalars(select(Page).where(Page.id.in_(pages)))] == [doc_id, doc_id]

    operator = _bearer(users.token("operator1", "operator"))
    assert client.post(f"/api/v1/documents/{doc_id}/unfile", json={"reason": "装订错误"}, headers=operator).status_code == 403
    archivist = _bearer(users.token("archivist1", "archivist"))
    assert client.post(f"/api/v1/documents/{doc_id}/unfile", json={"reason": ""}, headers=archivist).status_code == 400
    unfiled = client.post(f"/api/v1/documents/{doc_id}/unfile", json={"reason": "装订错误"}, headers=archivist)
    assert unfiled.status_code == 200 and unfiled.get_json()["filed_at"] is None
    assert client.post(f"/api/v1/documents/{doc_id}/split", json={"at_page": 2}, headers=operator).status_code == 200
    with rt.sessions() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "document.unlink")).one()
        assert event.actor_name == "archivist1" and json.loads(event.detail)["reason"] == "装订错误"


def test_a_binned_page_of_a_filed_document_cannot_be_purged(embedded_runtime: Runtime) -> None:
    from docsvc.errors import NotAllowedNow
    from docsvc.files import pageops

    doc_id, pages = _two_page_document(embedded_runtime, "HT", "供用电合同")
    with embedded_runtime.sessions() as session:
        pageops.bin_page(session, None, session.get(Page, pages[1]))
    _file(embedded_runtime, doc_id)
    with embedded_runtime.sessions() as session, pytest.raises(NotAllowedNow, match="已归档"):
        pageops.purge_page(session, embedded_runtime.store, None, session.get(Page, pages[1]))


# 3 — formulas in exports
def test_exports_write_formula_like_text_as_plain_text(client: FlaskClient, embedded_runtime: Runtime,
                                                       users: Users) -> None:
    formula = '=HYPERLINK("http://evil.example","点击")'
    with embedded_runtime.sessions() as session:
        session.add(Customer(account=ACCOUNT, name=formula, stage="contract"))
        session.commit()
    viewer = _bearer(users.token("clerk", "viewer"))
    rows = list(csv.reader(io.StringIO(client.get("/api/v1/completeness?format=csv", headers=viewer)
                                       .get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][1] == "'" + formula
    book = load_workbook(io.BytesIO(client.get("/api/v1/completeness?format=xlsx", headers=viewer).get_data()))
    cell = book.active.cell(row=2, column=2)
    assert cell.data_type == "s" and cell.value == "'" + formula

    assert client.post("/api/v1/loans", json={"customer_account": ACCOUNT, "purpose": "+cmd|' /C calc'!A0",
                                              "days": 3}, headers=viewer).status_code == 201
    auditor = _bearer(users.token("inspector", "auditor"))
    exported = client.get("/api/v1/audit?format=csv&action=loan.request",
                          headers=auditor | {"Accept-Language": "en"}).get_data(as_text=True)
    [row] = list(csv.DictReader(io.StringIO(exported)))
    assert row["Purpose"] == "'+cmd|' /C calc'!A0"


def test_import_error_rows_are_neutralised_too() -> None:
    from docsvc.files.customer_import import ImportReport, RowError

    report = ImportReport(errors=[RowError(row=2, account="-3100012345", message="@SUM(A1)")])
    rows = list(csv.reader(io.StringIO(report.errors_csv().decode("utf-8-sig"))))
    assert rows[1] == ["2", "'-3100012345", "'@SUM(A1)"]


# 4 — login tells who exists; anyone can lock anyone
def test_login_answers_unknown_and_known_names_alike_and_hashes_for_both(
        client: FlaskClient, users: Users, monkeypatch: pytest.MonkeyPatch) -> None:
    users.make("clerk", "viewer")
    verified: list[str] = []

    class CountingHasher:
        def verify(self, hashed: str, password: str) -> bool:
            verified.append(hashed)
            return real.verify(hashed, password)

    real = accounts._hasher
    monkeypatch.setattr(accounts, "_hasher", CountingHasher())
    unknown = _log_in(client, "nobody", "wrong password")
    known = _log_in(client, "clerk", "wrong password")
    assert unknown.status_code == known.status_code == 200
    # The same page, but for the values echoed into the form (the name, the CSRF token).
    def page(response) -> str:  # type: ignore[no-untyped-def]
        return re.sub(r'value="[^"]*"', 'value=""', response.get_data(as_text=True))

    assert page(unknown) == page(known) and "暂时锁定" in page(known)
    assert len(verified) == 2  # the unknown name paid for an argon2 verification as well


def test_failed_logins_cannot_lock_the_owner_out_of_a_browser_they_used_before(
        app, users: Users) -> None:  # type: ignore[no-untyped-def]
    users.make("clerk", "viewer")
    owner = app.test_client()
    assert _log_in(owner, "clerk").status_code == 302
    owner.post("/logout", data={"csrf_token": _csrf_from(owner.get("/account").get_data(as_text=True))})
    attacker = app.test_client()
    for n in range(8):
        assert _log_in(attacker, "clerk", "guess", ip="10.0.0.9").status_code == 200
    assert _log_in(attacker, "clerk", ip="10.0.0.9").status_code == 200  # backing off: the right password waits
    assert _log_in(owner, "clerk").status_code == 302  # ... except from the owner's own browser
    with app.extensions["docsvc"].sessions() as session:
        user = find_user(session, "clerk")
        assert user is not None and user.failed_logins == 0 and user.locked_until is None


def test_the_back_off_doubles_and_is_capped() -> None:
    from datetime import timedelta

    from docsvc.constants import LOCKOUT_MINUTES, LOCKOUT_THRESHOLD

    assert accounts.backoff(LOCKOUT_THRESHOLD - 1) == timedelta(0)
    assert [accounts.backoff(LOCKOUT_THRESHOLD + n) for n in range(3)] == [timedelta(minutes=m) for m in (1, 2, 4)]
    assert accounts.backoff(LOCKOUT_THRESHOLD + 40) == timedelta(minutes=LOCKOUT_MINUTES)


def test_refused_bearer_tokens_are_audited_and_limited_per_address(client: FlaskClient, embedded_runtime: Runtime,
                                                                    users: Users) -> None:
    from docsvc.http.gate import TOKEN_FAILURES_PER_MINUTE

    good = users.token("robot", "operator")
    for n in range(TOKEN_FAILURES_PER_MINUTE):
        response = client.get("/api/v1/me", headers=_bearer(f"dsv_guess{n}"), environ_base={"REMOTE_ADDR": "10.1.1.1"})
        assert response.status_code == 401
    limited = client.get("/api/v1/me", headers=_bearer(good), environ_base={"REMOTE_ADDR": "10.1.1.1"})
    assert limited.status_code == 429 and "一分钟" in limited.get_json()["error"]
    assert client.get("/api/v1/me", headers=_bearer(good), environ_base={"REMOTE_ADDR": "10.1.1.2"}).status_code == 200
    with embedded_runtime.sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "token.auth")).all()
        assert len(events) == TOKEN_FAILURES_PER_MINUTE and {e.outcome for e in events} == {"failed"}
        assert not any("dsv_guess" in (e.detail or "") for e in events)


# 5 — a session survives logout
def test_logout_ends_the_session_for_every_copy_of_its_cookie(app, auth: AuthActions, client: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    auth.login("clerk", "viewer")
    copied = client.get_cookie("session").value  # type: ignore[union-attr]
    assert client.post("/logout", data={"csrf_token": auth.csrf("/account")}).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("stamp, age_s", [("seen_at", 61 * 60), ("auth_at", 13 * 3600)])
def test_a_session_ends_after_its_idle_timeout_and_its_maximum_age(auth: AuthActions, client: FlaskClient,
                                                                   stamp: str, age_s: int) -> None:
    auth.login("clerk", "viewer")
    assert client.get("/account").status_code == 200
    with client.session_transaction() as session:
        session[stamp] = int(time.time()) - age_s
    response = client.get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# 6 — open redirect
@pytest.mark.parametrize("target", ["/\t/evil.example/x", "/\n/x", "//evil.example", "/\\evil.example",
                                    "https://evil.example/", "javascript:alert(1)", "/ok\x7f"])
def test_login_redirects_only_to_a_local_path(client: FlaskClient, users: Users, target: str) -> None:
    users.make("clerk", "viewer")
    response = _log_in(client, "clerk", next_=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"  # the home dashboard


def test_login_keeps_a_local_next_path(client: FlaskClient, users: Users) -> None:
    users.make("clerk", "viewer")
    assert _log_in(client, "clerk", next_="/customers/3100012345?tab=1").headers["Location"] == "/customers/3100012345?tab=1"


# 8 — the customer page showed who downloaded the file to everyone
def test_the_customer_timeline_shows_reads_and_refusals_to_auditors_only(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    from docsvc.governance import audit

    doc_id, _ = _two_page_document(embedded_runtime, "HT", "供用电合同", account=ACCOUNT)
    _file(embedded_runtime, doc_id)
    with embedded_runtime.sessions() as session:
        audit.record(session, None, "document.download", object_type="document", object_id=doc_id)
        audit.record(session, None, "document.print", object_type="document", object_id=doc_id, outcome="denied")
        audit.record(session, None, "customer.download_originals", object_type="customer", object_id=ACCOUNT)
        audit.record(session, None, "document.update", object_type="document", object_id=doc_id)
        session.commit()
    auth.login("clerk", "viewer")
    page = client.get(f"/customers/{ACCOUNT}").get_data(as_text=True)
    assert "修改著录" in page  # document.update, shown by its name
    assert not any(a in page for a in ("document.download", "document.print", "customer.download_originals"))
    auth.login("inspector", "auditor", "viewer")
    page = client.get(f"/customers/{ACCOUNT}").get_data(as_text=True)
    assert all(a in page for a in ("document.download", "document.print", "customer.download_originals"))
    assert page.count("已拒绝") == 1


# 9 — 档号 never checked; a path in the originals ZIP
def test_a_reference_code_must_fit_the_configured_pattern(client: FlaskClient, embedded_runtime: Runtime,
                                                         users: Users) -> None:
    doc_id, _ = _two_page_document(embedded_runtime, "HT", "供用电合同")
    _file(embedded_runtime, doc_id)
    manager = _bearer(users.token("head", "records_manager"))
    for bad in ("../../../../x", "J001-KH·2019-D30-YX-0001/..", "J001\\KH"):
        response = client.post(f"/api/v1/documents/{doc_id}/reference-code", json={"reference_code": bad, "reason": "x"},
                               headers=manager)
        assert response.status_code == 400 and "格式" in response.get_json()["error"], bad
    good = client.post(f"/api/v1/documents/{doc_id}/reference-code",
                       json={"reference_code": "J001-KH·2019-D30-YX-0042", "reason": "与纸质一致"}, headers=manager)
    assert good.status_code == 200 and good.get_json()["archive_code"] == "J001-KH·2019-D30-YX-0042"


def test_originals_zip_entry_names_carry_no_path(client: FlaskClient, auth: AuthActions,
                                                 embedded_runtime: Runtime) -> None:
    doc_id, _ = _two_page_document(embedded_runtime, "HT", "供用电合同", account=ACCOUNT)
    _file(embedded_runtime, doc_id, code="../../../../x")  # written before codes were checked
    with embedded_runtime.sessions() as session:
        session.get(Document, doc_id).doc_type = "H/T"  # type: ignore[union-attr]
        session.commit()
    auth.login("keeper", "archivist")
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/customers/{ACCOUNT}/originals.zip").get_data()))
    for name in archive.namelist():
        assert ".." not in name and "/" not in name and "\\" not in name, name


# 10 — separation of duties and deployment
def test_no_account_is_both_admin_and_auditor(embedded_runtime: Runtime) -> None:
    with embedded_runtime.sessions() as session:
        with pytest.raises(AccountError, match="auditor"):
            create_user(session, "chief", PASSWORD, ["admin", "auditor"])
        session.rollback()
        other = create_user(session, "other", PASSWORD, ["admin"])
        with pytest.raises(AccountError, match="auditor"):
            set_roles(session, None, other, ["admin", "auditor"])


def test_nobody_changes_their_own_roles_or_grants(client: FlaskClient, auth: AuthActions,
                                                  embedded_runtime: Runtime) -> None:
    auth.login("root", "admin")
    with embedded_runtime.sessions() as session:
        me = find_user(session, "root")
        assert me is not None
        with pytest.raises(AccountError, match="自己"):
            set_roles(session, me, me, ["admin", "approver"])
        with pytest.raises(AccountError, match="自己"):
            set_grants(session, me, me, ["sensitive"])
        user_id = me.id
    client.post(f"/admin/accounts/{user_id}", data={"roles": ["admin", "auditor"], "grants": ["sensitive"], "active": "1",
                                                    "csrf_token": auth.csrf("/admin/accounts")})
    with embedded_runtime.sessions() as session:
        me = find_user(session, "root")
        assert me is not None and me.role_set == {"admin"} and not me.grant_set


def test_the_service_refuses_to_start_with_the_example_secret_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="DOCSVC_SECRET_KEY") as refused:
        Settings.from_env({"DOCSVC_DATA_DIR": str(tmp_path), "DOCSVC_SECRET_KEY": "change-me-session-key"})
    assert ".env" in str(refused.value) and "secrets.token_urlsafe" in str(refused.value)


def test_the_audit_trail_does_not_keep_a_sensitive_documents_title_in_clear(
        client: FlaskClient, embedded_runtime: Runtime, users: Users) -> None:
    doc_id, _ = _two_page_document(embedded_runtime, "ZJ", "身份证复印件")
    token = users.token("keeper", "archivist")
    with embedded_runtime.sessions() as session:
        set_grants(session, None, find_user(session, "keeper"), ["sensitive"])  # type: ignore[arg-type]
    response = client.patch(f"/api/v1/documents/{doc_id}", json={"title": SENSITIVE_TITLE, "location": "3号库"},
                            headers=_bearer(token))
    assert response.status_code == 200
    with embedded_runtime.sessions() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "document.update")).one()
        assert SENSITIVE_TITLE not in event.detail and "3号库" in event.detail  # type: ignore[operator]


def test_deployment_guide_puts_tls_in_front_and_turns_secure_cookies_on() -> None:
    from pathlib import Path

    guide = (Path(__file__).resolve().parent.parent / "docs" / "deployment.md").read_text()
    assert "DOCSVC_SECURE_COOKIES=1" in guide and "reverse_proxy" in guide and "443" in guide
