"""The unfiled inbox: keyboard-driven filing and page operations for scanning-room operators."""
from __future__ import annotations

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for

from docsvc.governance.access import Action, hides_identity, may_handle, rule
from docsvc.files import filing, pageops
from docsvc.files.doctypes import all_types
from docsvc.files.documents import get_document, get_page, live_pages
from docsvc.files.customers import search_customers
from docsvc.files.suggestions import recent_autofilings, suggest
from docsvc.files.typeguess import guess_document_type
from docsvc.http import client_ip, db, runtime
from docsvc.http.params import as_int, int_field
from docsvc.i18n import _, language

bp = Blueprint("inbox", __name__)


@bp.route("/inbox")
@rule(Action.FILE)
def index() -> object:
    documents = filing.inbox(db())
    current = get_document(db(), as_int(request.args["document"], "document", minimum=1)) if request.args.get("document") else (
        documents[0] if documents else None)
    autofiled = recent_autofilings(db())
    # Suggestions and the type guess are read from the pages' text: not for a sensitive one without the grant.
    readable = current is not None and may_handle(g.user, current)
    types = all_types(db())
    english = language() == "en"
    return render_template("inbox/index.html", documents=documents, current=current,
                           pages=live_pages(current) if current else [],
                           suggestions=suggest(db(), current) if readable else [], types=types,
                           # each type by its name in the reader's language (the Chinese one when it has no other)
                           type_names={t.code: (t.name_en if english and t.name_en else t.name_zh) for t in types},
                           # only a document without a type needs one guessed (and pre-selected)
                           type_guess=guess_document_type(db(), current) if readable and not current.doc_type else None,
                           filing=runtime().settings.filing, autofiled=autofiled,
                           # sensitive documents (ID copies) appear under a placeholder without the grant
                           hidden={d.id for d in [*documents, *([current] if current else []), *(a.document for a in autofiled if a.document)]
                                   if hides_identity(g.user, d)})


CUSTOMER_CHOICES = 8  # as many as fit under the account field without scrolling


@bp.route("/inbox/customers")
@rule(Action.FILE)
def customers() -> object:
    """Customers whose 户号 starts with, or whose name contains, what the operator has typed so far:
    the choices under the account field while filing."""
    rows, total = search_customers(db(), request.args.get("q", ""), limit=CUSTOMER_CHOICES)
    return jsonify(total=total, customers=[{"account": c.account, "name": c.name} for c in rows])


def _next(after_id: int | None = None) -> object:
    remaining = [d for d in filing.inbox(db()) if d.id != after_id]
    return redirect(url_for("inbox.index", document=remaining[0].id) if remaining else url_for("inbox.index"))


@bp.route("/inbox/<int:document_id>/file", methods=["POST"])
@rule(Action.FILE)
def file(document_id: int) -> object:
    document = get_document(db(), document_id)
    values = {"customer_account": request.form.get("customer_account", "").strip(),
              "doc_type": request.form.get("doc_type", "").strip()}
    for key in ("title", "document_date", "contract_number"):
        if request.form.get(key):
            values[key] = request.form[key]
    filing.update_document(db(), g.user, document, values, runtime().settings.filing, ip=client_ip())
    flash(_("Document #%(id)s filed as %(code)s.", id=document.id, code=document.reference_code))
    return _next(document.id)


@bp.route("/inbox/<int:document_id>/split", methods=["POST"])
@rule(Action.FILE)
def split(document_id: int) -> object:
    pageops.split(db(), g.user, get_document(db(), document_id), int_field(request.form, "at_page"), ip=client_ip())
    return redirect(url_for("inbox.index", document=document_id))


@bp.route("/inbox/<int:document_id>/merge", methods=["POST"])
@rule(Action.FILE)
def merge(document_id: int) -> object:
    source = get_document(db(), int_field(request.form, "source_document_id", minimum=1))
    pageops.merge(db(), g.user, get_document(db(), document_id), source, ip=client_ip())
    return redirect(url_for("inbox.index", document=document_id))


@bp.route("/inbox/pages/<int:page_id>/<op>", methods=["POST"])
@rule(Action.FILE)
def page_op(page_id: int, op: str) -> object:
    page = get_page(db(), page_id)
    document_id = page.document_id
    if op == "rotate":
        pageops.rotate(db(), g.user, page, int_field(request.form, "degrees", 90, minimum=-3600, maximum=3600),
                       ip=client_ip())
    elif op == "delete":
        pageops.bin_page(db(), g.user, page, ip=client_ip())
    elif op == "up":
        pageops.reorder_to(db(), g.user, page, max(1, page.number - 1), ip=client_ip())
    elif op == "down":
        pageops.reorder_to(db(), g.user, page, page.number + 1, ip=client_ip())
    elif op == "move":
        target = get_document(db(), int_field(request.form, "document_id", minimum=1))
        pageops.move_page(db(), g.user, page, target, ip=client_ip())
    else:
        flash(_("Unknown page operation."))
    return redirect(url_for("inbox.index", document=document_id))
