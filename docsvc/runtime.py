"""The process's wiring: settings, database, object store, job queue and search index, built once."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from docsvc.config import Settings
from docsvc.db import make_engine, make_sessionmaker
from docsvc.governance.accounts import use_password_cost
from docsvc.jobs import JobQueue, index_after_commit
from docsvc.pipeline import jobstate
from docsvc.search import SearchIndex
from storage import ObjectStore, open_store

JobQueueFactory = Callable[[Settings], JobQueue]


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ObjectStore
    jobs: JobQueue
    index: SearchIndex

    def close(self) -> None:
        self.jobs.close()
        self.engine.dispose()


_make_jobs: JobQueueFactory | None = None


def use_job_queues(factory: JobQueueFactory) -> None:
    """How runtimes get their job queue. Called once by each entry point (`docsvc` CLI, WSGI, the tests'
    conftest) with workers.queues.make_job_queue: the application never names its workers itself."""
    global _make_jobs
    _make_jobs = factory


def build_runtime(settings: Settings, jobs: JobQueue | None = None) -> Runtime:
    if jobs is None:
        if _make_jobs is None:
            raise RuntimeError("No job queue wired: the entry point calls workers.wire() before building a runtime.")
        jobs = _make_jobs(settings)
    jobstate.use_claim_lease(settings.claim_lease_s)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    use_password_cost(settings.password_hash_memory_kib, settings.password_hash_iterations)
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
    sessions = make_sessionmaker(engine)
    index_after_commit(sessions, jobs)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        store=store,
        jobs=jobs,
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
