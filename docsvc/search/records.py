"""Plain data passed into and out of the search engine (no Whoosh types leak out)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date


@dataclass
class PageRecord:
    """One page as the caller (DB layer, rebuild source) hands it to the index."""

    page_id: int
    document_id: int
    page_number: int
    text: str
    customer_account: str | None = None
    customer_name: str | None = None
    doc_type: str | None = None
    reference_code: str | None = None
    doc_date: date | None = None
    sensitive: bool = False
    title: str | None = None


@dataclass(frozen=True)
class AccessRestriction:
    """Which pages a search may reach, as plain values: the access rule's answer
    (docsvc.access.ContentScope) in the engine's terms. Build it with access_restriction().

    Each field set narrows the pages, except that allowed_document_ids and allowed_accounts
    together admit a page in either (a loan names documents or whole customer files); None means
    "no limit by this". exclude_sensitive leaves out pages flagged sensitive when indexed and pages
    of `sensitive_types` (the types flagged now, ahead of their re-indexing).
    """

    allowed_types: frozenset[str] | None = None
    allowed_document_ids: frozenset[int] | None = None
    allowed_accounts: frozenset[str] | None = None
    hidden_document_ids: frozenset[int] = frozenset()
    hidden_accounts: frozenset[str] = frozenset()  # storage-only customer files
    exclude_sensitive: bool = False
    sensitive_types: frozenset[str] = frozenset()


def access_restriction(
    *,
    allowed_types: Iterable[str] | None = None,
    allowed_document_ids: Iterable[int] | None = None,
    allowed_accounts: Iterable[str] | None = None,
    hidden_document_ids: Iterable[int] | None = None,
    hidden_accounts: Iterable[str] | None = None,
    exclude_sensitive: bool = False,
    sensitive_types: Iterable[str] = (),
) -> AccessRestriction | None:
    """An AccessRestriction from any iterables (frozen, so a search can cache its mask by it);
    None when nothing is restricted."""
    if (allowed_types is None and allowed_document_ids is None and allowed_accounts is None
            and not hidden_document_ids and not hidden_accounts and not exclude_sensitive):
        return None

    def frozen(values):
        return None if values is None else frozenset(values)

    return AccessRestriction(
        allowed_types=frozen(allowed_types),
        allowed_document_ids=frozen(allowed_document_ids),
        allowed_accounts=frozen(allowed_accounts),
        hidden_document_ids=frozenset(hidden_document_ids or ()),
        hidden_accounts=frozenset(hidden_accounts or ()),
        exclude_sensitive=exclude_sensitive,
        sensitive_types=frozenset(sensitive_types),
    )


@dataclass
class PageHit:
    page_id: int
    page_number: int
    score: float
    snippet: str                      # HTML-escaped, hits wrapped in <mark>…</mark>
    highlights: list[str]             # matched strings as they read on the page, for boxing
    sensitive: bool = False
    masked: bool = False              # snippet replaced because the page is sensitive


@dataclass
class DocumentHit:
    document_id: int
    score: float                      # best page score (or 0 when sorted by date)
    matching_pages: int               # all matching pages of this document, not only shown ones
    pages: list[PageHit]              # the best matching pages, in page order
    title: str | None = None
    customer_name: str | None = None
    customer_account: str | None = None
    doc_type: str | None = None
    reference_code: str | None = None
    doc_date: date | None = None


@dataclass
class SearchResults:
    query: str
    total_pages: int                  # matching pages the caller may see (an estimate if approximate)
    total_documents: int
    page: int
    per_page: int                     # documents per result page
    facets: dict[str, dict[str, int]] = field(default_factory=dict)  # "type", "year" → counts
    documents: list[DocumentHit] = field(default_factory=list)
    approximate: bool = False         # totals and facets estimated: too many candidates to confirm
    document_id: int | None = None    # set: one document's matching pages, `per_page` pages per result page

    @property
    def page_count(self) -> int:
        listed = self.total_documents if self.document_id is None else self.total_pages
        return max(1, -(-listed // self.per_page))
