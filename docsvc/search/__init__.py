"""Chinese full-text search over every page (Whoosh): analysis, query language, index service.

Callers hand in plain PageRecords and get plain dataclasses back; nothing here touches the DB.
"""

from .index import IndexBusyError, SearchIndex, access_restriction
from .query import QueryError
from .records import DocumentHit, PageHit, PageRecord, SearchResults
from .schema import SCHEMA_VERSION

__all__ = [
    "DocumentHit", "IndexBusyError", "PageHit", "PageRecord", "QueryError", "SCHEMA_VERSION",
    "SearchIndex", "SearchResults", "access_restriction",
]
