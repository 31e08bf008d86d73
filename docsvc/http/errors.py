"""Errors as the web pages and the API answer them: the one map from domain errors to HTTP statuses, and
every error answer in the reader's language, saying what to do, with a reference that is in the log."""
from __future__ import annotations

import logging
import secrets

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from docsvc.errors import Conflict, Corrupted, DomainError, Forbidden, NotFound, TooManyRequests, Unavailable
from docsvc.http.context import is_api
from docsvc.i18n import _, lazy_gettext as _l
from docsvc.pipeline.intake import too_large_message
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
    app.register_error_handler(InternalServerError, _server_error)


def answer(status: int, text: str, *, reference: str | None = None,
           headers: dict[str, str] | None = None) -> tuple[object, int, dict[str, str]]:
    """The error page or JSON body; the same reference goes to the log, so a person can quote it."""
    reference = reference or secrets.token_hex(4).upper()
    log.log(logging.ERROR if status >= 500 else logging.INFO, "HTTP %d %s %s [ref %s]: %s", status,
            request.method, request.path, reference, text)
    headers = headers or {}
    if is_api():
        return jsonify(error=text, reference=reference), status, headers
    return render_template("error.html", code=status, message=text, reference=reference), status, headers


def _http_error(exc: HTTPException) -> object:
    code = exc.code or 500
    if code >= 500:
        return _server_error(exc)
    messages = {403: _l("You are not allowed to do this. Ask the records manager for access if you need it."),
                404: _l("Not found: it may have been removed, or the link is wrong."),
                405: _l("This address does not accept that kind of request. Use the page's buttons and links instead of typing the address.")}
    if code in messages:
        text = str(messages[code])
    elif code == 413:  # werkzeug refuses a body above MAX_CONTENT_LENGTH from its Content-Length, unread
        text = too_large_message(current_app.config["MAX_CONTENT_LENGTH"] // 2**20)
    elif exc.description and exc.description != type(exc).description:
        text = exc.description  # our own message (abort(400, description=_(...))), in the reader's language
    elif code == 400:
        text = _("The request was incomplete or malformed. Check what you entered and try again.")
    else:  # werkzeug's own refusals (411, 415, 431 …): its description is in English only
        text = _("This request cannot be answered (HTTP %(code)s, %(name)s). Check what was sent and try again.",
                 code=code, name=exc.name)
    return answer(code, text)


def _csrf_error(exc: CSRFError) -> object:
    text = _("The form expired or did not come from this site; reload and try again.")
    return answer(400, text)


def _domain_error(exc: DomainError) -> object:
    return answer(status_for(exc), exc.message, headers=retry_after(exc))


def _database_down(exc: OperationalError) -> object:
    # The pool checks each connection before use (pool_pre_ping): a database that restarted is reconnected
    # to without this; it answers only while the database cannot be reached at all.
    return _unreachable(exc, _("The database cannot be reached right now, so nothing was done. Try again in a "
                               "minute or two; if it still fails, ask the administrator to check the database "
                               "(PostgreSQL)."))


def _store_down(exc: StoreUnavailable) -> object:
    return _unreachable(exc, _("The object store cannot be reached right now. Try again in a minute or two; if it "
                               "still fails, ask the administrator to check the MinIO / object store service."))


def _unreachable(exc: Exception, text: str) -> object:
    """A service the request needs is down: logged, and a 503 saying to wait, then to call the administrator."""
    log.error("service unreachable (%s): %s", type(exc).__name__, exc)
    return _domain_error(Unavailable(text))


def _server_error(exc: HTTPException) -> object:
    """An unexpected failure: logged with its traceback under a reference the page shows."""
    reference = secrets.token_hex(4).upper()
    cause = getattr(exc, "original_exception", None) or exc
    log.error("unexpected error [ref %s] on %s %s", reference, request.method, request.path,
              exc_info=(type(cause), cause, cause.__traceback__))
    return answer(500, _("Something went wrong inside docsvc and your action may not have been completed. Try again later; if it keeps failing, give the administrator the reference %(reference)s.", reference=reference), reference=reference)
