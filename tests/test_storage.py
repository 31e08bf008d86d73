"""Behaviour of the object store, run against both the local folder and S3 (moto server)."""

from __future__ import annotations

import hashlib
import io
import random
import resource
import stat
import tracemalloc
from pathlib import Path

import pytest
from minio import Minio

from storage import LocalStore, ObjectNotFound, ObjectStore, S3Store, StoreUnavailable, open_store

MiB = 1024 * 1024
MIN_S3_PART = 5 * MiB  # the smallest multipart part S3 accepts


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "objects")
    return request.getfixturevalue("s3_store")


@pytest.fixture
def small_part_store(s3_store: S3Store, s3_server: dict[str, str], tmp_path: Path) -> S3Store:
    """An S3Store with the minimum part size on the test bucket, so multipart paths run on a few MiB."""
    return S3Store(**s3_server, bucket=s3_store.bucket, cache_dir=tmp_path / "small-cache", part_size=MIN_S3_PART)


class PatternStream:
    """A file-like source of `count` repetitions of `block`, produced on demand like a network upload."""

    def __init__(self, block: bytes, count: int, fail_after: int | None = None) -> None:
        self._block = block
        self._left = len(block) * count
        self._sent = 0
        self._fail_after = fail_after

    def read(self, n: int = -1) -> bytes:
        if self._fail_after is not None and self._sent >= self._fail_after:
            raise ConnectionResetError("scanner connection dropped")
        start = self._sent % len(self._block)
        wanted = len(self._block) if n is None or n < 0 else n
        chunk = self._block[start : min(len(self._block), start + wanted, start + self._left)]
        self._sent += len(chunk)
        self._left -= len(chunk)
        return chunk


def sha256_of_pattern(block: bytes, count: int) -> str:
    digest = hashlib.sha256()
    for _ in range(count):
        digest.update(block)
    return digest.hexdigest()


def versions_on_server(client: Minio, bucket: str, prefix: str = "") -> list[tuple[str, bool]]:
    return [
        (obj.object_name, obj.is_delete_marker)
        for obj in client.list_objects(bucket, prefix=prefix, recursive=True, include_version=True)
    ]


# -- both backends ---------------------------------------------------------------------------


def test_put_then_read_returns_the_same_bytes_and_type(store: ObjectStore) -> None:
    data = "客户档案 第1页".encode() * 1000
    store.put("pages/1/words.json", io.BytesIO(data), "application/json")

    with store.open("pages/1/words.json") as stream:
        assert stream.read() == data
    assert store.read_bytes("pages/1/words.json") == data
    info = store.head("pages/1/words.json")
    assert info is not None
    assert (info.key, info.size, info.content_type) == ("pages/1/words.json", len(data), "application/json")
    assert info.modified.tzinfo is not None


def test_put_reports_size_and_sha256_of_what_was_streamed(store: ObjectStore) -> None:
    data = random.Random(3).randbytes(300_000)

    stored = store.put_bytes("pages/7/image.png", data, "image/png")

    assert stored.key == "pages/7/image.png"
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()


def test_original_is_stored_under_its_sha256(store: ObjectStore) -> None:
    data = b"%PDF-1.7 scanned batch"

    stored, created = store.put_original(io.BytesIO(data), "application/pdf")

    sha = hashlib.sha256(data).hexdigest()
    assert created is True
    assert stored.key == f"originals/{sha}" and stored.sha256 == sha and stored.size == len(data)
    assert store.read_bytes(stored.key) == data
    assert store.head(stored.key).content_type == "application/pdf"


def test_identical_original_is_stored_once_and_left_untouched(store: ObjectStore) -> None:
    data = b"same scan uploaded twice"
    first, created_first = store.put_original(io.BytesIO(data), "application/pdf")
    before = store.head(first.key)

    second, created_second = store.put_original(io.BytesIO(data), "image/tiff")

    assert (created_first, created_second) == (True, False)
    assert second == first
    assert list(store.list("originals/")) == [first.key]
    assert store.head(first.key) == before  # same type and modification time: not rewritten


