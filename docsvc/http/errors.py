"""Errors as the web pages and the API answer them: the one map from domain errors to HTTP statuses."""
from __future__ import annotations

from flask import Flask, current_app, jsonify, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from docsvc.errors import Conflict, Corrupted, DomainError, Forbidden, NotFound, TooManyRequests
from docsvc.http.context import is_api, t
from docsvc.pipeline.intake import too_large_message

# Most specific first: NotAllowedNow is a Conflict, DuplicateAccount a CustomerError and a Conflict.
STATUSES: tuple[tuple[type[DomainError], int], ...] = ((NotFound, 404), (Forbidden, 403), (Conflict, 409),
                                                     (TooManyRequests, 429), (Corrupted, 500))


def status_for(exc: DomainError) -> int:
    return next((status for kind, status in STATUSES if isinstance(exc, kind)), 400)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(DomainError, _domain_error)


def _http_error(exc: HTTPException) -> object:
    messages = {403: "forbidden", 404: "not_found"}
    text = t(messages[exc.code]) if exc.code in messages else (exc.description or exc.name)
    if exc.code == 413:  # werkzeug refuses a body above MAX_CONTENT_LENGTH from its Content-Length, unread
        text = too_large_message("上传内容", "The upload", None, current_app.config["MAX_CONTENT_LENGTH"] // 2**20)
    if is_api():
        return jsonify(error=text), exc.code
    return render_template("error.html", code=exc.code, message=text), exc.code


def _csrf_error(exc: CSRFError) -> object:
    text = "表单已过期或来源不明，请刷新页面后重试。 / The form expired or did not come from this site; reload and try again."
    return render_template("error.html", code=400, message=text), 400


def _domain_error(exc: DomainError) -> object:
    status = status_for(exc)
    if is_api():
        return jsonify(error=exc.message), status
    return render_template("error.html", code=status, message=exc.message), status
