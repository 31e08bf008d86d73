"""The access gate every request passes: who is asking (session cookie or bearer token), then the route's
declared rule (docsvc.governance.access), then, for content routes, the object check with its loan."""
from __future__ import annotations

import time
from datetime import timedelta

from flask import Flask, abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask import session as cookie_session
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect

from docsvc.errors import TooManyRequests
from docsvc.governance.access import (CONTENT_ACTIONS, HANDLING_ACTIONS, SENSITIVE_REFUSAL, Action, SensitiveRefused,
                                      can, content_grant, declared_rule, reads_content_by_duty)
from docsvc.governance.accounts import TOKEN_FAILURE, failed_logins_from, user_for_token
from docsvc.http.auditing import audit_event, content_event, object_kind
from docsvc.http.context import client_ip, db, is_api, runtime
from docsvc.http.monitoring import is_probe
from docsvc.i18n import _
from docsvc.models import Document, Page, User

csrf = CSRFProtect()
login_manager = LoginManager()


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(_load_user)
    login_manager.session_protection = "strong"
    app.before_request(gate)


def _load_user(session_id: str) -> User | None:
    """The session's user, unless disabled or their password changed since the session began."""
    user_id = session_id.partition(":")[0]
    user = db().get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active and user.get_id() == session_id else None


def gate() -> object | None:
    """Authenticate, then apply the route's declared rule; a route without a rule is refused."""
    view = request.endpoint and current_app.view_functions.get(request.endpoint)
    if view is None:
        return None
    action = declared_rule(view)
    if action is None:
        abort(403, description="route has no access rule")
    if action == Action.PUBLIC and is_probe(view):
        g.user = None  # a probe must answer when the database is down: no session or token lookup
        return None
    user = _actor()
    g.user = user
    if action == Action.PUBLIC:
        return None
    if user is None:
        if is_api():
            return jsonify(error=_("Authentication required: send 'Authorization: Bearer <token>'.")), 401
        flash(_("Please log in first."))
        return redirect(url_for("auth.login", next=request.full_path))
    if not can(user, action):
        audit_event("access.denied", outcome="denied", commit=True,
                    detail={"endpoint": request.endpoint, "method": request.method, "path": request.path})
        abort(403)
    if action in CONTENT_ACTIONS:
        _check_content(user, action)
    elif action in HANDLING_ACTIONS:
        _check_handling(user, action)
    return None


def _check_handling(user: User, action: Action) -> None:
    """Object check for routes changing a named page or document: a sensitive one needs the grant.
    A missing id is left to the view (404): these roles may see which documents exist."""
    obj = _content_object(request.view_args or {})
    if obj is not None and not can(user, action, obj):
        audit_event("access.denied", object_type=object_kind(obj), object_id=obj.id, outcome="denied", commit=True,
                    detail={"endpoint": request.endpoint, "method": request.method, "reason": "sensitive"})
        raise SensitiveRefused(str(SENSITIVE_REFUSAL))


def _content_object(view_args: dict[str, object]) -> Page | Document | None:
    if "page_id" in view_args:
        return db().get(Page, view_args["page_id"])
    if "document_id" in view_args:
        return db().get(Document, view_args["document_id"])
    return None


def _check_content(user: User, action: Action) -> None:
    """Object check for page and document bytes: by duty, or under a loan covering the file.

    Refusals are audited (an IDOR attempt is an event), and the grant is kept so the view's audit
    entry carries the loan id.
    """
    args = request.view_args or {}
    obj = _content_object(args)
    if obj is None:
        named = {"page_id", "document_id"} & args.keys()
        if not named:
            g.grant = None  # a content route without an object: role-level only
            return
        if reads_content_by_duty(user):
            abort(404)
        # Someone without duty rights learns nothing, not even whether the id exists.
        kind = "page" if "page_id" in named else "document"
        _deny(kind, args[f"{kind}_id"])
    grant = content_grant(db(), user, obj, action)
    if grant is None:
        _deny(object_kind(obj), obj.id)
    g.grant = grant
    g.content_object = obj


def _deny(kind: str, ident: object) -> None:
    audit_event(content_event(), object_type=kind, object_id=str(ident), outcome="denied", commit=True)
    abort(403)


def _actor() -> User | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return _token_user(header.removeprefix("Bearer ").strip())
    if is_api():
        return None  # the API never rides on a browser session: no CSRF exposure
    if not current_user.is_authenticated:
        return None
    if not _session_current():
        logout_user()
        cookie_session.clear()
        flash(_("Your session ended (idle too long, or open longer than allowed): log in again."))
        return None
    return current_user  # type: ignore[return-value]


# Refused API tokens per client address and minute before the address must wait (like failed logins).
TOKEN_FAILURES_PER_MINUTE = 20
TOKEN_LIMIT_WINDOW = timedelta(seconds=60)


class TooManyTokenFailures(TooManyRequests):
    pass


def _token_user(token: str) -> User | None:
    """The token's user; a refused token is audited, and an address refused too often waits a minute."""
    address = client_ip()
    if address and failed_logins_from(db(), address, TOKEN_LIMIT_WINDOW, action=TOKEN_FAILURE) >= TOKEN_FAILURES_PER_MINUTE:
        raise TooManyTokenFailures(_("Too many invalid API tokens from this network address: wait a minute, and check that the token has not been revoked."))
    user = user_for_token(db(), token)
    if user is None:
        # Never the token itself: a near-miss of a real token must not land in the trail.
        audit_event(TOKEN_FAILURE, outcome="failed", commit=True,
                    detail={"path": request.path, "method": request.method})
    return user


def start_session(user: User) -> None:
    """A fresh session for `user` (nothing planted before it survives), stamped for the idle and age limits."""
    cookie_session.clear()
    login_user(user)
    now = int(time.time())
    cookie_session["auth_at"], cookie_session["seen_at"] = now, now


# The last-seen stamp is rewritten at most this often, so not every request sends a new cookie.
_SEEN_RESOLUTION_S = 60


def _session_current() -> bool:
    """Whether the browser session is within its idle timeout and maximum age (settings); the generation
    check (logout ends every session) is in _load_user."""
    settings = runtime().settings
    now = int(time.time())
    started, seen = cookie_session.get("auth_at"), cookie_session.get("seen_at")
    if not isinstance(started, int) or not isinstance(seen, int):
        return False
    if now - started > settings.session_max_hours * 3600 or now - seen > settings.session_idle_minutes * 60:
        return False
    if now - seen >= _SEEN_RESOLUTION_S:
        cookie_session["seen_at"] = now
    return True
