"""The Whoosh schema: one Whoosh document per page, and how a PageRecord fills it.

Bump SCHEMA_VERSION whenever fields or analysis change in a way that makes existing
postings wrong; SearchIndex.needs_rebuild() compares it with the version recorded in the index.
"""

from __future__ import annotations

from datetime import date

from whoosh import columns, fields
from whoosh.formats import Frequency
from whoosh.system import pack_uint

from .analysis import index_terms, normalize
from .records import PageRecord

SCHEMA_VERSION = 2  # 2: account_key (exact 户号 for loan scopes), sensitive searchable


class ChineseText(fields.TEXT):
    """Frequencies of CJK bigrams and identifier variants (see analysis.py).

    Overrides index() instead of plugging an analyzer chain in: building the term→count map
    in one pass is several times faster than Whoosh's per-Token pipeline, and indexing speed
    is what a million-page rebuild is bounded by. No positions are kept: phrase order is
    confirmed on the stored text (matching.py).
    """

    def __init__(self):
        # the normalised value lives in an uncompressed column rather than in stored fields:
        # confirming a phrase reads it for every candidate page, and Whoosh's zlib-compressed
        # stored fields take ~200 µs per read against ~5 µs for a column
        super().__init__(phrase=False, sortable=columns.VarBytesColumn())
        self.format = Frequency()

    def index(self, value, **kwargs):
        for term, count in index_terms(value).items():
            yield term.encode("utf-8"), count, float(count), pack_uint(count)


def build_schema() -> fields.Schema:
    return fields.Schema(
        page_id=fields.ID(stored=True, unique=True),
        page_key=fields.NUMERIC(int, 64, sortable=True),  # page_id as a column, for id scans
        document_id=fields.ID(stored=True, sortable=True),
        page_number=fields.STORED(),
        sensitive=fields.BOOLEAN(stored=True),  # searchable: access scopes exclude sensitive pages
        account_key=fields.ID(),  # the exact 户号 (the account text field also holds its tails)
        doc_type=fields.ID(stored=True, sortable=True),
        date=fields.NUMERIC(int, 32, stored=True, sortable=True),  # yyyymmdd
        year=fields.NUMERIC(int, 32, sortable=True),
        text=ChineseText(),
        title=ChineseText(),
        customer=ChineseText(),
        account=ChineseText(),
        refcode=ChineseText(),
    )


def date_key(value: date) -> int:
    return value.year * 10000 + value.month * 100 + value.day


def key_date(value: int) -> date:
    return date(value // 10000, value // 100 % 100, value % 100)


def page_fields(page: PageRecord) -> dict:
    """Whoosh field values for one page; text is stored normalised so snippets line up."""
    text = normalize(page.text or "")
    meta_values = {
        "title": page.title,
        "customer": page.customer_name,
        "account": page.customer_account,
        "refcode": page.reference_code,
    }
    doc: dict = {
        "page_id": str(page.page_id),
        "page_key": page.page_id,
        "document_id": str(page.document_id),
        "page_number": page.page_number,
        "sensitive": bool(page.sensitive),
        "text": text,
    }
    for name, value in meta_values.items():
        if value:
            doc[name] = normalize(value)
    if page.customer_account:
        doc["account_key"] = normalize(page.customer_account)
    if page.doc_type:
        doc["doc_type"] = page.doc_type.lower()
        doc["_stored_doc_type"] = page.doc_type  # facet keys keep the caller's code
    if page.doc_date:
        doc["date"] = date_key(page.doc_date)
        doc["year"] = page.doc_date.year
    return doc
