"""The process's wiring: settings, database, object store, job queue and search index, built once."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from docsvc.config import Settings
from docsvc.db import make_engine, make_sessionmaker
from storage import ObjectStore, open_store

if TYPE_CHECKING:
    from docsvc.jobs import JobQueue
    from docsvc.search import SearchIndex


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ObjectStore
    jobs: "JobQueue"
    index: "SearchIndex"

    def close(self) -> None:
        self.jobs.close()
        self.engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    from docsvc.jobs import make_job_queue
    from docsvc.search import SearchIndex

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    store = open_store(
        s3_endpoint=settings.s3_endpoint,
        s3_access_key=settings.s3_access_key,
        s3_secret_key=settings.s3_secret_key,
        s3_bucket=settings.s3_bucket,
        s3_secure=settings.s3_secure,
        local_root=settings.objects_dir,
        cache_dir=settings.cache_dir,
    )
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        store=store,
        jobs=make_job_queue(settings),
        index=SearchIndex(settings.index_dir),
    )


_current: Runtime | None = None
_lock = threading.Lock()


def install(runtime: Runtime) -> None:
    """Make `runtime` the one job functions use (the web app and tests install theirs)."""
    global _current
    with _lock:
        _current = runtime


def current() -> Runtime:
    """The installed runtime; a worker process builds one from its environment on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = build_runtime(Settings.from_env())
        return _current
