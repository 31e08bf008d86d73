"""Errors for people: every error page and JSON error is in the reader's language, says what to do, and
carries a reference that is in the log next to the cause."""
from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from docsvc.governance.access import Action, rule


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
