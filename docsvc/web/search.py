"""Search page: the same access-aware search as the API, with facets, paging and sort."""
from __future__ import annotations

from flask import Blueprint, g, render_template, request

from docsvc.governance.access import Action, rule
from docsvc.search import QueryError
from docsvc.files.searching import SORTS, search_for_user
from docsvc.governance.disposition import destroyed_stub
from docsvc.web import audit_event, db, runtime

bp = Blueprint("search", __name__)

PER_PAGE = 20


@bp.route("/search")
@rule(Action.SEARCH)
def search() -> object:
    q = request.args.get("q", "").strip()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    sort = request.args.get("sort", "relevance")
    sort = sort if sort in SORTS else "relevance"
    results, error = None, None
    if q:
        try:
            results = search_for_user(db(), runtime().index, g.user, q, page=page, per_page=PER_PAGE, sort=sort)
        except QueryError as exc:
            error = str(exc)
        audit_event("search", outcome="invalid" if error else "ok", commit=True,
                    detail={"q": q, "page": page, "sort": sort,
                            **({"error": error} if error else {"total": results.total_pages})})
    stub = destroyed_stub(db(), q) if q else None
    return render_template("search/results.html", q=q, results=results, error=error, page=page, sort=sort,
                           stub=stub)
