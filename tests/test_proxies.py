"""The client's address behind a reverse proxy: forwarded headers are believed from the configured
proxies only (DOCSVC_TRUSTED_PROXIES), so limits and the audit trail see people, not the proxy."""
from __future__ import annotations

from flask import Flask

from docsvc import create_app
from docsvc.runtime import Runtime
from tests.conftest import _csrf_from
from tests.test_access_audit import events

PROXY, CLIENT, STRANGER = "10.0.0.5", "203.0.113.7", "198.51.100.9"


def _app(runtime: Runtime, **settings: object) -> Flask:
    runtime.settings = runtime.settings.with_(**settings)
    app = create_app(runtime=runtime)
    app.config.update(TESTING=True)
    return app


def _failed_login_from(app: Flask, peer: str, forwarded_for: str | None) -> str | None:
    client = app.test_client()
    token = _csrf_from(client.get("/login").get_data(as_text=True))
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    client.post("/login", data={"username": "nobody", "password": "wrong password", "csrf_token": token},
                headers=headers, environ_base={"REMOTE_ADDR": peer})
    return events(app.extensions["docsvc"], "login")[0].ip  # newest first


def test_a_trusted_proxy_names_the_client_and_anyone_else_is_taken_at_its_own_address(
        embedded_runtime: Runtime) -> None:
    from ipaddress import ip_network

    app = _app(embedded_runtime, trusted_proxies=(ip_network("10.0.0.0/24"),))
    assert _failed_login_from(app, PROXY, CLIENT) == CLIENT
    # a client reaching the service directly cannot claim another address
    assert _failed_login_from(app, STRANGER, CLIENT) == STRANGER
    assert _failed_login_from(app, PROXY, None) == PROXY


def test_with_two_proxies_the_address_before_both_is_the_client(embedded_runtime: Runtime) -> None:
    from ipaddress import ip_network

    app = _app(embedded_runtime, trusted_proxies=(ip_network("10.0.0.5/32"),), proxy_hops=2)
    assert _failed_login_from(app, PROXY, f"{CLIENT}, 10.9.9.9") == CLIENT


def test_without_a_proxy_setting_forwarded_headers_are_ignored(embedded_runtime: Runtime) -> None:
    app = _app(embedded_runtime)
    assert _failed_login_from(app, STRANGER, CLIENT) == STRANGER
