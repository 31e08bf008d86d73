"""The embedded default: objects as plain files under one folder.

Layout under `root`:
    objects/<key>   the bytes; a file appears only when complete (temp file + rename)
    types/<key>     the content type, one line (absent = application/octet-stream)
    tmp/            uploads in progress; same filesystem as objects/, so rename is atomic
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, Iterator

from storage.hashing import CHUNK, HashingReader
from storage.keys import is_original, original_key, validate_key, validate_prefix
from storage.objects import DEFAULT_CONTENT_TYPE, ObjectInfo, ObjectNotFound, StoredObject, StoreUnavailable, StoreUsage

READ_ONLY = 0o444
# Temp files start private (0o600); finished derived files are ordinary readable files.
READABLE = 0o644


class LocalStore:
    def __init__(self, root: Path, cache_dir: Path | None = None) -> None:
        # cache_dir is accepted so both stores build from the same settings; local files
        # are already on disk and need no download cache.
        del cache_dir
        self.root = Path(root)
        self._objects = self.root / "objects"
        self._types = self.root / "types"
        self._tmp = self.root / "tmp"
        for folder in (self._objects, self._types, self._tmp):
            folder.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # -- writing -------------------------------------------------------------------------

    def put(self, key: str, stream: BinaryIO, content_type: str = DEFAULT_CONTENT_TYPE) -> StoredObject:
        validate_key(key)
        _refuse_original(key)
        tmp, reader = self._receive(stream, durable=False)
        try:
            os.chmod(tmp, READABLE)
            self._write_type(key, content_type)
            _replace_into(tmp, self._objects / key)
        finally:
            tmp.unlink(missing_ok=True)
        return StoredObject(key, reader.size, reader.hexdigest())

    def put_original(
        self, stream: BinaryIO, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> tuple[StoredObject, bool]:
        tmp, reader = self._receive(stream, durable=True)
        key = original_key(reader.hexdigest())
        target = self._objects / key
        try:
            os.chmod(tmp, READ_ONLY)
            target.parent.mkdir(parents=True, exist_ok=True)
            # link() never replaces an existing file, so a concurrent upload of the same
            # content cannot touch the original that got there first.
            os.link(tmp, target)
        except FileExistsError:
            return StoredObject(key, reader.size, reader.hexdigest()), False
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        self._write_type(key, content_type)
        return StoredObject(key, reader.size, reader.hexdigest()), True

    def put_bytes(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> StoredObject:
        return self.put(key, BytesIO(data), content_type)

    # -- reading -------------------------------------------------------------------------

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        path = self._objects / validate_key(key)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(key) from None
        with handle:
            yield handle

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as handle:
            return handle.read()

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self._objects / validate_key(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        yield path

    def head(self, key: str) -> ObjectInfo | None:
        path = self._objects / validate_key(key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            content_type=self._read_type(key),
            modified=datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc),
        )

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def list(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        # Walk only the folder the prefix names; the rest of the prefix filters file names.
        folder = self._objects / prefix.rpartition("/")[0]
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            relative = Path(dirpath).relative_to(self._objects).as_posix()
            for name in sorted(filenames):
                key = name if relative == "." else f"{relative}/{name}"
                if key.startswith(prefix):
                    yield key

    # -- removing ------------------------------------------------------------------------

    def delete(self, key: str) -> int:
        validate_key(key)
        path = self._objects / key
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return 0
        (self._types / key).unlink(missing_ok=True)
        _prune_empty_parents(path.parent, self._objects)
        _prune_empty_parents((self._types / key).parent, self._types)
        return 1

    def versions(self, key: str) -> int:
        """The local folder keeps no history: 1 while the file exists, else 0."""
        return 1 if (self._objects / validate_key(key)).exists() else 0

    def ping(self) -> None:
        if not (self._objects.is_dir() and os.access(self._objects, os.W_OK | os.X_OK)):
            raise StoreUnavailable(
                f"本地对象目录 {self._objects} 不存在或不可写；请检查磁盘挂载和目录权限。"
                f" / Local object folder {self._objects} is missing or not writable."
            )

    def usage(self, limit: int) -> StoreUsage:
        """Bytes on disk of everything under the store's folder: objects, their types, temp files."""
        return folder_usage(self.root, limit)

    # -- helpers -------------------------------------------------------------------------

    def _receive(self, stream: BinaryIO, *, durable: bool) -> tuple[Path, HashingReader]:
        """Copy the stream into a temp file in tmp/, hashing it on the way."""
        reader = HashingReader(stream)
        handle = tempfile.NamedTemporaryFile(dir=self._tmp, prefix="upload-", delete=False)
        tmp = Path(handle.name)
        try:
            with handle:
                shutil.copyfileobj(reader, handle, CHUNK)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, reader

    def _write_type(self, key: str, content_type: str) -> None:
        path = self._types / key
        if content_type == DEFAULT_CONTENT_TYPE:
            path.unlink(missing_ok=True)
            return
        with tempfile.NamedTemporaryFile("w", dir=self._tmp, prefix="type-", delete=False, encoding="utf-8") as handle:
            handle.write(content_type)
        _replace_into(Path(handle.name), path)

    def _read_type(self, key: str) -> str:
        try:
            return (self._types / key).read_text(encoding="utf-8").strip() or DEFAULT_CONTENT_TYPE
        except (FileNotFoundError, NotADirectoryError):
            return DEFAULT_CONTENT_TYPE


def folder_usage(folder: Path, limit: int) -> StoreUsage:
    """Bytes on disk (allocated blocks, so sparse and tiny files count as the disk sees them) of the
    files under `folder`, walking at most `limit` files."""
    used = count = 0
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            if count >= limit:
                return StoreUsage(used, count, complete=False)
            try:
                used += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except FileNotFoundError:  # removed while walking
                continue
            count += 1
    return StoreUsage(used, count, complete=True)


def _refuse_original(key: str) -> None:
    if is_original(key):
        raise ValueError(
            f"原件 {key} 不可改写：原件只能经 put_original 按内容写入。"
            f" / {key} is under originals/, which only put_original may write (originals are immutable)."
        )


def _replace_into(tmp: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, target)
    except FileNotFoundError:
        # A concurrent delete pruned the freshly made, still empty parent folder.
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)


def _prune_empty_parents(folder: Path, top: Path) -> None:
    while folder != top:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
