"""Document and page viewer, and the authorised routes for page images, thumbnails, words and originals."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from docsvc.governance.access import Action, can, content_grant, hides_identity, is_storage_only, rule
from docsvc.governance.retention import document_retention
from docsvc.files import filing
from docsvc.files.documents import get_document, get_page, live_pages
from docsvc.files.searching import matching_pages
from docsvc.http import client_ip, content, db, runtime
from docsvc.search import QueryError
from docsvc.http.objects import send_object
from docsvc.i18n import _

bp = Blueprint("documents", __name__)


@bp.route("/documents/<int:document_id>")
@rule(Action.VIEW_METADATA)
def show(document_id: int) -> object:
    document = get_document(db(), document_id)
    return render_template("documents/show.html", document=document,
                           grant=content_grant(db(), g.user, document),
                           may_print=can(g.user, Action.PRINT, document, session=db()),
                           may_unfile=can(g.user, Action.UNFILE, document),
                           sensitive_hidden=hides_identity(g.user, document),
                           retention=document_retention(db(), document), storage_only=is_storage_only(document))


@bp.route("/pages/<int:page_id>")
@rule(Action.VIEW_CONTENT)
def page(page_id: int) -> object:
    p = get_page(db(), page_id)
    # hl: the strings the search matched on this page (from the results); q: the query itself
    q = request.args.get("q", "").strip()
    prev_hit, next_hit = _neighbouring_hits(q, p.document_id, p.number) if q else (None, None)
    document = p.document
    # the buttons show only what the gate would let through (a loan may allow viewing but not these)
    live = document.destroyed_at is None
    return render_template("documents/page.html", page=p, document=document,
                           highlight=q, highlights=request.args.getlist("hl"),
                           prev_hit_page=prev_hit, next_hit_page=next_hit,
                           may_download=live and can(g.user, Action.DOWNLOAD, document, session=db()),
                           may_print=live and can(g.user, Action.PRINT, document, session=db()))


def _neighbouring_hits(q: str, document_id: int, number: int) -> tuple[int | None, int | None]:
    """The matching pages of the document before and after page `number` (page ids), so the viewer's
    ↑/↓ walk every hit of the document, not only the pages the results listed."""
    try:
        hits = matching_pages(db(), runtime().index, g.user, q, document_id)
    except QueryError:      # a query typed into the address bar: no hits to walk
        return None, None
    before = [pid for pid, n in hits if n < number]
    after = [pid for pid, n in hits if n > number]
    return (before[-1] if before else None), (after[0] if after else None)


content.mount(bp)  # image, thumbnail, words: the same views the API mounts


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
    pages = live_pages(document)
    return render_template("documents/print.html", document=document, pages=pages)


@bp.route("/documents/<int:document_id>/unfile", methods=["POST"])
@rule(Action.UNFILE)
def unfile(document_id: int) -> object:
    """Back to the inbox with a reason (audited), so an archivist can correct a filed document's pages."""
    document = get_document(db(), document_id)
    filing.unfile_document(db(), g.user, document, reason=request.form.get("reason", ""), ip=client_ip())
    db().commit()
    flash(_("Document #%(id)s is back in the inbox for correction.", id=document.id))
    return redirect(url_for("inbox.index", document=document.id))
