"""Page bytes (image, thumbnail, OCR words): one set of views that the web pages and the API both mount,
so there is one access path to these objects (the gate's content check, then the audit after it)."""
from __future__ import annotations

from flask import Response, jsonify

from docsvc.files.documents import get_page, page_object_key, page_words
from docsvc.governance.access import Action, rule
from docsvc.http.context import db, runtime
from docsvc.http.objects import send_object

IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg"}


@rule(Action.VIEW_CONTENT)
def page_image(page_id: int) -> Response:
    key = page_object_key(get_page(db(), page_id), "image")
    return send_object(key, IMAGE_TYPES[key.rsplit(".", 1)[-1]])


@rule(Action.VIEW_CONTENT)
def page_thumbnail(page_id: int) -> Response:
    return send_object(page_object_key(get_page(db(), page_id), "thumbnail"), "image/jpeg")


@rule(Action.VIEW_CONTENT)
def page_words_json(page_id: int) -> Response:
    return jsonify(page_words(runtime().store, get_page(db(), page_id)))


def mount(blueprint: object, prefix: str = "") -> None:
    """Add the page-bytes routes to `blueprint` (web: /pages/…, API: /api/v1/pages/…)."""
    for suffix, view in (("image", page_image), ("thumbnail", page_thumbnail), ("words", page_words_json)):
        blueprint.add_url_rule(f"{prefix}/pages/<int:page_id>/{suffix}", view_func=view)  # type: ignore[attr-defined]
