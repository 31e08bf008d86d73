"""Search page."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from docsvc.access import Action, rule
from docsvc.search import QueryError
from docsvc.web import runtime

bp = Blueprint("search", __name__)


@bp.route("/search")
@rule(Action.SEARCH)
def search() -> object:
    q = request.args.get("q", "").strip()
    page = request.args.get("page", 1, type=int) or 1
    results, error = None, None
    if q:
        try:
            results = runtime().index.search(q, page=max(1, page), per_page=20)
        except QueryError as exc:
            error = str(exc)
    return render_template("search/results.html", q=q, results=results, error=error, page=page)
