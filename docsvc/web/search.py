"""Search page: the same access-aware search as the API, with facets, paging and sort."""
from __future__ import annotations

from flask import Blueprint, g, render_template, request

from docsvc.governance.access import Action, rule
from docsvc.search import QueryError
from docsvc.search.vocabulary import EXCLUDED_WORD, FACET_FIELDS, QUERY_EXAMPLES
from docsvc.files.searching import SORTS, search as search_files
from docsvc.governance.disposition import destroyed_stub
from docsvc.http import client_ip, db, runtime
from docsvc.http.params import optional_int, page_number

bp = Blueprint("search", __name__)

PER_PAGE = 20


@bp.route("/search")
@rule(Action.SEARCH)
def search() -> object:
    q = request.args.get("q", "").strip()
    page = page_number(request.args)
    sort = request.args.get("sort", "relevance")
    sort = sort if sort in SORTS else "relevance"
    document_id = optional_int(request.args, "document_id", minimum=1)  # "show all N matching pages" of one
    results, error = None, None
    if q:
        try:
            results = search_files(db(), runtime().index, g.user, q, page=page, per_page=PER_PAGE, sort=sort,
                                   document_id=document_id, ip=client_ip())
        except QueryError as exc:
            error = str(exc)
    stub = destroyed_stub(db(), q) if q else None
    return render_template("search/results.html", q=q, results=results, error=error, page=page, sort=sort,
                           stub=stub, document_id=document_id, facet_fields=FACET_FIELDS,
                           query_examples=QUERY_EXAMPLES, excluded_word=EXCLUDED_WORD)
