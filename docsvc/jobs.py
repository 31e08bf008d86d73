"""Job queues: RQ on Redis for the full stack, threads in the process for the embedded default.

Both run the very same job functions (workers/jobs.py), named by dotted path. Retries are the same
too: a job that raises is tried again after a back-off, MAX_ATTEMPTS times in all; the job functions
decide what is worth retrying (see docsvc.pipeline.jobstate).
"""
from __future__ import annotations

import importlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from docsvc.config import Settings
from docsvc.constants import MAX_ATTEMPTS, RETRY_BACKOFF_S, QueueName

log = logging.getLogger(__name__)

SPLIT_FILE = "workers.jobs.split_file"
PROCESS_PAGE = "workers.jobs.process_page"
INDEX_PENDING = "workers.jobs.index_pending"
EXECUTE_DESTRUCTION = "workers.jobs.execute_destruction"

Job = tuple[str, str, tuple[object, ...], str]  # queue, function path, args, job id


class JobQueue(Protocol):
    def enqueue(self, queue_name: str, func: str, *args: object, job_id: str) -> None: ...
    def close(self) -> None: ...


def enqueue_split(jobs: JobQueue, batch_file_id: int) -> None:
    jobs.enqueue(QueueName.INGEST, SPLIT_FILE, batch_file_id, job_id=f"split-{batch_file_id}")


def enqueue_page(jobs: JobQueue, page_id: int) -> None:
    jobs.enqueue(QueueName.OCR, PROCESS_PAGE, page_id, job_id=f"page-{page_id}")


def enqueue_index(jobs: JobQueue) -> None:
    jobs.enqueue(QueueName.INDEX, INDEX_PENDING, job_id="index-pending")


def enqueue_destruction(jobs: JobQueue, list_id: int) -> None:
    # The index queue: the execution rewrites the Whoosh index, which has one writer (the index worker).
    jobs.enqueue(QueueName.INDEX, EXECUTE_DESTRUCTION, list_id, job_id=f"destroy-{list_id}")


def resolve(func: str) -> Callable[..., object]:
    module, _, name = func.rpartition(".")
    return getattr(importlib.import_module(module), name)


class RQJobQueue:
    def __init__(self, redis_url: str, timeout_s: int) -> None:
        from redis import Redis

        self.connection = Redis.from_url(redis_url)
        self.timeout_s = timeout_s

    def enqueue(self, queue_name: str, func: str, *args: object, job_id: str) -> None:
        from rq import Queue, Retry

        Queue(queue_name, connection=self.connection).enqueue_call(
            func,
            args=args,
            job_id=f"{job_id}-{time.time_ns()}",
            timeout=self.timeout_s,
            result_ttl=60,
            failure_ttl=7 * 24 * 3600,
            retry=Retry(max=MAX_ATTEMPTS - 1, interval=list(RETRY_BACKOFF_S)),
        )

    def close(self) -> None:
        self.connection.close()


class InProcessJobQueue:
    """Worker threads inside this process: ingest 1, ocr N, index exactly 1 (Whoosh has one writer).

    `recover` lists jobs whose work is recorded as queued in the database; it is polled so that work
    queued by another process (the CLI) or left behind by a restart is picked up.
    """

    def __init__(self, ocr_threads: int, recover: Callable[[], Iterable[Job]] | None = None,
                 poll_s: float = 5.0) -> None:
        self._queues: dict[str, queue.Queue[tuple[str, tuple[object, ...], str, int]]] = {
            q.value: queue.Queue() for q in QueueName
        }
        self._waiting: set[str] = set()
        self._running = 0
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._recover = recover
        self._poll_s = poll_s
        self._ocr_threads = max(1, ocr_threads)

    def start(self) -> None:
        if self._threads:
            return
        counts = {QueueName.INGEST: 1, QueueName.OCR: self._ocr_threads, QueueName.INDEX: 1}
        for name, count in counts.items():
            for i in range(count):
                t = threading.Thread(target=self._work, args=(name.value,), name=f"docsvc-{name}-{i}", daemon=True)
                t.start()
                self._threads.append(t)
        if self._recover is not None:
            t = threading.Thread(target=self._sweep, name="docsvc-sweeper", daemon=True)
            t.start()
            self._threads.append(t)

    def enqueue(self, queue_name: str, func: str, *args: object, job_id: str) -> None:
        self._put(queue_name, func, args, job_id, 1)

    def _put(self, queue_name: str, func: str, args: tuple[object, ...], job_id: str, attempt: int) -> None:
        with self._lock:
            if job_id in self._waiting:
                return
            self._waiting.add(job_id)
        self._queues[queue_name].put((func, args, job_id, attempt))

    def _work(self, queue_name: str) -> None:
        q = self._queues[queue_name]
        while not self._stop.is_set():
            try:
                func, args, job_id, attempt = q.get(timeout=0.5)
            except queue.Empty:
                continue
            with self._lock:
                self._waiting.discard(job_id)
                self._running += 1
            try:
                resolve(func)(*args)
            except Exception:
                log.exception("job %s failed (attempt %d of %d)", job_id, attempt, MAX_ATTEMPTS)
                if attempt < MAX_ATTEMPTS:
                    delay = RETRY_BACKOFF_S[min(attempt - 1, len(RETRY_BACKOFF_S) - 1)]
                    timer = threading.Timer(delay, self._put, (queue_name, func, args, job_id, attempt + 1))
                    timer.daemon = True
                    timer.start()
            finally:
                with self._lock:
                    self._running -= 1
                    self._lock.notify_all()

    def _sweep(self) -> None:
        while not self._stop.wait(self._poll_s):
            self.recover_now()

    def recover_now(self) -> None:
        assert self._recover is not None
        try:
            for queue_name, func, args, job_id in self._recover():
                self._put(queue_name, func, args, job_id, 1)
        except Exception:
            log.exception("could not look for queued work")

    def idle(self) -> bool:
        with self._lock:
            return self._running == 0 and all(q.empty() for q in self._queues.values())

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until no job is queued or running (tests and the CLI use it)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()


def make_job_queue(settings: Settings) -> JobQueue:
    if settings.redis_url:
        return RQJobQueue(settings.redis_url, settings.job_timeout_s)
    return InProcessJobQueue(settings.inprocess_workers, recover=_recover_from_db)


def _recover_from_db() -> Iterable[Job]:
    from docsvc import runtime
    from docsvc.pipeline.jobstate import queued_work

    rt = runtime.current()
    with rt.sessions() as session:
        return list(queued_work(session))
