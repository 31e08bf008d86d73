"""Search as a user sees it: the engine's results passed through the access rule.

The rule (docsvc.governance.access.content_filter) decides two things per page:
- whether its *text* may be searched and shown: content roles read everything, viewers only the
  documents and customer files of their active loans, and sensitive types only with the
  `sensitive` grant;
- storage-only documents and customer files (限制处理) are read by records managers only;
- nothing more: every staff member may search the *catalogue* (customer, 户号, 档号, title, type,
  date) of every document, as they may open its metadata page. A page whose text the user may
  not read is therefore found only by those fields, counts in totals and facets only then, and
  shows a masked snippet; a sensitive page's title is masked too. NOT never looks into text the
  user may not read, so excluding a word reveals nothing either.
Pages in the bin are deleted from the index by the index job; destroyed documents will be too.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from docsvc.governance import audit
from docsvc.governance.access import content_filter
from docsvc.models import DocumentType, User
from docsvc.search import MAX_PER_PAGE, QueryError, SearchIndex, SearchResults, access_restriction

SORTS = ("relevance", "date")


def search_for_user(session: Session, index: SearchIndex, user: User, q: str, *, page: int = 1,
                    per_page: int = 20, sort: str = "relevance", document_id: int | None = None,
                    now: datetime | None = None) -> SearchResults:
    """`q` as `user` may see it; with `document_id`, every matching page of that document, `per_page`
    pages at a time. Raises docsvc.search.QueryError for a query that cannot be used."""
    scope = content_filter(session, user, now)
    # The index's per-page flag may lag a type just flagged sensitive: the table's codes count too.
    # Storage-only files (限制处理) are found by their catalogue fields only, like unreadable ones.
    hidden = {"hidden_document_ids": scope.hidden_document_ids or None, "hidden_accounts": scope.hidden_accounts or None}
    if scope.all:
        readable = access_restriction(exclude_sensitive=not scope.sensitive, sensitive_types=scope.sensitive_types,
                                      **hidden)
    else:
        readable = access_restriction(allowed_document_ids=scope.document_ids,
                                      allowed_accounts=scope.customer_accounts,
                                      exclude_sensitive=not scope.sensitive, sensitive_types=scope.sensitive_types,
                                      **hidden)
    return index.search(q, page=page, per_page=per_page, sort=sort, content_within=readable,
                        mask_sensitive=not scope.sensitive, sensitive_types=scope.sensitive_types,
                        type_aliases=DocumentType.alias_map(session), document_id=document_id)


def matching_pages(session: Session, index: SearchIndex, user: User, q: str,
                   document_id: int) -> list[tuple[int, int]]:
    """(page id, page number) of every page of the document that `q` finds for `user`, in page order
    (the viewer steps through them)."""
    ids: list[tuple[int, int]] = []
    page = 1
    while True:
        results = search_for_user(session, index, user, q, page=page, per_page=MAX_PER_PAGE,
                                  document_id=document_id)
        ids += [(p.page_id, p.page_number) for d in results.documents for p in d.pages]
        if page >= results.page_count:
            return ids
        page += 1


def search(session: Session, index: SearchIndex, user: User, q: str, *, page: int = 1, per_page: int = 20,
           sort: str = "relevance", document_id: int | None = None, ip: str | None = None) -> SearchResults:
    """The use case: search as `user` and audit it with the query text, whether it worked or not.

    Raises docsvc.search.QueryError (after recording it) for a query that cannot be used."""
    try:
        results = search_for_user(session, index, user, q, page=page, per_page=per_page, sort=sort,
                                  document_id=document_id)
    except QueryError as exc:
        audit.record(session, user, "search", outcome="invalid", ip=ip,
                     detail={"q": q, "page": page, "sort": sort, "document_id": document_id, "error": str(exc)})
        session.commit()
        raise
    audit.record(session, user, "search", ip=ip,
                 detail={"q": q, "page": results.page, "sort": sort, "document_id": document_id,
                         "total": results.total_pages})
    session.commit()
    return results
