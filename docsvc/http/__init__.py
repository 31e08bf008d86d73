"""The HTTP layer the web pages (docsvc.web) and the REST API (docsvc.api) share, as siblings: the request's
session and runtime, the client address, audit events for the request, the access gate, sending stored
objects, reading uploads, security headers, the error map, and the probes and metrics (monitoring).
Neither web nor API imports the other."""
from __future__ import annotations

from flask import Flask, Response, current_app
from flask_babel import Babel

from docsvc import i18n, labels, localtime
from docsvc.governance.access import Action, can, rule
from docsvc.http import errors, gate, monitoring
from docsvc.http.auditing import audit_content_access, audit_event
from docsvc.http.context import client_ip, close_db, db, is_api, lang, runtime, runtime_of
from docsvc.http.security import security_headers

__all__ = ["audit_content_access", "audit_event", "client_ip", "db", "init_app", "is_api", "lang", "runtime", "runtime_of"]


def init_app(app: Flask) -> None:
    """Everything a request passes through, before and after the blueprints' views."""
    settings = runtime_of(app).settings
    app.config.update(SESSION_COOKIE_SECURE=settings.secure_cookies, REMEMBER_COOKIE_SECURE=settings.secure_cookies,
                      REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax")
    monitoring.init_app(app)  # first: its timing covers the gate too
    gate.init_app(app)
    app.after_request(audit_content_access)
    app.after_request(security_headers)
    app.teardown_appcontext(close_db)
    errors.init_app(app)
    # Flask-Babel picks the request's locale; the catalogues are read by docsvc.i18n alone, and templates
    # translate through that same lookup as the Python code, not a second one.
    Babel(app, locale_selector=lambda: i18n.LOCALES[lang()])
    app.jinja_env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    app.jinja_env.globals.update(lang=lang, can=lambda user, action: can(user, Action(action)),
                                 label=labels.label)
    zone = settings.timezone
    app.jinja_env.globals["zone"] = zone.key
    app.jinja_env.filters.update(
        when=lambda moment, seconds=False: localtime.moment_text(moment, lang(), zone, seconds=seconds),
        day=lambda value: localtime.day_text(value, lang(), zone), shown=i18n.shown)
    app.view_functions["static"] = _static


def exempt_from_csrf(blueprint: object) -> None:
    """The API authenticates with bearer tokens, not cookies: no CSRF token to check."""
    gate.csrf.exempt(blueprint)  # type: ignore[arg-type]


@rule(Action.PUBLIC)
def _static(filename: str) -> Response:
    """Scripts and styles: public, since the login page needs them too."""
    return current_app.send_static_file(filename)
