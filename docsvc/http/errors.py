"""Errors as the web pages and the API answer them: the one map from domain errors to HTTP statuses."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from docsvc.errors import Conflict, Corrupted, DomainError, Forbidden, NotFound, TooManyRequests, Unavailable
from docsvc.http.context import is_api, t
from storage import StoreUnavailable

log = logging.getLogger(__name__)

# Most specific first: NotAllowedNow is a Conflict, DuplicateAccount a CustomerError and a Conflict.
STATUSES: tuple[tuple[type[DomainError], int], ...] = ((NotFound, 404), (Forbidden, 403), (Conflict, 409),
                                                     (TooManyRequests, 429), (Corrupted, 500), (Unavailable, 503))


# How long a client is told to wait before sending a request refused for an unreachable service again.
RETRY_AFTER_S = 30


def status_for(exc: DomainError) -> int:
    return next((status for kind, status in STATUSES if isinstance(exc, kind)), 400)


def retry_after(exc: DomainError) -> dict[str, str]:
    """The Retry-After header for a refusal that waiting mends (503), else none."""
    return {"Retry-After": str(RETRY_AFTER_S)} if isinstance(exc, Unavailable) else {}


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(OperationalError, _database_down)
    app.register_error_handler(StoreUnavailable, _store_down)


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
    status = status_for(exc)
    if is_api():
        return jsonify(error=exc.message), status, retry_after(exc)
    return render_template("error.html", code=status, message=exc.message), status, retry_after(exc)


def _database_down(exc: OperationalError) -> object:
    # The pool checks each connection before use (pool_pre_ping): a database that restarted is reconnected
    # to without this; it answers only while the database cannot be reached at all.
    log.error("database unreachable: %s", exc)
    return _domain_error(Unavailable(
        "数据库暂时无法访问，本次操作未完成。请一两分钟后重试；如仍失败，请联系系统管理员检查数据库（PostgreSQL）。 / "
        "The database cannot be reached right now, so nothing was done. Try again in a minute or two; if it "
        "still fails, ask the administrator to check the database (PostgreSQL)."))


def _store_down(exc: StoreUnavailable) -> object:
    log.error("object store unreachable: %s", exc)
    return _domain_error(Unavailable(
        "对象存储暂时无法访问，请一两分钟后重试；如仍失败，请联系系统管理员检查 MinIO/对象存储服务。 / The object store "
        "cannot be reached right now. Try again in a minute or two; if it still fails, ask the administrator to "
        "check the MinIO / object store service."))