def test_originals_cannot_be_overwritten_by_put(store: ObjectStore) -> None:
    original, _ = store.put_original(io.BytesIO(b"the real scan"))

    with pytest.raises(ValueError, match="originals/"):
        store.put_bytes(original.key, b"forged")
    with pytest.raises(ValueError, match="originals/"):
        store.put("originals/" + "0" * 64, io.BytesIO(b"made up"))

    assert store.read_bytes(original.key) == b"the real scan"
    assert not store.exists("originals/" + "0" * 64)


def test_put_replaces_a_derived_file(store: ObjectStore) -> None:
    store.put_bytes("pages/3/thumb.jpg", b"old thumbnail", "image/jpeg")

    store.put_bytes("pages/3/thumb.jpg", b"regenerated", "image/png")

    assert store.read_bytes("pages/3/thumb.jpg") == b"regenerated"
    assert store.head("pages/3/thumb.jpg").content_type == "image/png"


def test_delete_removes_the_object(store: ObjectStore) -> None:
    original, _ = store.put_original(io.BytesIO(b"to be destroyed"))
    store.put_bytes("pages/5/image.png", b"page")

    assert store.delete(original.key) == 1
    assert store.delete("pages/5/image.png") == 1

    assert not store.exists(original.key) and store.head("pages/5/image.png") is None
    assert list(store.list()) == []
    assert store.delete(original.key) == 0


def test_missing_object_has_no_head_and_cannot_be_read(store: ObjectStore) -> None:
    assert store.head("pages/404/image.png") is None
    assert store.exists("pages/404/image.png") is False
    with pytest.raises(ObjectNotFound) as caught:
        store.read_bytes("pages/404/image.png")
    assert "pages/404/image.png" in str(caught.value)
    with pytest.raises(ObjectNotFound):
        with store.local_path("pages/404/image.png"):
            pass


def test_list_yields_keys_starting_with_the_prefix(store: ObjectStore) -> None:
    for key in ["pages/1/image.png", "pages/1/words.json", "pages/12/image.png", "pages/2/image.png"]:
        store.put_bytes(key, key.encode())
    original, _ = store.put_original(io.BytesIO(b"batch"))

    assert sorted(store.list("pages/1/")) == ["pages/1/image.png", "pages/1/words.json"]
    assert sorted(store.list("pages/1")) == ["pages/1/image.png", "pages/1/words.json", "pages/12/image.png"]
    assert list(store.list("originals/")) == [original.key]
    assert len(list(store.list())) == 5
    assert list(store.list("nothing/")) == []


@pytest.mark.parametrize(
    "bad_key", ["../etc/passwd", "pages/../../x", "/abs/key", "pages/1\x00.png", "", "pages//1", "pages/1/", "pages/./1", "a\\b", "_incoming/x"]
)
def test_unsafe_keys_are_refused(store: ObjectStore, bad_key: str) -> None:
    with pytest.raises(ValueError):
        store.put_bytes(bad_key, b"x")
    with pytest.raises(ValueError):
        store.head(bad_key)
    with pytest.raises(ValueError):
        store.delete(bad_key)
    with pytest.raises(ValueError):
        with store.open(bad_key):
            pass


def test_local_path_is_a_readable_file_with_the_bytes(store: ObjectStore) -> None:
    original, _ = store.put_original(io.BytesIO(b"%PDF 500 pages"))

    with store.local_path(original.key) as path:
        assert path.read_bytes() == b"%PDF 500 pages"


def test_failed_upload_leaves_nothing_behind(store: ObjectStore) -> None:
    broken = PatternStream(b"x" * MiB, 20, fail_after=3 * MiB)

    with pytest.raises(ConnectionResetError):
        store.put_original(broken)  # type: ignore[arg-type]

    assert list(store.list()) == []


# -- local folder ----------------------------------------------------------------------------


