"""REST API v1: thin routes over the same services as the web views."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from docsvc.governance.access import Action, rule
from docsvc.api import schemas as S
from docsvc.api.contract import contract, openapi_document
from docsvc.search import QueryError, SearchResults
from docsvc.pipeline import batches as batch_service
from docsvc.files.documents import document_json, get_document, get_page, page_json, page_summary
from docsvc.pipeline.intake import Upload, receive
from docsvc.files.searching import search as search_files
from docsvc.http import client_ip, content, db, runtime
from docsvc.http.uploads import uploaded_files
from docsvc.i18n import _

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")


def _error(message: str, status: int = 400) -> object:
    return jsonify(error=message), status


@bp.route("/openapi.json")
@contract("This document, generated from the models", {200: S.OpenAPI}, errors=())
@rule(Action.PUBLIC)
def openapi() -> object:
    # Generated once per app: the routes and models do not change while it runs.
    if "openapi" not in current_app.extensions:
        current_app.extensions["openapi"] = openapi_document(current_app)
    return jsonify(current_app.extensions["openapi"])


@bp.route("/me")
@contract("The token's user", {200: S.Me})
@rule(Action.AUTHENTICATED)
def me() -> object:
    return jsonify(id=g.user.id, username=g.user.username, roles=sorted(g.user.role_set))


@bp.route("/batches", methods=["POST"])
@contract("Upload files as a new batch; poll GET /api/v1/batches/{batch_id}", {202: S.Batch}, form=S.BatchUpload,
          errors=(400, 401, 403, 404, 409, 413, 429),
          links={"api_v1.get_batch": {"batch_id": "id"}, "api_v1.retry_batch": {"batch_id": "id"}})
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
@contract("Batch progress and per-file outcome", {200: S.Batch})
@rule(Action.VIEW_BATCH)
def get_batch(batch_id: int) -> object:
    return jsonify(batch_service.batch_report(db(), batch_id).as_json())


@bp.route("/batches/<int:batch_id>/retry", methods=["POST"])
@contract("Retry every failed file and page of the batch", {202: S.Queued})
@rule(Action.RETRY)
def retry_batch(batch_id: int) -> object:
    n = batch_service.retry_failed(db(), runtime().jobs, batch_id, actor=g.user, ip=client_ip())
    return jsonify(queued=n), 202


@bp.route("/documents/<int:document_id>")
@contract("Document metadata and its pages", {200: S.Document})
@rule(Action.VIEW_METADATA)
def get_document_json(document_id: int) -> object:
    return jsonify(document_json(get_document(db(), document_id), g.user))


@bp.route("/pages/<int:page_id>")
@contract("Page text, source, confidence, rotation, skew, size", {200: S.Page})
@rule(Action.VIEW_CONTENT)
def get_page_json(page_id: int) -> object:
    return jsonify(page_json(get_page(db(), page_id)))


@bp.route("/pages/<int:page_id>/retry", methods=["POST"])
@contract("Retry a failed page", {202: S.PageState})
@rule(Action.RETRY)
def retry_page(page_id: int) -> object:
    page = batch_service.retry_page(db(), runtime().jobs, page_id, actor=g.user, ip=client_ip())
    return jsonify(page_summary(page)), 202


content.mount(bp)  # page bytes: the very views the web mounts, so there is one access path to objects


@bp.route("/search")
@contract("Full-text search over pages, grouped by document", {200: S.SearchResults}, query=S.SearchQuery)
@rule(Action.SEARCH)
def search(query: S.SearchQuery) -> object:
    q = query.q.strip()
    if not q:
        return _error(_("Give a query in parameter q."))
    try:
        results = search_files(db(), runtime().index, g.user, q, page=query.page, per_page=query.per_page,
                               sort=query.sort, document_id=query.document_id, ip=client_ip())
    except QueryError as exc:
        return _error(str(exc))
    return jsonify(search_json(results))


def search_json(results: SearchResults) -> dict[str, object]:
    return {
        "query": results.query, "total": results.total_pages, "total_documents": results.total_documents,
        "approximate": results.approximate, "document_id": results.document_id,
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
