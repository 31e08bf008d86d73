"""Document and page viewer, and the authorised routes for page images, thumbnails, words and originals."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, render_template, request

from docsvc.governance.access import Action, can, content_grant, hides_identity, is_storage_only, rule
from docsvc.governance.retention import document_retention
from docsvc.files.documents import get_document, get_page, page_object_key, page_words
from docsvc.web import db, runtime
from docsvc.web.objects import send_object

bp = Blueprint("documents", __name__)

IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg"}


@bp.route("/documents/<int:document_id>")
@rule(Action.VIEW_METADATA)
def show(document_id: int) -> object:
    document = get_document(db(), document_id)
    return render_template("documents/show.html", document=document,
                           grant=content_grant(db(), g.user, document),
                           may_print=can(g.user, Action.PRINT, document, session=db()),
                           sensitive_hidden=hides_identity(g.user, document),
                           retention=document_retention(db(), document), storage_only=is_storage_only(document))


@bp.route("/pages/<int:page_id>")
@rule(Action.VIEW_CONTENT)
def page(page_id: int) -> object:
    p = get_page(db(), page_id)
    # hl: the strings the search matched on this page (from the results); q: the query itself
    return render_template("documents/page.html", page=p, document=p.document,
                           highlight=request.args.get("q", ""), highlights=request.args.getlist("hl"))


@bp.route("/pages/<int:page_id>/image")
@rule(Action.VIEW_CONTENT)
def page_image(page_id: int) -> object:
    key = page_object_key(get_page(db(), page_id), "image")
    return send_object(key, IMAGE_TYPES[key.rsplit(".", 1)[-1]])


@bp.route("/pages/<int:page_id>/thumbnail")
@rule(Action.VIEW_CONTENT)
def page_thumbnail(page_id: int) -> object:
    return send_object(page_object_key(get_page(db(), page_id), "thumbnail"), "image/jpeg")


@bp.route("/pages/<int:page_id>/words")
@rule(Action.VIEW_CONTENT)
def page_words_json(page_id: int) -> object:
    return jsonify(page_words(runtime().store, get_page(db(), page_id)))


@bp.route("/documents/<int:document_id>/original")
@rule(Action.DOWNLOAD)
def original(document_id: int) -> object:
    document = get_document(db(), document_id)
    return send_object(document.original_key, document.media_type, download_name=document.title)


@bp.route("/documents/<int:document_id>/print")
@rule(Action.PRINT)
def print_document(document_id: int) -> object:
    """The document's page images, one per sheet; opening it is the print (audited as document.print
    by the gate, with the loan), and a static script opens the browser's print dialog."""
    document = get_document(db(), document_id)
    pages = [p for p in document.pages if p.binned_at is None]
    return render_template("documents/print.html", document=document, pages=pages)
