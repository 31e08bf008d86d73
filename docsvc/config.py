"""Settings: the one place that reads the environment."""
from __future__ import annotations

import math
import os
import re
import secrets
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from docsvc.i18n import DEFAULT as DEFAULT_LANGUAGE, LANGUAGES, _
from docsvc.constants import (MIN_AUDIT_RETENTION_DAYS, OCR_DETECTION_SIDE, OCR_DETECTION_SIDES, OCR_ENGINES,
                              OCR_MAX_THREADS, STALE_CLAIM_S)

IPNetwork = IPv4Network | IPv6Network

# The decoder process (docsvc.formats.decoder) with its libraries loaded takes about 200 MB of address space.
MIN_JOB_MEMORY_MB = 512

# The placeholder in .env.example: a deployment that kept it signs sessions with a published key.
EXAMPLE_SECRET_KEY = "change-me-session-key"


class ConfigError(ValueError):
    """A setting that cannot be used. The message names the variable, the value given and what is accepted
    (`accepted`, in the language of the process: docsvc.i18n); entry points print it and stop."""

    def __init__(self, name: str, value: str, accepted: str):
        super().__init__(f"{name}={value}: {accepted}")


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
# what S3 and MinIO accept as a bucket name
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class _Env:
    """Typed reads of one environment mapping. An unset or empty variable means its default;
    anything else must be a value the reader accepts, or ConfigError names it."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def optional(self, name: str) -> str | None:
        value = self.env.get(name)
        return value if value and value.strip() else None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def flag(self, name: str, default: bool) -> bool:
        # a misspelt "ture" must not quietly mean false
        value = self.optional(name)
        if value is None:
            return default
        if value.strip().lower() in _TRUE:
            return True
        if value.strip().lower() in _FALSE:
            return False
        raise ConfigError(name, value, _("expected 1/0, true/false, yes/no or on/off"))

    def networks(self, name: str) -> tuple[IPNetwork, ...]:
        """Comma-separated addresses or networks (10.0.0.5, 172.16.0.0/12, ::1); none when unset."""
        value = self.optional(name)
        if value is None:
            return ()
        try:
            return tuple(ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())
        except ValueError:
            raise ConfigError(name, value, _("expected comma-separated IP addresses or networks such as "
                                             "127.0.0.1, 172.16.0.0/12")) from None

    def zone(self, name: str, default: str) -> ZoneInfo:
        value = self.text(name, default)
        try:
            return ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(name, value, _("expected an IANA time zone name such as Asia/Shanghai")) from None

    def whole(self, name: str, default: int, minimum: int = 1, why: str = "") -> int:
        """A whole number of at least `minimum`; `why` (translated, with its leading punctuation) explains a
        minimum above 1."""
        value = self.optional(name)
        if value is None:
            return default
        number = _integer(value)
        if number is None or number < minimum:
            if minimum == 1:
                raise ConfigError(name, value, _("expected a positive whole number"))
            raise ConfigError(name, value, _("expected a whole number of at least %(minimum)s", minimum=minimum) + why)
        return number

    def between(self, name: str, default: int, low: int, high: int) -> int:
        """A whole number from `low` to `high`."""
        value = self.optional(name)
        if value is None:
            return default
        number = _integer(value)
        if number is None or not low <= number <= high:
            raise ConfigError(name, value, _("expected a whole number from %(low)s to %(high)s", low=low, high=high))
        return number

    def number(self, name: str, default: float, *, most: float | None = None, why: str = "") -> float:
        """A number above 0 (and at most `most`); `why` (translated, with its leading punctuation) is added
        to the message."""
        value = self.optional(name)
        if value is None:
            return default
        try:
            number = float(value.strip())
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number > 0 and (most is None or number <= most)):
            if most is None:
                raise ConfigError(name, value, _("expected a number above 0 (e.g. 2 or 0.5)") + why)
            raise ConfigError(name, value, _("expected a number above 0 and at most %(most)s", most=f"{most:g}") + why)
        return number

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.optional(name)
        if value is None:
            return default
        if value.strip().lower() not in choices:
            raise ConfigError(name, value, _("choose one of: %(choices)s", choices=", ".join(choices)))
        return value.strip().lower()


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
        read = _Env(env)
        account_pattern = read.text("DOCSVC_ACCOUNT_PATTERN", default.account_pattern)
        try:
            re.compile(account_pattern)
        except re.error as exc:
            raise ConfigError("DOCSVC_ACCOUNT_PATTERN", account_pattern,
                              _("expected a regular expression such as %(example)s (%(error)s)", example=r"^\d{10}$",
                                error=exc)) from None
        code_pattern = read.text("DOCSVC_ARCHIVE_CODE_PATTERN", default.archive_code_pattern)
        _check_code_pattern(code_pattern)
        confidence = read.number("DOCSVC_AUTOFILE_CONFIDENCE", default.autofile_confidence, most=1,
                                 why=_(" (e.g. 0.95); to turn automatic filing off set DOCSVC_AUTOFILE=0"))
        return cls(
            account_pattern=account_pattern,
            archive_code_pattern=code_pattern,
            fonds=read.text("DOCSVC_FONDS", default.fonds),
            category=read.text("DOCSVC_ARCHIVE_CATEGORY", default.category),
            org=read.text("DOCSVC_ARCHIVE_ORG", default.org),
            autofile=read.flag("DOCSVC_AUTOFILE", default.autofile),
            autofile_confidence=confidence,
            separators=_separators(env.get("DOCSVC_SEPARATORS")),
        )


_SEPARATOR_KINDS = ("cover", "patch_t", "blank")


def _separators(raw: str | None) -> tuple[str, ...]:
    """Unset means cover sheets; set but empty ("" or "none") turns separator detection off."""
    if raw is None:
        return ("cover",)
    if raw.strip().lower() == "none":
        return ()
    kinds = tuple(s.strip().lower() for s in raw.split(",") if s.strip())
    if set(kinds) - set(_SEPARATOR_KINDS):
        raise ConfigError("DOCSVC_SEPARATORS", raw, _("expected %(kinds)s (comma-separated) or none",
                                                      kinds=", ".join(_SEPARATOR_KINDS)))
    return kinds


def _check_code_pattern(pattern: str) -> None:
    """The 档号 pattern must fill from the parts filing knows and hold the 件号 ({seq})."""
    sample = {"fonds": "J001", "category": "KH", "year": 2019, "retention": "D30", "org": "YX"}
    try:
        first, second = pattern.format(seq=1, **sample), pattern.format(seq=2, **sample)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):   # what str.format raises
        first = second = ""
    if not first or first == second:
        raise ConfigError("DOCSVC_ARCHIVE_CODE_PATTERN", pattern,
                          _("expected a format of %(parts)s, with the item number %(seq)s (e.g. %(example)s)",
                            parts="{fonds} {category} {year} {retention} {org} {seq}", seq="{seq}",
                            example="{seq:04d}"))


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
    # RapidOCR tuning (docs/benchmarks.md "OCR speed study"): the detection input's long side in
    # pixels, and onnxruntime threads per model (1: each worker owns one core).
    ocr_detection_side: int = OCR_DETECTION_SIDE
    ocr_threads: int = 1
    max_upload_mb: int = 4096
    job_timeout_s: int = 900
    # Address space of the decoder process that reads an upload's content (docs/input-limits.md).
    job_memory_mb: int = 2048
    # Seconds a job's claim on its row holds unless renewed; running jobs renew it every third of that, so
    # work whose worker died is taken up again this long after its last renewal (docsvc.pipeline.jobstate).
    claim_lease_s: float = STALE_CLAIM_S
    hot_folder_poll_s: float = 2.0
    audit_retention_days: int = 3650
    # Read events (page views, downloads) commit without waiting for the WAL flush unless this is set.
    audit_durable_reads: bool = False
    secure_cookies: bool = False
    # A browser session ends after this long without a request, and in any case this long after login.
    session_idle_minutes: int = 60
    session_max_hours: int = 12
    # Reverse proxies in front (the TLS proxy of docs/deployment.md): their X-Forwarded-For/-Proto name the
    # client, so per-address login and token limits count people, not the proxy. 0: trust no header.
    proxy_hops: int = 0
    # The reverse proxies whose X-Forwarded-* headers are believed; from any other peer they are ignored.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    # Days between a destruction list's approval and the first supervisor's confirmation (7 recommended).
    destruction_wait_days: int = 0
    # Fixity: megabytes of originals re-read per daily run, and the most it reads per second, so the
    # check finishes its share each night without taking the disks from OCR (docs/integrity.md).
    fixity_daily_mb: int = 2048
    fixity_rate_mb_s: float = 20.0
    # argon2id cost of new password hashes: argon2-cffi's default, RFC 9106's low-memory profile (64 MiB,
    # 3 passes). Lower only where passwords guard nothing (the test suite); a login re-hashes at the cost set.
    password_hash_memory_kib: int = 65536
    password_hash_iterations: int = 3
    # Times are stored in UTC and shown to people in this zone.
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    # Logs: "text" for people at a terminal, "json" (one object per line) for a log collector.
    log_format: str = "text"
    # /metrics asks for this bearer token when set; unset, it answers whoever reaches the port (docs/deployment.md).
    metrics_token: str | None = None
    # `docsvc worker` serves its own /metrics (pages read, OCR time) on this port; 0: none.
    worker_metrics_port: int = 0
    # prometheus_client's multiprocess mode (gunicorn's workers add up their metrics through files here).
    metrics_multiproc_dir: Path | None = None
    # Where a backup started from the browser is written (one new folder per backup); unset: the browser
    # cannot start backups (the `docsvc backup DIR` command names its folder itself).
    backup_dir: Path | None = None
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
        """Settings from the environment (or `env`); raises ConfigError for the first value
        that cannot be used."""
        env = os.environ if env is None else env
        read = _Env(env)
        data_dir = Path(read.text("DOCSVC_DATA_DIR", "var")).absolute()
        database_url = read.text("DOCSVC_DATABASE_URL", f"sqlite:///{data_dir / 'docsvc.sqlite3'}")
        try:
            make_url(database_url)
        except ArgumentError:
            raise ConfigError("DOCSVC_DATABASE_URL", database_url,
                              _("expected a database URL such as postgresql+psycopg://user@host/db")) from None
        redis_url = read.optional("DOCSVC_REDIS_URL")
        if redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError("DOCSVC_REDIS_URL", redis_url, _("expected a Redis URL such as redis://host:6379/0"))
        s3_endpoint = read.optional("DOCSVC_S3_ENDPOINT")
        if s3_endpoint and not _host_port(s3_endpoint):
            # the MinIO client takes host[:port]; https is DOCSVC_S3_SECURE's job
            raise ConfigError("DOCSVC_S3_ENDPOINT", s3_endpoint,
                              _("expected host[:port] without http:// (e.g. minio:9000; DOCSVC_S3_SECURE=1 for HTTPS)"))
        bucket = read.text("DOCSVC_S3_BUCKET", "docsvc")
        if not _BUCKET.match(bucket):
            raise ConfigError("DOCSVC_S3_BUCKET", bucket,
                              _("expected a bucket name of 3-63 lowercase letters, digits, dots or hyphens"))
        secret_key = read.optional("DOCSVC_SECRET_KEY") or _persistent_secret(data_dir)
        if secret_key == EXAMPLE_SECRET_KEY:
            raise ConfigError(
                "DOCSVC_SECRET_KEY", secret_key,
                _("still the example value from .env.example, with which anyone can forge a login. Set a random "
                  "value in .env (%(command)s) and start again",
                  command='python3 -c "import secrets; print(secrets.token_urlsafe(32))"'))
        # docsvc.i18n reads DOCSVC_LANGUAGE when it translates; checked here so that a typo stops start-up
        # like any other wrong value instead of quietly meaning Chinese.
        read.choice("DOCSVC_LANGUAGE", DEFAULT_LANGUAGE, LANGUAGES)
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=redis_url,
            s3_endpoint=s3_endpoint,
            s3_access_key=read.optional("DOCSVC_S3_ACCESS_KEY"),
            s3_secret_key=read.optional("DOCSVC_S3_SECRET_KEY"),
            s3_bucket=bucket,
            s3_secure=read.flag("DOCSVC_S3_SECURE", False),
            ocr_engine=read.choice("DOCSVC_OCR_ENGINE", "rapidocr", OCR_ENGINES),
            secret_key=secret_key,
            inprocess_workers=read.whole("DOCSVC_WORKERS", 2),
            ocr_dpi=read.whole("DOCSVC_OCR_DPI", 300),
            ocr_detection_side=read.between("DOCSVC_OCR_DETECTION_SIDE", OCR_DETECTION_SIDE, *OCR_DETECTION_SIDES),
            ocr_threads=read.between("DOCSVC_OCR_THREADS", 1, 1, OCR_MAX_THREADS),
            max_upload_mb=read.whole("DOCSVC_MAX_UPLOAD_MB", 4096),
            job_timeout_s=read.whole("DOCSVC_JOB_TIMEOUT", 900),
            job_memory_mb=_job_memory_mb(read),
            claim_lease_s=read.number("DOCSVC_CLAIM_LEASE", STALE_CLAIM_S),
            hot_folder_poll_s=read.number("DOCSVC_HOT_FOLDER_POLL", 2.0),
            audit_retention_days=read.whole("DOCSVC_AUDIT_RETENTION_DAYS", 3650, minimum=MIN_AUDIT_RETENTION_DAYS,
                                            why=_(": the audit trail is kept at least 6 months")),
            audit_durable_reads=read.flag("DOCSVC_AUDIT_DURABLE_READS", False),
            # Browsers send Secure cookies to http://localhost too; turn off only behind plain-HTTP proxies.
            # Off by default: the embedded service is reached over plain HTTP on the office network.
            secure_cookies=read.flag("DOCSVC_SECURE_COOKIES", False),
            session_idle_minutes=read.whole("DOCSVC_SESSION_IDLE_MINUTES", 60),
            session_max_hours=read.whole("DOCSVC_SESSION_MAX_HOURS", 12),
            proxy_hops=read.whole("DOCSVC_PROXY_HOPS", 0, minimum=0),
            trusted_proxies=read.networks("DOCSVC_TRUSTED_PROXIES"),
            destruction_wait_days=read.whole("DOCSVC_DESTRUCTION_WAIT_DAYS", 0, minimum=0),
            fixity_daily_mb=read.whole("DOCSVC_FIXITY_DAILY_MB", 2048),
            fixity_rate_mb_s=read.number("DOCSVC_FIXITY_RATE_MB_S", 20.0),
            password_hash_memory_kib=read.whole("DOCSVC_PASSWORD_HASH_MEMORY_KIB", 65536, minimum=64,
                                                why=_(": argon2 runs 4 lanes of at least 16 KiB each")),
            password_hash_iterations=read.whole("DOCSVC_PASSWORD_HASH_ITERATIONS", 3),
            timezone=read.zone("DOCSVC_TIMEZONE", "Asia/Shanghai"),
            log_format=read.choice("DOCSVC_LOG_FORMAT", "text", LOG_FORMATS),
            metrics_token=read.optional("DOCSVC_METRICS_TOKEN"),
            worker_metrics_port=read.between("DOCSVC_WORKER_METRICS_PORT", 0, 0, 65535),  # 0: none
            metrics_multiproc_dir=_multiproc_dir(read.optional("PROMETHEUS_MULTIPROC_DIR")),
            backup_dir=_absolute(read.optional("DOCSVC_BACKUP_DIR")),
            filing=FilingSettings.from_env(env),
        )


def _job_memory_mb(read: _Env) -> int:
    """0 turns the decoder process off (files read inside the worker, unlimited); else at least the minimum."""
    if (read.optional("DOCSVC_JOB_MEMORY_MB") or "").strip() == "0":
        return 0
    return read.whole("DOCSVC_JOB_MEMORY_MB", 2048, minimum=MIN_JOB_MEMORY_MB,
                      why=_(" (or 0 for no decoder process and no limit): the decoder process itself needs about "
                            "200 MB"))
LOG_FORMATS = ("text", "json")


def _integer(value: str) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None


def _absolute(value: str | None) -> Path | None:
    return Path(value).absolute() if value else None


def _multiproc_dir(value: str | None) -> Path | None:
    """prometheus_client reads the variable itself; a directory it cannot write would fail every request."""
    if value is None:
        return None
    path = Path(value)
    if not (path.is_dir() and os.access(path, os.W_OK)):
        raise ConfigError("PROMETHEUS_MULTIPROC_DIR", value,
                          _("expected an existing, writable directory (emptied when gunicorn starts)"))
    return path


def _host_port(value: str) -> bool:
    """host or host:port, nothing more."""
    if "/" in value:
        return False
    try:
        parts = urlsplit(f"//{value}")
        return bool(parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:   # a port that is not a number
        return False


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
