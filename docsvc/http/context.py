"""What a request knows about itself: the runtime, its database session, the client address, the language."""
from __future__ import annotations

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from docsvc.i18n import DEFAULT, LANGUAGES
from docsvc.runtime import Runtime


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["docsvc"]


def runtime() -> Runtime:
    return runtime_of(current_app)


def db() -> Session:
    """One session per request, closed at teardown."""
    if "db" not in g:
        g.db = runtime().sessions()
    return g.db


def close_db(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def client_ip() -> str | None:
    return request.remote_addr


def lang() -> str:
    """The language the person chose (kept on their account, or the switch's cookie before logging in),
    else the browser's Accept-Language, else Chinese."""
    chosen = getattr(g.get("user"), "language", "") or request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT) or DEFAULT


def is_api() -> bool:
    return request.path.startswith("/api/")
