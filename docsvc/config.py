"""Settings: the one place that reads the environment."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from docsvc.constants import MIN_AUDIT_RETENTION_DAYS, OCR_ENGINES


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class FilingSettings:
    """Customer files: how 户号 look, how 档号 are built, when suggestions may file by themselves."""
    account_pattern: str = r"^\d{10}$"
    # DA/T 22-2015 item level: 全宗号-门类代码·年度-保管期限-机构代码-件号
    archive_code_pattern: str = "{fonds}-{category}·{year}-{retention}-{org}-{seq:04d}"
    fonds: str = "J001"
    category: str = "KH"
    org: str = "YX"
    # When a document's last page is read, its best suggestion files it by itself (see suggestions.py),
    # only at or above this confidence; `autofile` off leaves every document to the operator.
    autofile: bool = True
    autofile_confidence: float = 0.95
    # Which separator sheets the split job honours: cover (QR cover sheets), patch_t, blank.
    separators: tuple[str, ...] = ("cover",)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "FilingSettings":
        default = cls()
        # Unset means cover sheets; set but empty ("" or "none") turns separator detection off.
        raw = env.get("DOCSVC_SEPARATORS", "cover")
        separators = () if raw.strip().lower() == "none" else tuple(s.strip() for s in raw.split(",") if s.strip())
        unknown = set(separators) - {"cover", "patch_t", "blank"}
        if unknown:
            raise ValueError(f"DOCSVC_SEPARATORS 含有未知的分隔页类型 / unknown separator kinds: {sorted(unknown)}; "
                             "use cover, patch_t, blank")
        confidence = float(env.get("DOCSVC_AUTOFILE_CONFIDENCE") or default.autofile_confidence)
        if not 0 < confidence <= 1:
            raise ValueError(f"DOCSVC_AUTOFILE_CONFIDENCE={confidence} 应在 0 与 1 之间（如 0.95）；要关闭自动归档请设 "
                             "DOCSVC_AUTOFILE=0。 / must be above 0 and at most 1 (e.g. 0.95); to turn automatic "
                             "filing off set DOCSVC_AUTOFILE=0.")
        return cls(
            account_pattern=env.get("DOCSVC_ACCOUNT_PATTERN") or default.account_pattern,
            archive_code_pattern=env.get("DOCSVC_ARCHIVE_CODE_PATTERN") or default.archive_code_pattern,
            fonds=env.get("DOCSVC_FONDS") or default.fonds,
            category=env.get("DOCSVC_ARCHIVE_CATEGORY") or default.category,
            org=env.get("DOCSVC_ARCHIVE_ORG") or default.org,
            autofile=_bool(env.get("DOCSVC_AUTOFILE"), default.autofile),
            autofile_confidence=confidence,
            separators=separators,
        )


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
    audit_retention_days: int = 3650
    # Read events (page views, downloads) commit without waiting for the WAL flush unless this is set.
    audit_durable_reads: bool = False
    secure_cookies: bool = False
    # Days between a destruction list's approval and the first supervisor's confirmation (7 recommended).
    destruction_wait_days: int = 0
    filing: FilingSettings = field(default_factory=FilingSettings)

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
        retention = int(env.get("DOCSVC_AUDIT_RETENTION_DAYS") or 3650)
        if retention < MIN_AUDIT_RETENTION_DAYS:
            raise ValueError(
                f"DOCSVC_AUDIT_RETENTION_DAYS={retention} 太短：审计日志至少保留 {MIN_AUDIT_RETENTION_DAYS} 天（6 个月）。 / "
                f"is too short: the audit trail is kept at least {MIN_AUDIT_RETENTION_DAYS} days (6 months)."
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
            audit_retention_days=retention,
            audit_durable_reads=_bool(env.get("DOCSVC_AUDIT_DURABLE_READS"), False),
            # Browsers send Secure cookies to http://localhost too; turn off only behind plain-HTTP proxies.
            # Off by default: the embedded service is reached over plain HTTP on the office network.
            secure_cookies=_bool(env.get("DOCSVC_SECURE_COOKIES"), False),
            destruction_wait_days=int(env.get("DOCSVC_DESTRUCTION_WAIT_DAYS") or 0),
            filing=FilingSettings.from_env(env),
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
