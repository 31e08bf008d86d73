"""Choose the object store from settings: S3/MinIO when an endpoint is configured, else a local folder."""

from __future__ import annotations

from pathlib import Path

from storage.local import LocalStore
from storage.objects import ObjectStore
from storage.s3 import S3Store


def open_store(
    *,
    s3_endpoint: str | None,
    s3_access_key: str | None,
    s3_secret_key: str | None,
    s3_bucket: str,
    s3_secure: bool,
    local_root: Path,
    cache_dir: Path,
) -> ObjectStore:
    if not s3_endpoint:
        return LocalStore(local_root)
    if not (s3_access_key and s3_secret_key):
        raise ValueError(
            f"已配置对象存储地址 {s3_endpoint}，但缺少访问密钥；请设置 DOCSVC_S3_ACCESS_KEY 和 DOCSVC_S3_SECRET_KEY。"
            f" / S3 endpoint {s3_endpoint} is set but the access key or secret key is missing."
        )
    return S3Store(
        s3_endpoint, s3_access_key, s3_secret_key, s3_bucket, secure=s3_secure, cache_dir=cache_dir
    )
