"""A bounded on-disk cache of downloaded objects, shared by the processes of one host.

Page jobs of a 500-page PDF each need the original as a local file; the cache lets them
download it once. Entries are named <hash of key>-<etag>, so a replaced object is never
served stale. Least recently used entries are evicted when the total exceeds max_bytes,
except entries some process is using right now: users hold a shared flock on the file and
eviction only removes files it can lock exclusively.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

DEFAULT_MAX_BYTES = 4 * 1024**3
PARTIAL_PREFIX = ".part-"


class DownloadCache:
    def __init__(self, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.folder.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def hold(self, key: str, etag: str, download: Callable[[BinaryIO], None]) -> Iterator[Path]:
        """Yield a local file with the object's bytes, calling download(file) on a miss."""
        path = self.folder / f"{_key_hash(key)}-{_clean(etag)}"
        while True:
            if not path.exists():
                self._fetch(path, download)
            handle = _open_locked(path)
            if handle is not None:
                break
        with handle:
            _touch(path)
            self._evict(keep=path)
            yield path

    def discard(self, key: str) -> None:
        """Remove every cached copy of key, in use or not (destruction must not leave copies)."""
        for path in self.folder.glob(f"{_key_hash(key)}-*"):
            path.unlink(missing_ok=True)

    def entries(self) -> list[Path]:
        return [p for p in self.folder.iterdir() if p.is_file() and not p.name.startswith(PARTIAL_PREFIX)]

    def _fetch(self, path: Path, download: Callable[[BinaryIO], None]) -> None:
        handle = tempfile.NamedTemporaryFile(dir=self.folder, prefix=PARTIAL_PREFIX, delete=False)
        try:
            with handle:
                download(handle)
            os.replace(handle.name, path)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise

    def _evict(self, keep: Path) -> None:
        entries = []
        for path in self.entries():
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            entries.append((stat.st_mtime_ns, path.name, stat.st_size, path))
        total = sum(size for _, _, size, _ in entries)
        for _, _, size, path in sorted(entries):
            if total <= self.max_bytes:
                return
            if path != keep and _unlink_if_unused(path):
                total -= size


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _clean(etag: str) -> str:
    return re.sub(r"[^0-9A-Za-z-]", "", etag) or "none"


def _touch(path: Path) -> None:
    # Explicit nanoseconds: the kernel's own timestamps are coarse (a few ms), too coarse
    # to order entries used in quick succession.
    now = time.time_ns()
    os.utime(path, ns=(now, now))


def _open_locked(path: Path) -> BinaryIO | None:
    """Open path with a shared lock, or None if it was evicted or replaced meanwhile."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    fcntl.flock(handle, fcntl.LOCK_SH)
    if not _same_file(handle, path):
        handle.close()
        return None
    return handle


def _unlink_if_unused(path: Path) -> bool:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if not _same_file(handle, path):
            return False  # replaced by a fresh download since we opened it
        path.unlink(missing_ok=True)
        return True


def _same_file(handle: BinaryIO, path: Path) -> bool:
    try:
        return os.fstat(handle.fileno()).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False
