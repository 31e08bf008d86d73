"""A person's own account: changing the password, API tokens, and the login limit per address."""
from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from docsvc.runtime import Runtime
from docsvc.config import Settings
from docsvc.governance.accounts import (LOGIN_FAILURES_PER_MINUTE, attempt_login, create_user, find_user,
                                        use_password_cost)
from tests.conftest import PASSWORD, AuthActions, _csrf_from
from tests.test_access_audit import events

NEW_PASSWORD = "a much longer passphrase"


def _log_in(client: FlaskClient, username: str, password: str, ip: str = "127.0.0.1",  # type: ignore[no-untyped-def]
            language: str | None = None):
    token = _csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": ip}, headers={"Accept-Language": language} if language else {})


def _session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_a_wrong_current_password_is_refused_with_a_clear_message_and_audited(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    auth.login("clerk", "viewer")
    answer = client.post("/account/password", data={"current": "not my password", "new": NEW_PASSWORD,
                                                    "csrf_token": auth.csrf("/account")}, follow_redirects=True)
    assert "当前密码不正确" in answer.get_data(as_text=True)
    short = client.post("/account/password", data={"current": PASSWORD, "new": "short",
                                                   "csrf_token": auth.csrf("/account")}, follow_redirects=True)
    assert "至少需要 8 个字符" in short.get_data(as_text=True)
    empty = client.post("/account/password", data={"current": PASSWORD, "csrf_token": auth.csrf("/account")},
                        follow_redirects=True)
    assert "请填写当前密码和新密码" in empty.get_data(as_text=True)
    assert [(e.outcome, e.actor_name) for e in events(embedded_runtime, "account.password")] == [("failed", "clerk")]
    client.post("/logout", data={"csrf_token": auth.csrf("/account")})
    assert _log_in(client, "clerk", PASSWORD).status_code == 302  # unchanged


def test_a_new_password_replaces_the_old_one_rotates_the_session_and_ends_the_others(
        app: Flask, client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    auth.login("clerk", "viewer")
    other_browser = app.test_client()
    assert _log_in(other_browser, "clerk", PASSWORD).status_code == 302
    before = _session_cookie(client)

    changed = client.post("/account/password", data={"current": PASSWORD, "new": NEW_PASSWORD,
                                                     "csrf_token": auth.csrf("/account")}, follow_redirects=True)
    assert changed.status_code == 200 and "密码已修改" in changed.get_data(as_text=True)
    assert _session_cookie(client) != before and client.get("/account").status_code == 200
    assert other_browser.get("/account").status_code == 302  # signed in with the old password: ended
    replayed = app.test_client()
    replayed.set_cookie("session", before)  # a copy of the old cookie is worth nothing either
    assert replayed.get("/account").status_code == 302

    (event,) = events(embedded_runtime, "account.password")
    assert (event.actor_name, event.outcome, event.ip) == ("clerk", "ok", "127.0.0.1")
    fresh = app.test_client()
    assert _log_in(fresh, "clerk", PASSWORD).status_code == 200  # the old password: refused
    assert _log_in(fresh, "clerk", NEW_PASSWORD).status_code == 302


def test_an_api_token_is_shown_once_listed_by_name_and_dead_once_revoked(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    auth.login("clerk", "viewer")
    created = client.post("/account/tokens", data={"name": "报表脚本", "csrf_token": auth.csrf("/account")})
    html = created.get_data(as_text=True)
    token = html.split('<code id="new-token">')[1].split("</code>")[0]
    assert token.startswith("dsv_") and "只显示这一次" in html
    assert created.headers["Cache-Control"] == "no-store"

    listing = client.get("/account").get_data(as_text=True)
    assert "报表脚本" in listing and token not in listing and token[:12] not in listing
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=bearer).get_json()["username"] == "clerk"

    (made,) = events(embedded_runtime, "token.create")
    assert (made.actor_name, made.ip) == ("clerk", "127.0.0.1")
    client.post(f"/account/tokens/{made.object_id}/revoke", data={"csrf_token": auth.csrf("/account")})
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    (revoked,) = events(embedded_runtime, "token.revoke")
    assert (revoked.actor_name, revoked.object_id, revoked.ip) == ("clerk", made.object_id, "127.0.0.1")


def test_someone_else_cannot_revoke_my_token(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    token = users.token("clerk", "viewer")
    (made,) = events(embedded_runtime, "token.create")
    auth.login("other", "viewer")
    refused = client.post(f"/account/tokens/{made.object_id}/revoke", data={"csrf_token": auth.csrf("/account")},
                          follow_redirects=True)
    assert "不存在" in refused.get_data(as_text=True)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_many_failed_logins_from_one_address_are_slowed_whatever_the_usernames(
        app: Flask, client: FlaskClient, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    users.make("clerk", "viewer")
    guesser = "10.9.8.7"
    for n in range(LOGIN_FAILURES_PER_MINUTE):
        assert _log_in(client, f"user{n}", "guess", ip=guesser).status_code == 200
    limited = _log_in(client, "someone-else", "guess", ip=guesser)
    text = limited.get_data(as_text=True)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert "登录失败次数过多" in text and "Too many failed logins" not in text
    right = _log_in(client, "clerk", PASSWORD, ip=guesser, language="en")
    assert right.status_code == 429  # even the right password waits
    assert "Too many failed logins" in right.get_data(as_text=True) and "登录失败次数过多" not in right.get_data(as_text=True)

    colleague = app.test_client()
    assert _log_in(colleague, "clerk", "typo", ip="10.9.8.8").status_code == 200
    assert _log_in(colleague, "clerk", PASSWORD, ip="10.9.8.8").status_code == 302
    outcomes = [e.outcome for e in events(embedded_runtime, "login") if e.ip == guesser]
    assert outcomes.count("failed") == LOGIN_FAILURES_PER_MINUTE and outcomes.count("rate_limited") == 2


def test_successful_logins_from_one_address_do_not_count_towards_the_limit(
        app: Flask, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    users.make("clerk", "viewer")
    office = "10.9.8.9"
    for _ in range(LOGIN_FAILURES_PER_MINUTE + 1):
        assert _log_in(app.test_client(), "clerk", PASSWORD, ip=office).status_code == 302


def test_the_login_limit_holds_across_web_processes_and_lapses_after_a_minute(
        app: Flask, embedded_runtime: Runtime) -> None:
    """Counted in the audit trail, so a second web process (here: a second app on the same database)
    refuses the same address, and a minute later the address may try again."""
    from datetime import timedelta

    from docsvc import create_app
    from docsvc.governance.accounts import failed_logins_from
    from docsvc.governance.accounts import LOGIN_LIMIT_WINDOW

    guesser = "10.9.7.1"
    for n in range(LOGIN_FAILURES_PER_MINUTE):
        assert _log_in(app.test_client(), f"user{n}", "guess", ip=guesser).status_code == 200
    other_process = create_app(runtime=embedded_runtime, start_workers=False)
    assert _log_in(other_process.test_client(), "anyone", "guess", ip=guesser).status_code == 429
    with embedded_runtime.sessions() as session:
        assert failed_logins_from(session, guesser, LOGIN_LIMIT_WINDOW) == LOGIN_FAILURES_PER_MINUTE
        later = events(embedded_runtime, "login")[0].occurred_at + LOGIN_LIMIT_WINDOW + timedelta(seconds=1)
        assert failed_logins_from(session, guesser, LOGIN_LIMIT_WINDOW, now=later) == 0


def test_a_login_rehashes_a_password_stored_at_another_cost(embedded_runtime: Runtime) -> None:
    settings = embedded_runtime.settings
    with embedded_runtime.sessions() as session:
        create_user(session, "cost", PASSWORD, ["operator"])
    try:
        use_password_cost(128, 2)
        with embedded_runtime.sessions() as session:
            made_at = f"m={settings.password_hash_memory_kib},t={settings.password_hash_iterations}"
            assert made_at in find_user(session, "cost").password_hash
            assert attempt_login(session, "cost", PASSWORD).user is not None
        with embedded_runtime.sessions() as session:
            assert "m=128,t=2" in find_user(session, "cost").password_hash
            assert attempt_login(session, "cost", PASSWORD).user is not None
            assert attempt_login(session, "cost", "wrong password").user is None
    finally:
        use_password_cost(settings.password_hash_memory_kib, settings.password_hash_iterations)


def test_passwords_are_hashed_at_the_default_cost_unless_told_otherwise(tmp_path: Path) -> None:
    defaults = Settings.from_env({"DOCSVC_DATA_DIR": str(tmp_path), "DOCSVC_SECRET_KEY": "test"})
    assert (defaults.password_hash_memory_kib, defaults.password_hash_iterations) == (65536, 3)


def _switch(html: str) -> str:
    """The language switch at the top of the page: its target and its label."""
    match = re.search(r'action="/lang/(\w+)".*?id="language-switch">([^<]*)</button>', html, re.S)
    assert match, "no language switch on the page"
    return f"{match.group(1)} {match.group(2)}"


def test_the_language_chosen_on_a_page_follows_the_account_to_another_browser(
        app: Flask, client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    # Nothing chosen yet: Chinese, unless the browser asks for English.
    auth.login("reader", "viewer")
    home = client.get("/").get_data(as_text=True)
    assert 'lang="zh-CN"' in home and ">首页</a>" in home and _switch(home) == "en English"
    asked = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert 'lang="en"' in asked and ">Home</a>" in asked and _switch(asked) == "zh 中文"

    # Switched on a page while logged in: kept on the account.
    client.post("/lang/en", data={"csrf_token": auth.csrf("/")})
    with embedded_runtime.sessions() as session:
        assert find_user(session, "reader").language == "en"  # type: ignore[union-attr]

    # A fresh browser (no cookie) asking for Chinese: English once logged in, since the account says so.
    other = app.test_client()
    chinese = {"Accept-Language": "zh-CN,zh;q=0.9"}
    token = _csrf_from(other.get("/login").get_data(as_text=True))
    assert other.post("/login", data={"username": "reader", "password": PASSWORD, "csrf_token": token}).status_code == 302
    page = other.get("/", headers=chinese).get_data(as_text=True)
    assert 'lang="en"' in page and ">Home</a>" in page and _switch(page) == "zh 中文"

    # Switching back is kept the same way, and the account outweighs the first browser's cookie and header.
    other.post("/lang/zh", data={"csrf_token": _csrf_from(page)})
    with embedded_runtime.sessions() as session:
        assert find_user(session, "reader").language == "zh"  # type: ignore[union-attr]
    assert ">首页</a>" in client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
