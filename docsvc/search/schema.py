"""The Whoosh schema: one Whoosh document per page, and how a PageRecord fills it.

Bump SCHEMA_VERSION whenever fields or analysis change in a way that makes existing
postings wrong; SearchIndex.needs_rebuild() compares it with the version recorded in the index.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from whoosh import fields
from whoosh.formats import Frequency, Positions
from whoosh.system import pack_uint

from .analysis import index_terms, jieba_words, normalize
from .records import PageRecord

SCHEMA_VERSION = 1


class ChineseText(fields.TEXT):
    """Positions of CJK unigrams+bigrams and identifier variants (see analysis.py).

    Overrides index() instead of plugging an analyzer chain in: building the term→positions
    map in one pass is several times faster than Whoosh's per-Token pipeline, and indexing
    speed is what a million-page rebuild is bounded by.
    """

    def __init__(self, stored: bool = False, field_boost: float = 1.0):
        super().__init__(stored=stored, phrase=True, field_boost=field_boost)

    def index(self, value, **kwargs):
        encode = self.format.encode
        boost = self.format.field_boost
        for term, positions in index_terms(value).items():
            yield term.encode("utf-8"), len(positions), len(positions) * boost, encode(positions)


class JiebaWords(fields.TEXT):
    """jieba dictionary words with frequencies only: used to rank, never to decide a match."""

    def __init__(self):
        super().__init__(phrase=False)
        self.format = Frequency()

    def index(self, value, **kwargs):
        for word, freq in Counter(jieba_words(value)).items():
            yield word.encode("utf-8"), freq, float(freq), pack_uint(freq)


def build_schema() -> fields.Schema:
    return fields.Schema(
        page_id=fields.ID(stored=True, unique=True),
        page_key=fields.NUMERIC(int, 64, sortable=True),  # page_id as a column, for id scans
        document_id=fields.ID(stored=True, sortable=True),
        page_number=fields.STORED(),
        sensitive=fields.STORED(),
        doc_type=fields.ID(stored=True, sortable=True),
        date=fields.NUMERIC(int, 32, stored=True, sortable=True),  # yyyymmdd
        year=fields.NUMERIC(int, 32, sortable=True),
        text=ChineseText(stored=True),
        words=JiebaWords(),
        title=ChineseText(stored=True),
        customer=ChineseText(stored=True),
        account=ChineseText(stored=True),
        refcode=ChineseText(stored=True),
    )


def date_key(value: date) -> int:
    return value.year * 10000 + value.month * 100 + value.day


def key_date(value: int) -> date:
    return date(value // 10000, value // 100 % 100, value % 100)


def page_fields(page: PageRecord, word_ranking: bool = False) -> dict:
    """Whoosh field values for one page; text is stored normalised so snippets line up.

    The jieba `words` field is filled only with word_ranking: it roughly doubles indexing
    time (jieba itself plus one more posting list per word), see docs/search.md.
    """
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
    if word_ranking:
        doc["words"] = text
    for name, value in meta_values.items():
        if value:
            doc[name] = normalize(value)
    if page.doc_type:
        doc["doc_type"] = page.doc_type.lower()
        doc["_stored_doc_type"] = page.doc_type  # facet keys keep the caller's code
    if page.doc_date:
        doc["date"] = date_key(page.doc_date)
        doc["year"] = page.doc_date.year
    return doc
