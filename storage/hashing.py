"""A read-through wrapper that hashes and counts a stream as it is consumed."""

from __future__ import annotations

import hashlib
from typing import BinaryIO

# How much to pull from the source per read(-1) step; bounds memory for unsized reads.
CHUNK = 1024 * 1024


class HashingReader:
    """File-like reader over `source` computing SHA-256 and size of everything read.

    read(n) returns exactly n bytes unless the source is exhausted: the minio SDK appends
    successive reads with `bytes +=`, so short reads would cost quadratic copying per part.
    """

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        chunks: list[bytes] = []
        wanted = n if n is not None and n >= 0 else None
        got = 0
        while wanted is None or got < wanted:
            chunk = self._source.read(CHUNK if wanted is None else wanted - got)
            if not chunk:
                break
            chunk = bytes(chunk)
            chunks.append(chunk)
            got += len(chunk)
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._hash.update(data)
        self.size += len(data)
        return data

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class PrefixedReader:
    """Replays bytes already read from `rest` before continuing with `rest` itself.

    The replayed bytes come back whole (a short read) so a part-sized head is handed on
    without another copy.
    """

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if not self._head:
            return self._rest.read(n)
        if n is None or n < 0:
            data, self._head = self._head, b""
            return data + self._rest.read()
        if n >= len(self._head):
            data, self._head = self._head, b""
            return data
        data, self._head = self._head[:n], self._head[n:]
        return data
