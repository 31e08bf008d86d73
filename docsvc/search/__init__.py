"""Chinese full-text search over every page (Whoosh): analysis, query language, index service.

Callers hand in plain PageRecords and get plain dataclasses back; nothing here touches the DB.
"""

from .index import MAX_PER_PAGE, IndexBusyError, SearchIndex
from .query import QueryError
from .records import AccessRestriction, DocumentHit, PageHit, PageRecord, SearchResults, access_restriction
from .schema import SCHEMA_VERSION

__all__ = [
    "MAX_PER_PAGE", "AccessRestriction", "DocumentHit", "IndexBusyError", "PageHit", "PageRecord", "QueryError",
    "SCHEMA_VERSION", "SearchIndex", "SearchResults", "access_restriction",
]
