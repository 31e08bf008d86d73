"""The access gate every request passes: who is asking (session cookie or bearer token), then the route's
declared rule (docsvc.governance.access), then, for content routes, the object check with its loan."""
from __future__ import annotations

from flask import Flask, abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from docsvc.governance.access import CONTENT_ACTIONS, Action, can, content_grant, declared_rule, reads_content_by_duty
from docsvc.governance.accounts import user_for_token
from docsvc.http.auditing import audit_event, content_event, object_kind
from docsvc.http.context import db, is_api, t
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
    user = _actor()
    g.user = user
    if action == Action.PUBLIC:
        return None
    if user is None:
        if is_api():
            return jsonify(error="需要登录或有效的 API 令牌。 / Authentication required: send "
                                 "'Authorization: Bearer <token>'."), 401
        flash(t("login_required"))
        return redirect(url_for("auth.login", next=request.full_path))
    if not can(user, action):
        audit_event("access.denied", outcome="denied", commit=True,
                    detail={"endpoint": request.endpoint, "method": request.method, "path": request.path})
        abort(403)
    if action in CONTENT_ACTIONS:
        _check_content(user, action)
    return None


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
        return user_for_token(db(), header.removeprefix("Bearer ").strip())
    if is_api():
        return None  # the API never rides on a browser session: no CSRF exposure
    return current_user if current_user.is_authenticated else None  # type: ignore[return-value]
