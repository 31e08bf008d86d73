"""What every object store speaks: the records it returns, its errors and its interface."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol

DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str
    modified: datetime


@dataclass(frozen=True)
class StoreUsage:
    """What the store holds: `bytes` on disk (a local folder) or the sum of the objects' sizes (S3, current
    versions only), over `objects` objects; `complete` is False when counting stopped at the limit."""
    bytes: int
    objects: int
    complete: bool


class ObjectNotFound(KeyError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    # KeyError's own __str__ shows repr(key); archivists should read a sentence.
    def __str__(self) -> str:
        return (
            f"存储中找不到对象 {self.key}，可能已被销毁或尚未上传；请核对档案记录后重试。"
            f" / Object {self.key} is not in the store (destroyed or never uploaded)."
        )


class StoreUnavailable(RuntimeError):
    """The backend cannot be reached or used at all (not a problem with one object)."""


class ObjectStore(Protocol):
    def put(self, key: str, stream: BinaryIO, content_type: str = DEFAULT_CONTENT_TYPE) -> StoredObject: ...

    def put_original(
        self, stream: BinaryIO, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> tuple[StoredObject, bool]: ...

    def put_bytes(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> StoredObject: ...

    def open(self, key: str) -> AbstractContextManager[BinaryIO]: ...

    def read_bytes(self, key: str) -> bytes: ...

    def local_path(self, key: str) -> AbstractContextManager[Path]: ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def delete(self, key: str) -> int: ...

    def versions(self, key: str) -> int: ...

    def list(self, prefix: str = "") -> Iterator[str]: ...

    def exists(self, key: str) -> bool: ...

    def ping(self) -> None: ...

    def usage(self, limit: int) -> StoreUsage:
        """Space used, counting at most `limit` objects (a walk or listing costs one step per object)."""
        ...
