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

from docsvc.governance.access import content_filter
from docsvc.models import User
from docsvc.search import SearchIndex, SearchResults, access_restriction
from docsvc.files.doctypes import all_types

SORTS = ("relevance", "date")


def type_aliases(session: Session) -> dict[str, str]:
    """Names an archivist may type after 类型: (合同, 供用电合同, contract) → the type code."""
    aliases: dict[str, str] = {}
    for row in all_types(session, active_only=False):  # old documents keep inactive types
        for name in (row.name_zh, row.name_en):
            # "身份证明 / 营业执照 / 土地证明": each part is a name of its own
            for part in (name or "").split("/"):
                if part.strip():
                    aliases[part.strip()] = row.code
    return aliases


def search_for_user(session: Session, index: SearchIndex, user: User, q: str, *, page: int = 1,
                    per_page: int = 20, sort: str = "relevance", now: datetime | None = None) -> SearchResults:
    """`q` as `user` may see it; raises docsvc.search.QueryError for a query that cannot be used."""
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
                        type_aliases=type_aliases(session))
