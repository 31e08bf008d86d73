"""REST API v1: thin routes over the same services as the web views."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from docsvc.governance.access import Action, rule
from docsvc.api.openapi import openapi_document
from docsvc.search import QueryError, SearchResults
from docsvc.pipeline import batches as batch_service
from docsvc.files.documents import document_json, get_document, get_page, page_json
from docsvc.pipeline.intake import Upload, receive
from docsvc.files.searching import search_for_user
from docsvc.web import audit_event, client_ip, db, runtime
from docsvc.web import documents
from docsvc.web.uploads import uploaded_files

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

MAX_PER_PAGE = 100


def _error(message: str, status: int = 400) -> object:
    return jsonify(error=message), status


@bp.route("/openapi.json")
@rule(Action.PUBLIC)
def openapi() -> object:
    return jsonify(openapi_document())


@bp.route("/me")
@rule(Action.AUTHENTICATED)
def me() -> object:
    return jsonify(id=g.user.id, username=g.user.username, roles=sorted(g.user.role_set))


@bp.route("/batches", methods=["POST"])
@rule(Action.UPLOAD)
def create_batch() -> object:
    files = uploaded_files()
    batch = receive(
        db(), runtime().store, runtime().jobs, (Upload(f.filename or "", f.stream) for f in files),
        source="api", user_id=g.user.id, ip=client_ip(),
        customer_account=request.form.get("customer_account"), doc_type=request.form.get("doc_type"),
        reason_for_destroyed=request.form.get("reason_for_destroyed"),
    )
    return jsonify(batch_service.batch_report(db(), batch.id).as_json()), 202


@bp.route("/batches/<int:batch_id>")
@rule(Action.VIEW_BATCH)
def get_batch(batch_id: int) -> object:
    return jsonify(batch_service.batch_report(db(), batch_id).as_json())


@bp.route("/batches/<int:batch_id>/retry", methods=["POST"])
@rule(Action.RETRY)
def retry_batch(batch_id: int) -> object:
    n = batch_service.retry_failed(db(), runtime().jobs, batch_id, actor=g.user, ip=client_ip())
    return jsonify(queued=n), 202


@bp.route("/documents/<int:document_id>")
@rule(Action.VIEW_METADATA)
def get_document_json(document_id: int) -> object:
    return jsonify(document_json(get_document(db(), document_id), g.user))


@bp.route("/pages/<int:page_id>")
@rule(Action.VIEW_CONTENT)
def get_page_json(page_id: int) -> object:
    return jsonify(page_json(get_page(db(), page_id)))


@bp.route("/pages/<int:page_id>/retry", methods=["POST"])
@rule(Action.RETRY)
def retry_page(page_id: int) -> object:
    page = batch_service.retry_page(db(), runtime().jobs, page_id, actor=g.user, ip=client_ip())
    return jsonify(page_json(page)), 202


# Page bytes: the very views the web uses, so there is one access path to objects.
bp.add_url_rule("/pages/<int:page_id>/image", view_func=documents.page_image)
bp.add_url_rule("/pages/<int:page_id>/thumbnail", view_func=documents.page_thumbnail)
bp.add_url_rule("/pages/<int:page_id>/words", view_func=documents.page_words_json)


@bp.route("/search")
@rule(Action.SEARCH)
def search() -> object:
    q = request.args.get("q", "").strip()
    page = request.args.get("page", 1, type=int) or 1
    per_page = min(MAX_PER_PAGE, max(1, request.args.get("per_page", 20, type=int) or 20))
    sort = request.args.get("sort", "relevance")
    if not q:
        return _error("请提供检索词 q。 / Give a query in parameter q.")
    try:
        results = search_for_user(db(), runtime().index, g.user, q, page=max(1, page), per_page=per_page, sort=sort)
    except QueryError as exc:
        audit_event("search", outcome="invalid", commit=True, detail={"q": q, "error": str(exc)})
        return _error(str(exc))
    audit_event("search", commit=True, detail={"q": q, "page": results.page, "sort": sort, "total": results.total_pages})
    return jsonify(search_json(results))


def search_json(results: SearchResults) -> dict[str, object]:
    return {
        "query": results.query, "total": results.total_pages, "total_documents": results.total_documents,
        "approximate": results.approximate,
        "page": results.page, "per_page": results.per_page, "page_count": results.page_count,
        "facets": results.facets,
        "results": [{
            "document_id": d.document_id, "score": d.score, "title": d.title,
            "customer_account": d.customer_account, "customer_name": d.customer_name,
            "doc_type": d.doc_type, "reference_code": d.reference_code,
            "doc_date": d.doc_date.isoformat() if d.doc_date else None, "matching_pages": d.matching_pages,
            "pages": [{"page_id": p.page_id, "page_number": p.page_number, "snippet": p.snippet,
                       "score": p.score, "highlights": p.highlights, "masked": p.masked} for p in d.pages],
        } for d in results.documents],
    }
