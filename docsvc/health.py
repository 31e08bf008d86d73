"""Readiness: whether each dependency of this process answers now — the database, Redis (full stack only),
the object store and the search index — with how long it took and, when it did not, why.

Served by /readyz (docsvc.http.monitoring). Each check is one cheap round trip; error texts never carry
the passwords and keys of the settings (a driver's message can quote its connection string).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from redis import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from docsvc.config import Settings
from docsvc.runtime import Runtime

Status = Literal["ok", "down", "not used"]

# A dependency that takes longer than this to answer counts as down (a probe must not hang).
CHECK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class DependencyStatus:
    name: str
    status: Status
    latency_ms: float | None = None
    error: str | None = None

    @property
    def ready(self) -> bool:
        return self.status != "down"

    def as_json(self) -> dict[str, object]:
        found: dict[str, object] = {"status": self.status}
        if self.latency_ms is not None:
            found["latency_ms"] = self.latency_ms
        if self.error is not None:
            found["error"] = self.error
        return found


_redis_clients: dict[str, Redis] = {}
_redis_lock = threading.Lock()


def _redis(url: str) -> Redis:
    """One client per URL for the process: its pool reconnects after Redis comes back."""
    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            client = _redis_clients[url] = Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT_S,
                                                          socket_timeout=CHECK_TIMEOUT_S)
        return client


def secrets_of(settings: Settings) -> list[str]:
    """The values a driver's error text could quote and must never show: the passwords in the database and
    Redis URLs and the S3 secret key (the session key and the metrics token never reach a driver)."""
    found = [settings.s3_secret_key, make_url(settings.database_url).password]
    if settings.redis_url:
        found.append(unquote(urlsplit(settings.redis_url).password or ""))
    return [value for value in found if value]


def redact(message: str, secrets: list[str]) -> str:
    for secret in secrets:
        message = message.replace(secret, "***")
    return message


def _timed(name: str, check: Callable[[], None], secrets: list[str]) -> DependencyStatus:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # whatever a driver raises, the dependency is not usable now
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        detail = " ".join(f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}".split())
        return DependencyStatus(name, "down", elapsed, redact(detail, secrets)[:500])
    return DependencyStatus(name, "ok", round((time.perf_counter() - started) * 1000, 1))


# The checks run side by side, so a probe takes as long as the slowest one and never more than
# CHECK_TIMEOUT_S: a host that swallows packets would otherwise hold a connect for minutes.
_checks = ThreadPoolExecutor(max_workers=8, thread_name_prefix="docsvc-readiness")


def readiness(rt: Runtime) -> list[DependencyStatus]:
    """Every dependency in a fixed order; Redis is "not used" in the embedded default (in-process jobs)."""
    secrets = secrets_of(rt.settings)

    def database() -> None:
        with rt.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    checks: dict[str, Callable[[], None]] = {"database": database}
    redis_url = rt.settings.redis_url
    if redis_url:
        checks["redis"] = lambda: _redis(redis_url).ping()
    checks["object_store"] = rt.store.ping
    checks["index"] = rt.index.ping
    running = {name: _checks.submit(_timed, name, check, secrets) for name, check in checks.items()}
    deadline = time.monotonic() + CHECK_TIMEOUT_S
    found: list[DependencyStatus] = []
    for name in ("database", "redis", "object_store", "index"):
        if name not in running:
            found.append(DependencyStatus(name, "not used"))
            continue
        try:
            found.append(running[name].result(timeout=max(0.0, deadline - time.monotonic())))
        except FutureTimeout:
            found.append(DependencyStatus(name, "down", CHECK_TIMEOUT_S * 1000,
                                          f"no answer within {CHECK_TIMEOUT_S:g} s"))
    return found
