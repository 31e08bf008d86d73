"""Settings: the one place that reads the environment."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from docsvc.constants import OCR_ENGINES


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    s3_endpoint: str | None
    s3_access_key: str | None
    s3_secret_key: str | None
    s3_bucket: str
    s3_secure: bool
    ocr_engine: str
    secret_key: str
    inprocess_workers: int
    ocr_dpi: int = 300
    max_upload_mb: int = 4096
    job_timeout_s: int = 900
    hot_folder_poll_s: float = 2.0
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def embedded_jobs(self) -> bool:
        """No Redis configured: jobs run on threads inside the process."""
        return not self.redis_url

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        data_dir = Path(env.get("DOCSVC_DATA_DIR") or "var").absolute()
        engine = (env.get("DOCSVC_OCR_ENGINE") or "rapidocr").strip().lower()
        if engine not in OCR_ENGINES:
            raise ValueError(
                f"DOCSVC_OCR_ENGINE={engine!r} 不是可用的识别引擎 / is not a known OCR engine; "
                f"choose one of: {', '.join(OCR_ENGINES)}"
            )
        return cls(
            data_dir=data_dir,
            database_url=env.get("DOCSVC_DATABASE_URL") or f"sqlite:///{data_dir / 'docsvc.sqlite3'}",
            redis_url=env.get("DOCSVC_REDIS_URL") or None,
            s3_endpoint=env.get("DOCSVC_S3_ENDPOINT") or None,
            s3_access_key=env.get("DOCSVC_S3_ACCESS_KEY") or None,
            s3_secret_key=env.get("DOCSVC_S3_SECRET_KEY") or None,
            s3_bucket=env.get("DOCSVC_S3_BUCKET") or "docsvc",
            s3_secure=_bool(env.get("DOCSVC_S3_SECURE"), False),
            ocr_engine=engine,
            secret_key=env.get("DOCSVC_SECRET_KEY") or _persistent_secret(data_dir),
            inprocess_workers=int(env.get("DOCSVC_WORKERS") or 2),
            ocr_dpi=int(env.get("DOCSVC_OCR_DPI") or 300),
            max_upload_mb=int(env.get("DOCSVC_MAX_UPLOAD_MB") or 4096),
            job_timeout_s=int(env.get("DOCSVC_JOB_TIMEOUT") or 900),
            hot_folder_poll_s=float(env.get("DOCSVC_HOT_FOLDER_POLL") or 2.0),
        )


def _persistent_secret(data_dir: Path) -> str:
    """The embedded default keeps its session key in the data directory so logins survive restarts."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key
