"""Chinese full-text search over every page (Whoosh): analysis, query language, index service.

Callers hand in plain PageRecords and get plain dataclasses back; nothing here touches the DB.
"""

from .index import IndexBusyError, SearchIndex
from .query import QueryError
from .records import AccessRestriction, DocumentHit, PageHit, PageRecord, SearchResults, access_restriction
from .schema import SCHEMA_VERSION

__all__ = [
    "AccessRestriction", "DocumentHit", "IndexBusyError", "PageHit", "PageRecord", "QueryError", "SCHEMA_VERSION",
    "SearchIndex", "SearchResults", "access_restriction",
]
