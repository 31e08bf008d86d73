"""Web layer: blueprints, login, CSRF, and the access gate every request passes."""
from __future__ import annotations

from datetime import date

from flask import Flask, Response, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from docsvc.governance.access import CONTENT_ACTIONS, CONTENT_ROLES, Action, can, content_grant, declared_rule
from docsvc.errors import DomainError
from docsvc.i18n import LANGUAGES, translate
from docsvc.models import Document, Page, User
from docsvc.runtime import Runtime

csrf = CSRFProtect()
login_manager = LoginManager()


def runtime() -> Runtime:
    from flask import current_app

    return current_app.extensions["docsvc"]


def db() -> Session:
    """One session per request, closed at teardown."""
    if "db" not in g:
        g.db = runtime().sessions()
    return g.db


def lang() -> str:
    chosen = request.cookies.get("lang")
    return chosen if chosen in LANGUAGES else "zh"


def t(key: str, **params: object) -> str:
    return translate(key, lang(), **params)


def is_api() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    from docsvc.api import loans_audit, v1
    from docsvc.api import customers as customers_api
    from docsvc.api import destruction as destruction_api
    from docsvc.web import customers, destruction, doctypes, inbox
    from docsvc.web import admin, audit as audit_views, auth, batches, documents, loans, search

    app.config.update(SESSION_COOKIE_SECURE=runtime_of(app).settings.secure_cookies,
                      REMEMBER_COOKIE_SECURE=runtime_of(app).settings.secure_cookies,
                      REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax")
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(_load_user)
    login_manager.session_protection = "strong"
    for bp in (auth.bp, batches.bp, documents.bp, search.bp, admin.bp, loans.bp, audit_views.bp, customers.bp, inbox.bp,
               doctypes.bp, destruction.bp):
        app.register_blueprint(bp)
    for api_bp in (v1.bp, loans_audit.bp, customers_api.bp, destruction_api.bp):
        app.register_blueprint(api_bp)
        csrf.exempt(api_bp)  # the API authenticates with bearer tokens, not cookies
    app.before_request(_gate)
    app.after_request(audit_content_access)
    app.after_request(_security_headers)
    app.teardown_appcontext(_close_db)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(DomainError, _domain_error)
    app.jinja_env.globals.update(t=t, lang=lang, can=lambda user, action: can(user, Action(action)))
    app.add_url_rule("/healthz", "healthz", _healthz)
    app.view_functions["static"] = _static


def _load_user(session_id: str) -> User | None:
    """The session's user, unless disabled or their password changed since the session began."""
    user_id = session_id.partition(":")[0]
    user = db().get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active and user.get_id() == session_id else None


def _close_db(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def _gate() -> object | None:
    """Authenticate, then apply the route's declared rule; a route without a rule is refused."""
    view = request.endpoint and _view(request.endpoint)
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
        if user.role_set & CONTENT_ROLES:
            abort(404)
        # Someone without duty rights learns nothing, not even whether the id exists.
        kind = "page" if "page_id" in named else "document"
        _deny(kind, args[f"{kind}_id"])
    grant = content_grant(db(), user, obj, action)
    if grant is None:
        _deny(_kind(obj), obj.id)
    g.grant = grant
    g.content_object = obj


def _deny(kind: str, ident: object) -> None:
    audit_event(_CONTENT_EVENTS.get(request.endpoint or "", "content"), object_type=kind,
                object_id=str(ident), outcome="denied", commit=True)
    abort(403)


def _kind(obj: object) -> str:
    return "page" if isinstance(obj, Page) else "document"


# What each content route's access is called in the audit trail.
_CONTENT_EVENTS = {
    "documents.page": "page.view", "documents.page_image": "page.image",
    "documents.page_thumbnail": "page.thumbnail", "documents.page_words_json": "page.words",
    "documents.original": "document.download", "documents.print_document": "document.print",
    "api_v1.get_page_json": "page.text",
    "api_v1.page_image": "page.image", "api_v1.page_thumbnail": "page.thumbnail",
    "api_v1.page_words_json": "page.words",
}


def client_ip() -> str | None:
    return request.remote_addr


def audit_event(action: str, *, object_type: str | None = None, object_id: str | int | None = None,
                outcome: str = "ok", purpose: str | None = None, loan_id: int | None = None,
                detail: dict | None = None, commit: bool = False, read: bool = False) -> None:
    """Record an event for the current request (actor, IP and loan filled in); the caller commits
    with its change, or passes commit=True when the request changes nothing else. `read` marks an
    event recording a read of content, whose commit need not wait for the disk (unless configured)."""
    from docsvc.governance import audit

    grant = g.get("grant")
    audit.record(db(), g.get("user"), action, object_type=object_type, object_id=object_id,
                 outcome=outcome, purpose=purpose, ip=client_ip(), detail=detail,
                 loan_id=loan_id if loan_id is not None else (grant.loan_id if grant else None),
                 durable=not read or runtime().settings.audit_durable_reads)
    if commit:
        db().commit()
        _anchor_if_due()


def audit_content_access(response: Response) -> Response:
    """Every successful read of page or document content is an audit event, loan id included."""
    obj = g.get("content_object")
    if obj is not None and response.status_code < 400:
        audit_event(_CONTENT_EVENTS.get(request.endpoint or "", "content"), object_type=_kind(obj),
                    object_id=obj.id, commit=True, read=True)
    return response


_anchored_on: dict[str, date] = {}


def _anchor_if_due() -> None:
    """Write the day's anchor with the first event of the day this process records."""
    from docsvc.governance import audit
    from docsvc.models import utcnow

    today = utcnow().date()
    if _anchored_on.get("day") == today:
        return
    store = runtime().store
    if audit.anchor_due(store, today):
        audit.write_anchor(db(), store)
    _anchored_on["day"] = today


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["docsvc"]


# Scripts and styles come only from this site's files (static/): no inline <script>, on*= handler,
# javascript: URL, <style> block or style= attribute, so an injected tag or attribute runs nothing even
# if escaping fails somewhere. JSON data blocks (<script type="application/json">) are not run, so
# they are allowed. Not framable (clickjacking), no plugins, forms post only here.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _view(endpoint: str):  # type: ignore[no-untyped-def]
    from flask import current_app

    return current_app.view_functions.get(endpoint)


def _actor() -> User | None:
    from docsvc.governance.accounts import user_for_token

    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return user_for_token(db(), header.removeprefix("Bearer ").strip())
    if is_api():
        return None  # the API never rides on a browser session: no CSRF exposure
    return current_user if current_user.is_authenticated else None  # type: ignore[return-value]


def _healthz() -> object:
    return {"status": "ok"}


_healthz._docsvc_access_rule = Action.PUBLIC  # type: ignore[attr-defined]


def _static(filename: str) -> Response:
    """Scripts and styles: public, since the login page needs them too."""
    from flask import current_app

    return current_app.send_static_file(filename)


_static._docsvc_access_rule = Action.PUBLIC  # type: ignore[attr-defined]


def _http_error(exc: HTTPException) -> object:
    messages = {403: "forbidden", 404: "not_found"}
    text = t(messages[exc.code]) if exc.code in messages else (exc.description or exc.name)
    if is_api():
        return jsonify(error=text), exc.code
    return render_template("error.html", code=exc.code, message=text), exc.code


def _csrf_error(exc: CSRFError) -> object:
    text = "表单已过期或来源不明，请刷新页面后重试。 / The form expired or did not come from this site; reload and try again."
    return render_template("error.html", code=400, message=text), 400


def _domain_error(exc: DomainError) -> object:
    if is_api():
        return jsonify(error=exc.message), exc.status
    return render_template("error.html", code=exc.status, message=exc.message), exc.status
