"""Interface language: Chinese first, English second.

Every user-facing string is written in English inside `gettext` (`_`) in the code and templates; the
Chinese lives in the message catalogue docsvc/translations/zh_CN (docs/translating.md). This module is the
one place that knows where a text's language comes from: inside a web request, Flask-Babel's locale
(the person's setting, else the switch's cookie, else Accept-Language, else Chinese — docsvc.http.context);
outside one (CLI, jobs, generated files), the language a caller chose with `using()`, else
DOCSVC_LANGUAGE, else Chinese.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

import flask_babel
from babel.support import LazyProxy, Translations
from flask import has_request_context

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
LOCALES = {"zh": "zh_CN", "en": "en"}  # our short codes → catalogue folders under TRANSLATIONS
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

_chosen: ContextVar[str | None] = ContextVar("docsvc_language", default=None)


def language() -> str:
    """The language texts are produced in right now: "zh" or "en"."""
    chosen = _chosen.get()
    if chosen:
        return chosen
    if has_request_context():
        locale = flask_babel.get_locale()
        return "en" if locale is not None and locale.language == "en" else "zh"
    configured = os.environ.get("DOCSVC_LANGUAGE", "").strip().lower()[:2]
    return configured if configured in LANGUAGES else DEFAULT


@contextmanager
def using(code: str | None) -> Iterator[None]:
    """Produce texts in `code` inside the block (a job started by someone who reads English, a register
    generated for them); None or an unknown code keeps the current language."""
    token = _chosen.set(code) if code in LANGUAGES else None
    try:
        yield
    finally:
        if token is not None:
            _chosen.reset(token)


@cache
def _catalogue(code: str) -> Translations:
    return Translations.load(str(TRANSLATIONS), [LOCALES[code]])


def gettext(message: str, **params: object) -> str:
    text = _catalogue(language()).ugettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    params.setdefault("num", n)
    return _catalogue(language()).ungettext(singular, plural, n) % params


def lazy_gettext(message: str, **params: object) -> LazyProxy:
    """A text translated when shown, not when defined: for module-level tables of labels."""
    return LazyProxy(gettext, message, enable_cache=False, **params)


def listing(items: Iterable[str]) -> str:
    """Items in a row as the language of the moment lists them: 甲、乙 in Chinese, a, b in English."""
    return (", " if language() == "en" else "、").join(items)


STORED = "i18n:"  # marks a stored text kept as its English message and parameters


def stored(message: str, **params: object) -> str:
    """A text kept in the database and shown later to people who may read another language (a page's
    failure, a file's warning written by a job): the untranslated message and its parameters, which
    `shown` translates when the text is read. Parameters must be JSON values; one that is itself a stored
    text (the fault behind a failure) is shown in the same language."""
    return STORED + json.dumps({"message": message, "params": params}, ensure_ascii=False)


def shown(text: str | None) -> str:
    """A stored text in the current language; a text stored before catalogues existed shows as it was."""
    if not text:
        return ""
    if not text.startswith(STORED):
        return text
    try:
        kept = json.loads(text[len(STORED):])
        params = {name: shown(value) if isinstance(value, str) else value for name, value in kept["params"].items()}
        return gettext(kept["message"], **params)
    except (ValueError, TypeError, KeyError, AttributeError):
        # Not one of ours: a parameter named by a person (a file name) that merely begins like a stored text.
        return text


_ = gettext
