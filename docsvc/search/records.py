"""Plain data passed into and out of the search engine (no Whoosh types leak out)."""

from __future__ import annotations

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

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total_documents // self.per_page))
