"""Errors for people: every error page and JSON error is in the reader's language, says what to do, and
carries a reference that is in the log next to the cause."""
from __future__ import annotations

import logging
import re

import pytest
from flask import Flask, abort
from flask.testing import FlaskClient

from docsvc.constants import MAX_LOAN_DAYS
from docsvc.governance.access import Action, rule
from docsvc.runtime import Runtime
from tests.conftest import AuthActions, Users
from tests.test_access_audit import ACCOUNT_A, make_document


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    """The app with one page and one API route that fail unexpectedly, answered as in service (not raised
    into the test, as TESTING would)."""
    @rule(Action.PUBLIC)
    def boom() -> object:
        raise RuntimeError("disk on fire")

    app.add_url_rule("/boom", "boom", boom)
    app.add_url_rule("/api/v1/boom", "api_boom", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def test_an_unexpected_error_says_what_to_do_with_a_reference_that_is_in_the_log(
        failing_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    client = failing_app.test_client()
    with caplog.at_level(logging.ERROR, logger="docsvc.http.errors"):
        page = client.get("/boom")
    html = page.get_data(as_text=True)
    assert page.status_code == 500
    assert "系统内部出错" in html and "Internal Server Error" not in html
    reference = html.split('<code>')[1].split('</code>')[0]
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and logged[0].exc_info and "disk on fire" in str(logged[0].exc_info[1])

    english = client.get("/boom", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert "Something went wrong inside docsvc" in english and "系统内部出错" not in english

    api = client.get("/api/v1/boom")
    body = api.get_json()
    assert api.status_code == 500 and body["reference"] and body["reference"] in body["error"]


def test_not_found_and_wrong_method_answer_in_the_browsers_language(client: FlaskClient) -> None:
    missing = client.get("/no/such/page", headers={"Accept-Language": "en"})
    assert missing.status_code == 404 and "Not found" in missing.get_data(as_text=True)
    assert "error-reference" in missing.get_data(as_text=True)
    chinese = client.get("/no/such/page")  # no preference: Chinese
    assert "找不到该页面" in chinese.get_data(as_text=True)
    api = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "en"})
    assert api.status_code == 404 and api.get_json()["reference"]
    wrong = client.delete("/login")
    assert wrong.status_code == 405 and "此地址不支持这种操作" in wrong.get_data(as_text=True)


def test_the_language_switch_outranks_the_browser(client: FlaskClient) -> None:
    client.set_cookie("lang", "zh")
    page = client.get("/no/such/page", headers={"Accept-Language": "en"})
    assert "找不到该页面" in page.get_data(as_text=True)


CJK = re.compile(r"[\u3400-\u9fff]")


def test_api_refusals_answer_in_the_clients_language_and_in_chinese_by_default(
        client: FlaskClient, embedded_runtime: Runtime, users: Users) -> None:
    """An API client's Accept-Language chooses the language of its refusals, as a browser's does."""
    id_copy, _page = make_document(embedded_runtime, ACCOUNT_A, doc_type="ZJ", title="张三身份证")
    archivist = {"Authorization": f"Bearer {users.token('keeper', 'archivist')}"}
    refusals = [  # what is sent, the status, the English and the Chinese that say why
        (("post", "/api/v1/loans", {"document_ids": ["abc"], "purpose": "核查", "days": 7}, archivist), 400,
         "document_ids.0 must be a whole number.", "参数 document_ids.0 应为整数。"),
        (("get", "/api/v1/me", None, {"Authorization": "Bearer dsv_nonsense"}), 401,
         "Authentication required", "需要登录"),
        (("patch", f"/api/v1/documents/{id_copy}", {"location": "A-12"}, archivist), 403,
         "This is a sensitive document", "这是敏感材料"),
    ]
    for (method, path, body, headers), status, english, chinese in refusals:
        for language, expected in (("en", english), (None, chinese)):
            asked = headers | ({"Accept-Language": language} if language else {})
            response = getattr(client, method)(path, json=body, headers=asked)
            error = response.get_json()["error"]
            assert response.status_code == status and expected in error, (path, language, error)
            # one language only: no Chinese in the English answer, no English sentence beside the Chinese
            assert bool(CJK.search(error)) == (language is None), (path, language, error)
            assert language is None or english in error


def test_a_refused_loan_request_is_explained_in_the_readers_language(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("clerk", "viewer")
    too_long = {"customer_account": ACCOUNT_A, "purpose": "核查", "days": str(MAX_LOAN_DAYS + 1)}
    english = client.post("/loans/", data=too_long | {"csrf_token": auth.csrf("/loans/")},
                          headers={"Accept-Language": "en"})
    text = english.get_data(as_text=True)
    assert english.status_code == 400 and f"The term must be 1 to {MAX_LOAN_DAYS} days." in text
    assert "借阅期限" not in text
    chinese = client.post("/loans/", data=too_long | {"csrf_token": auth.csrf("/loans/")})
    text = chinese.get_data(as_text=True)
    assert chinese.status_code == 400 and f"借阅期限须为 1 至 {MAX_LOAN_DAYS} 天。" in text
    assert "The term must be" not in text


def test_a_refusal_werkzeug_names_is_told_in_the_readers_language(app: Flask) -> None:
    @rule(Action.PUBLIC)
    def picky() -> object:
        abort(415)

    app.add_url_rule("/api/v1/picky", "api_picky", picky)
    client = app.test_client()
    english = client.get("/api/v1/picky", headers={"Accept-Language": "en"}).get_json()["error"]
    assert "HTTP 415, Unsupported Media Type" in english and "Check what was sent" in english
    chinese = client.get("/api/v1/picky").get_json()["error"]
    assert "HTTP 415" in chinese and CJK.search(chinese) and "Check what was sent" not in chinese