def test_local_originals_are_read_only_files_and_no_temp_files_remain(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")

    original, _ = store.put_original(io.BytesIO(b"archived scan"))
    store.put_original(io.BytesIO(b"archived scan"))

    with store.local_path(original.key) as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert list((tmp_path / "objects" / "tmp").iterdir()) == []


def test_local_delete_leaves_no_empty_page_folders(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    store.put_bytes("pages/9/image.png", b"page", "image/png")

    store.delete("pages/9/image.png")

    assert not (tmp_path / "objects" / "objects" / "pages").exists()


def test_local_ping_reports_a_missing_folder(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    store.ping()
    (tmp_path / "objects" / "objects").rmdir()

    with pytest.raises(StoreUnavailable, match="本地对象目录"):
        store.ping()


# -- S3 --------------------------------------------------------------------------------------


def test_s3_bucket_is_created_with_versioning(s3_store: S3Store, s3_client: Minio) -> None:
    assert s3_client.bucket_exists(s3_store.bucket)
    assert s3_client.get_bucket_versioning(s3_store.bucket).status == "Enabled"


def test_s3_delete_removes_every_version_and_delete_marker(s3_store: S3Store, s3_client: Minio) -> None:
    s3_store.put_bytes("pages/1/image.png", b"first render")
    s3_store.put_bytes("pages/1/image.png", b"second render")
    s3_store.put_bytes("pages/1/image.png", b"third render")
    s3_client.remove_object(s3_store.bucket, "pages/1/image.png")  # leaves a delete marker
    s3_store.put_bytes("pages/1/image.pngx", b"neighbour sharing the prefix")
    assert versions_on_server(s3_client, s3_store.bucket, "pages/1/image.png").count(("pages/1/image.png", False)) == 3

    removed = s3_store.delete("pages/1/image.png")

    assert removed == 3
    assert versions_on_server(s3_client, s3_store.bucket) == [("pages/1/image.pngx", False)]


def test_s3_large_original_streams_through_a_temporary_key(
    small_part_store: S3Store, s3_client: Minio
) -> None:
    block = random.Random(5).randbytes(MiB)

    stored, created = small_part_store.put_original(PatternStream(block, 12), "application/pdf")  # type: ignore[arg-type]
    again, created_again = small_part_store.put_original(PatternStream(block, 12))  # type: ignore[arg-type]

    assert (created, created_again) == (True, False)
    assert stored == again and stored.sha256 == sha256_of_pattern(block, 12) and stored.size == 12 * MiB
    # Only the original remains: the temporary upload is gone with all its versions.
    assert versions_on_server(s3_client, small_part_store.bucket) == [(stored.key, False)]
    assert small_part_store.head(stored.key).content_type == "application/pdf"
    with small_part_store.open(stored.key) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == stored.sha256


def test_s3_large_failed_upload_leaves_no_temporary_objects(small_part_store: S3Store, s3_client: Minio) -> None:
    broken = PatternStream(b"y" * MiB, 20, fail_after=12 * MiB)

    with pytest.raises(ConnectionResetError):
        small_part_store.put_original(broken)  # type: ignore[arg-type]

    assert versions_on_server(s3_client, small_part_store.bucket) == []


def test_s3_upload_memory_is_bounded_by_part_size_not_file_size(small_part_store: S3Store) -> None:
    block = random.Random(9).randbytes(MiB)
    count = 200
    rss_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    tracemalloc.start()
    try:
        stored, created = small_part_store.put_original(PatternStream(block, count))  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before_kib) * 1024

    file_size = count * MiB
    assert created and stored.size == file_size and stored.sha256 == sha256_of_pattern(block, count)
    # The SDK keeps at most its 3 parallel parts in flight plus the part being read.
    assert peak < 8 * MIN_S3_PART < file_size / 4
    assert rss_growth < file_size / 4


def test_s3_local_path_downloads_once_and_reuses_the_file(s3_store: S3Store) -> None:
    original, _ = s3_store.put_original(io.BytesIO(b"%PDF " + b"p" * 50_000))

    with s3_store.local_path(original.key) as first:
        first_inode = first.stat().st_ino
    with s3_store.local_path(original.key) as second:
        assert second == first
        assert second.stat().st_ino == first_inode  # same file, not downloaded again
        assert hashlib.sha256(second.read_bytes()).hexdigest() == original.sha256


def test_s3_local_path_never_serves_a_replaced_object(s3_store: S3Store) -> None:
    s3_store.put_bytes("pages/4/image.png", b"old page render")
    with s3_store.local_path("pages/4/image.png") as path:
        assert path.read_bytes() == b"old page render"

    s3_store.put_bytes("pages/4/image.png", b"new page render")

    with s3_store.local_path("pages/4/image.png") as path:
        assert path.read_bytes() == b"new page render"


def test_s3_cache_evicts_least_recently_used_but_not_files_in_use(
    s3_store: S3Store, s3_server: dict[str, str], tmp_path: Path
) -> None:
    store = S3Store(**s3_server, bucket=s3_store.bucket, cache_dir=tmp_path / "tiny", cache_max_bytes=2500)
    for name in "abcd":
        store.put_bytes(f"pages/{name}/image.png", name.encode() * 1000)

    with store.local_path("pages/a/image.png") as path_a:  # the oldest entry, but in use throughout
        with store.local_path("pages/b/image.png") as path_b:
            pass
        with store.local_path("pages/c/image.png") as path_c:  # over the limit: b goes, a is in use
            pass
        assert path_a.exists() and not path_b.exists() and path_c.exists()
    with store.local_path("pages/a/image.png"):  # a becomes the most recently used
        pass
    with store.local_path("pages/d/image.png") as path_d:  # over the limit: c is least recently used
        pass
    assert path_a.exists() and not path_c.exists() and path_d.exists()


def test_s3_delete_also_removes_cached_copies(s3_store: S3Store) -> None:
    original, _ = s3_store.put_original(io.BytesIO(b"scan to destroy"))
    with s3_store.local_path(original.key) as path:
        pass

    s3_store.delete(original.key)

    assert not path.exists()


@pytest.mark.integration   # connects to a closed port
def test_s3_unreachable_endpoint_is_reported_clearly(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="无法使用对象存储 127.0.0.1:9"):
        S3Store("127.0.0.1:9", "key", "secret", "docsvc", cache_dir=tmp_path / "cache")


def test_s3_ping_passes_on_a_live_store(s3_store: S3Store) -> None:
    s3_store.ping()


# -- choosing a backend ----------------------------------------------------------------------


def test_open_store_uses_local_folder_without_s3_endpoint(tmp_path: Path) -> None:
    store = open_store(
        s3_endpoint=None, s3_access_key=None, s3_secret_key=None, s3_bucket="docsvc", s3_secure=False,
        local_root=tmp_path / "objects", cache_dir=tmp_path / "cache",
    )
    assert isinstance(store, LocalStore)


def test_open_store_uses_s3_when_an_endpoint_is_set(s3_store: S3Store, s3_server: dict[str, str], tmp_path: Path) -> None:
    store = open_store(
        s3_endpoint=s3_server["endpoint"], s3_access_key=s3_server["access_key"],
        s3_secret_key=s3_server["secret_key"], s3_bucket=s3_store.bucket, s3_secure=False,
        local_root=tmp_path / "objects", cache_dir=tmp_path / "cache",
    )
    assert isinstance(store, S3Store)
    store.put_bytes("pages/1/image.png", b"via settings")
    assert s3_store.read_bytes("pages/1/image.png") == b"via settings"


def test_open_store_refuses_s3_endpoint_without_keys(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DOCSVC_S3_ACCESS_KEY"):
        open_store(
            s3_endpoint="minio:9000", s3_access_key=None, s3_secret_key=None, s3_bucket="docsvc", s3_secure=False,
            local_root=tmp_path / "objects", cache_dir=tmp_path / "cache",
        )


def test_usage_counts_what_the_store_holds_and_stops_at_the_limit(store: ObjectStore) -> None:
    for n in range(3):
        store.put_bytes(f"pages/{n}/image.png", bytes([n]) * 5000)
    used = store.usage(1000)
    assert used.complete and used.objects >= 3
    if isinstance(store, S3Store):  # the listing's sizes, exactly
        assert (used.bytes, used.objects) == (15_000, 3)
    else:  # allocated blocks: at least the bytes written
        assert used.bytes >= 15_000
    partial = store.usage(2)
    assert not partial.complete and partial.objects == 2 and partial.bytes < used.bytes
