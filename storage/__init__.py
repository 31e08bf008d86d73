"""The object store: originals and derived files, on MinIO/S3 or in a local folder.

Knows nothing of docsvc; docsvc decides which keys to use (see docs/storage.md).
"""

from storage.factory import open_store
from storage.keys import ORIGINALS_PREFIX, original_key, validate_key
from storage.local import LocalStore, folder_usage
from storage.objects import ObjectInfo, ObjectNotFound, ObjectStore, StoredObject, StoreUnavailable, StoreUsage
from storage.s3 import S3Store

__all__ = [
    "ORIGINALS_PREFIX",
    "LocalStore",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "S3Store",
    "StoreUnavailable",
    "StoreUsage",
    "folder_usage",
    "StoredObject",
    "open_store",
    "original_key",
    "validate_key",
]
