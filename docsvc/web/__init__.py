"""Web layer: blueprints, login, CSRF, and the access gate every request passes."""
from __future__ import annotations

from flask import Flask, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from docsvc.access import Action, can, declared_rule
from docsvc.errors import DomainError
from docsvc.i18n import LANGUAGES, translate
from docsvc.models import User
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
    from docsvc.api import v1
    from docsvc.web import auth, batches, documents, search

    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(_load_user)
    for bp in (auth.bp, batches.bp, documents.bp, search.bp):
        app.register_blueprint(bp)
    app.register_blueprint(v1.bp)
    csrf.exempt(v1.bp)  # the API authenticates with bearer tokens, not cookies
    app.before_request(_gate)
    app.teardown_appcontext(_close_db)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(DomainError, _domain_error)
    app.jinja_env.globals.update(t=t, lang=lang)
    app.add_url_rule("/healthz", "healthz", _healthz)


def _load_user(user_id: str) -> User | None:
    user = db().get(User, int(user_id))
    return user if user is not None and user.active else None


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
        abort(403)
    return None


def _view(endpoint: str):  # type: ignore[no-untyped-def]
    from flask import current_app

    return current_app.view_functions.get(endpoint)


def _actor() -> User | None:
    from docsvc.services.accounts import user_for_token

    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return user_for_token(db(), header.removeprefix("Bearer ").strip())
    if is_api():
        return None  # the API never rides on a browser session: no CSRF exposure
    return current_user if current_user.is_authenticated else None  # type: ignore[return-value]


def _healthz() -> object:
    return {"status": "ok"}


_healthz._docsvc_access_rule = Action.PUBLIC  # type: ignore[attr-defined]


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
