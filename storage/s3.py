"""MinIO / S3 object store (full stack and beyond one machine), built on the `minio` SDK.

The bucket is created on start with versioning enabled, so an overwrite or a stray delete
never loses bytes; delete() therefore removes every version and delete marker of a key.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager, contextmanager
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, Iterator, cast

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, REPLACE, CopySource
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from minio.versioningconfig import VersioningConfig
from urllib3.util import Retry, Timeout

from storage.cache import DEFAULT_MAX_BYTES, DownloadCache
from storage.hashing import CHUNK, HashingReader, PrefixedReader
from storage.keys import INCOMING_PREFIX, is_original, original_key, validate_key, validate_prefix
from storage.objects import DEFAULT_CONTENT_TYPE, ObjectInfo, ObjectNotFound, StoredObject, StoreUnavailable, StoreUsage

DEFAULT_PART_SIZE = 16 * 1024 * 1024
MISSING_CODES = {"NoSuchKey", "NoSuchObject", "NoSuchVersion", "ResourceNotFound"}


class S3Store:
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = False,
        region: str | None = None,
        *,
        cache_dir: Path,
        part_size: int = DEFAULT_PART_SIZE,
        cache_max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        self.part_size = part_size
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=_http_client(),
        )
        self._cache = DownloadCache(cache_dir, cache_max_bytes)
        self._ensure_bucket()

    def __repr__(self) -> str:
        return f"S3Store({self.endpoint!r}, bucket={self.bucket!r})"

    # -- writing -------------------------------------------------------------------------

    def put(self, key: str, stream: BinaryIO, content_type: str = DEFAULT_CONTENT_TYPE) -> StoredObject:
        validate_key(key)
        if is_original(key):
            raise ValueError(
                f"原件 {key} 不可改写：原件只能经 put_original 按内容写入。"
                f" / {key} is under originals/, which only put_original may write (originals are immutable)."
            )
        reader = HashingReader(stream)
        with self._reaching():
            self._upload(key, reader, content_type)
        return StoredObject(key, reader.size, reader.hexdigest())

    def put_original(
        self, stream: BinaryIO, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> tuple[StoredObject, bool]:
        with self._reaching():
            return self._put_original(stream, content_type)

    def _put_original(self, stream: BinaryIO, content_type: str) -> tuple[StoredObject, bool]:
        reader = HashingReader(stream)
        head = reader.read(self.part_size + 1)
        if len(head) <= self.part_size:
            # Small enough to hold: the hash is known before anything is sent.
            stored = StoredObject(original_key(reader.hexdigest()), reader.size, reader.hexdigest())
            if self.exists(stored.key):
                return stored, False
            self._client.put_object(self.bucket, stored.key, BytesIO(head), len(head), content_type=content_type)
            return stored, True
        # Too big to hold: stream to a temporary key while hashing, then copy server-side.
        incoming = f"{INCOMING_PREFIX}{uuid.uuid4().hex}"
        try:
            # Hand the head over without keeping a reference: it is a whole part in memory.
            rest, head = PrefixedReader(head, cast(BinaryIO, reader)), b""
            self._upload(incoming, cast(BinaryIO, rest), content_type)
            stored = StoredObject(original_key(reader.hexdigest()), reader.size, reader.hexdigest())
            if self.exists(stored.key):
                return stored, False
            # copy_object switches to a multipart server-side copy above 5 GiB by itself; that
            # path copies no metadata, hence the explicit content type.
            self._client.copy_object(
                self.bucket,
                stored.key,
                CopySource(self.bucket, incoming),
                metadata={"Content-Type": content_type},
                metadata_directive=REPLACE,
            )
            return stored, True
        finally:
            self._remove_versions(incoming)

    def put_bytes(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> StoredObject:
        return self.put(key, BytesIO(data), content_type)

    # -- reading -------------------------------------------------------------------------

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        validate_key(key)
        try:
            with self._reaching():
                response = self._client.get_object(self.bucket, key)
        except S3Error as exc:
            raise _not_found_or(exc, key) from exc
        try:
            yield cast(BinaryIO, response)
        finally:
            response.close()
            response.release_conn()

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def local_path(self, key: str) -> AbstractContextManager[Path]:
        validate_key(key)
        try:
            with self._reaching():
                stat = self._client.stat_object(self.bucket, key)
        except S3Error as exc:
            raise _not_found_or(exc, key) from exc

        def download(target: BinaryIO) -> None:
            with self.open(key) as stream:
                while chunk := stream.read(CHUNK):
                    target.write(chunk)

        return self._cache.hold(key, stat.etag or "", download)

    def head(self, key: str) -> ObjectInfo | None:
        validate_key(key)
        try:
            with self._reaching():
                stat = self._client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in MISSING_CODES:
                return None
            raise
        return ObjectInfo(
            key=key,
            size=stat.size or 0,
            content_type=stat.content_type or DEFAULT_CONTENT_TYPE,
            modified=stat.last_modified,
        )

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def list(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        for obj in self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True):
            if not obj.object_name.startswith(INCOMING_PREFIX):
                yield obj.object_name

    # -- removing ------------------------------------------------------------------------

    def delete(self, key: str) -> int:
        """Remove every version and delete marker of key; return how many versions held data."""
        validate_key(key)
        self._cache.discard(key)
        return self._remove_versions(key)

    def versions(self, key: str) -> int:
        """How many versions and delete markers of key the bucket still holds (0 once delete() ran)."""
        validate_key(key)
        return sum(1 for obj in self._client.list_objects(self.bucket, prefix=key, include_version=True)
                   if obj.object_name == key)

    def ping(self) -> None:
        try:
            found = self._client.bucket_exists(self.bucket)
        except Exception as exc:  # connection refused, DNS, TLS, credentials: all mean "unusable"
            raise StoreUnavailable(_unreachable(self.endpoint, self.bucket, exc)) from exc
        if not found:
            raise StoreUnavailable(
                f"对象存储 {self.endpoint} 上没有存储桶 {self.bucket}；请重启服务以创建它，或检查配置。"
                f" / Bucket {self.bucket} does not exist on {self.endpoint}."
            )

    def usage(self, limit: int) -> StoreUsage:
        """The sum of the current versions' sizes (older versions kept by bucket versioning are not counted),
        from the listing: 1,000 objects per request, no object is read."""
        used = count = 0
        try:
            for obj in self._client.list_objects(self.bucket, recursive=True):
                if count >= limit:
                    return StoreUsage(used, count, complete=False)
                used += obj.size or 0
                count += 1
        except Exception as exc:  # connection refused, DNS, TLS, credentials: all mean "unusable"
            raise StoreUnavailable(_unreachable(self.endpoint, self.bucket, exc)) from exc
        return StoreUsage(used, count, complete=True)

    # -- helpers -------------------------------------------------------------------------

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        """A connection that fails (refused, reset, timed out after the client's retries) means the store is
        down, not that an object is wrong: callers see StoreUnavailable and can say "try again later"."""
        try:
            yield
        except urllib3.exceptions.HTTPError as exc:
            raise StoreUnavailable(_unreachable(self.endpoint, self.bucket, exc)) from exc

    def _ensure_bucket(self) -> None:
        try:
            if not self._client.bucket_exists(self.bucket):
                self._client.make_bucket(self.bucket)
            self._client.set_bucket_versioning(self.bucket, VersioningConfig(ENABLED))
        except S3Error as exc:
            if exc.code == "BucketAlreadyOwnedByYou":  # another worker created it first
                self._client.set_bucket_versioning(self.bucket, VersioningConfig(ENABLED))
                return
            raise StoreUnavailable(_unreachable(self.endpoint, self.bucket, exc)) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreUnavailable(_unreachable(self.endpoint, self.bucket, exc)) from exc

    def _upload(self, key: str, reader: BinaryIO | HashingReader, content_type: str) -> None:
        # length=-1 makes the SDK read one part at a time: a single PUT for small data,
        # a multipart upload otherwise, with memory bounded by part_size, never file size.
        self._client.put_object(
            self.bucket, key, cast(BinaryIO, reader), length=-1, part_size=self.part_size, content_type=content_type
        )

    def _remove_versions(self, key: str) -> int:
        versions = [
            obj
            for obj in self._client.list_objects(self.bucket, prefix=key, include_version=True)
            if obj.object_name == key
        ]
        if not versions:
            return 0
        errors = list(
            self._client.remove_objects(
                self.bucket, (DeleteObject(key, version_id=obj.version_id) for obj in versions)
            )
        )
        if errors:
            details = "; ".join(f"{err.version_id}: {err.code} {err.message}" for err in errors)
            raise RuntimeError(
                f"对象 {key} 的部分版本未能删除（{details}）；请检查存储桶的保留/锁定设置后重试。"
                f" / Could not remove every version of {key}: {details}."
            )
        return sum(1 for obj in versions if not obj.is_delete_marker)


def _http_client() -> urllib3.PoolManager:
    # The SDK's default waits up to 5 minutes to connect; fail fast on connect so ping()
    # and startup report an unreachable backend promptly, but allow slow part uploads.
    return urllib3.PoolManager(
        timeout=Timeout(connect=5, read=300),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=certifi.where(),
        retries=Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )


def _not_found_or(exc: S3Error, key: str) -> Exception:
    return ObjectNotFound(key) if exc.code in MISSING_CODES else exc


def _unreachable(endpoint: str, bucket: str, exc: BaseException) -> str:
    return (
        f"无法使用对象存储 {endpoint}（存储桶 {bucket}）：{exc}。请确认 MinIO/S3 已启动、地址与密钥配置正确。"
        f" / Object store {endpoint} (bucket {bucket}) is unreachable or refused access: {exc}"
    )
