"""Job queues: RQ on Redis for the full stack, threads in the process for the embedded default.

Both run the very same job functions (the table in workers/pipeline.py). Retries are the same too: a
job that raises is tried again after a back-off, MAX_ATTEMPTS times in all; the job functions decide
what is worth retrying (see docsvc.pipeline.jobstate).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue, Worker
from rq import Retry as JobRetry

from docsvc import runtime
from docsvc.config import Settings
from docsvc.constants import MAX_ATTEMPTS, RETRY_BACKOFF_S, QueueName
from docsvc.jobs import JobQueue, QueueStatus, Stage, WorkerState
from workers import scheduler
from workers.pipeline import STEPS, recover

log = logging.getLogger(__name__)

RECOVERY_POLL_S = 5.0


class RQJobQueue:
    """Jobs on Redis; the workers are `docsvc worker` processes and the upkeep is `docsvc scheduler`."""

    def __init__(self, redis_url: str, timeout_s: int) -> None:
        # One quick try: a job Redis cannot take waits in the outbox (docsvc.jobs), so a request never
        # hangs on Redis's retries and back-off while Redis is down.
        self.connection = Redis.from_url(redis_url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=2,
                                         socket_timeout=10)
        self.timeout_s = timeout_s

    def enqueue(self, stage: Stage, *args: int) -> None:
        step = STEPS[stage]
        queue = Queue(step.queue.value, connection=self.connection)
        if stage == Stage.INDEX and any(job_id.startswith(step.job_id(())) for job_id in queue.get_job_ids()):
            return  # an index job still waiting takes every pending page when it runs: one is enough
        queue.enqueue_call(
            step.job,
            args=args,
            job_id=f"{step.job_id(args)}-{time.time_ns()}",
            timeout=-1 if step.unbounded else self.timeout_s,  # RQ: -1 is no limit
            result_ttl=60,
            failure_ttl=7 * 24 * 3600,
            retry=JobRetry(max=MAX_ATTEMPTS - 1, interval=list(RETRY_BACKOFF_S)),
        )

    def start(self, *, upkeep: bool = False) -> None:
        """Nothing runs here: RQ's workers and the scheduler are processes of their own."""

    def status(self) -> QueueStatus:
        queues = {name.value: Queue(name.value, connection=self.connection) for name in QueueName}
        # get_state() answers a WorkerStatus (a str enum: its value is RQ's word) or a plain string.
        workers = tuple(WorkerState(w.name, tuple(w.queue_names()), str(getattr(state, "value", state)))
                        for w in Worker.all(connection=self.connection) for state in (w.get_state(),))
        return QueueStatus(
            kind="rq", waiting={name: q.count for name, q in queues.items()},
            running=sum(q.started_job_registry.count for q in queues.values()),
            failed={name: q.failed_job_registry.count for name, q in queues.items()},
            workers=tuple(sorted(workers, key=lambda w: w.name)))

    def close(self) -> None:
        self.connection.close()


Work = tuple[Callable[..., object], tuple[object, ...], str, int]  # job, args, job id, attempt


class InProcessJobQueue:
    """Worker threads inside this process: ingest 1, ocr N, index exactly 1 (Whoosh has one writer), operations 1.

    A sweeper looks every RECOVERY_POLL_S for rows that say queued in the database (work queued by
    another process, the CLI, or left behind by a restart). With upkeep (the embedded server) that
    look also happens at once, and a scheduler thread runs the daily tasks.
    """

    def __init__(self, ocr_threads: int, poll_s: float = RECOVERY_POLL_S) -> None:
        # None wakes a waiting worker thread to stop (close puts one per thread), so closing takes no poll.
        self._queues: dict[str, queue.Queue[Work | None]] = {q.value: queue.Queue() for q in QueueName}
        self._waiting: set[str] = set()
        self._running = 0
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._worker_queues: list[str] = []  # the queue of each worker thread, in start order
        self._poll_s = poll_s
        self._ocr_threads = max(1, ocr_threads)

    def start(self, *, upkeep: bool = False) -> None:
        if not self._threads:
            counts = {QueueName.INGEST: 1, QueueName.OCR: self._ocr_threads, QueueName.INDEX: 1,
                      QueueName.OPERATIONS: 1}
            for name, count in counts.items():
                for i in range(count):
                    self._thread(self._work, f"docsvc-{name}-{i}", name.value)
                    self._worker_queues.append(name.value)
            self._thread(self._sweep, "docsvc-sweeper")
        if upkeep and not any(t.name == "docsvc-scheduler" for t in self._threads):
            self.recover_now()
            # The first daily round's quick tasks run before the app answers, so they never race a request;
            # the long ones (fixity) start on the scheduler thread.
            scheduler.run_daily(runtime.current(), scheduler.quick_tasks())
            self._thread(scheduler.run_daily_until, "docsvc-scheduler", self._stop, runtime.current)

    def _thread(self, target: Callable[..., None], name: str, *args: object) -> None:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def enqueue(self, stage: Stage, *args: int) -> None:
        step = STEPS[stage]
        self._put(step.queue.value, (step.job, args, step.job_id(args), 1))

    def _put(self, queue_name: str, work: Work) -> None:
        with self._lock:
            if work[2] in self._waiting:
                return
            self._waiting.add(work[2])
        self._queues[queue_name].put(work)

    def _work(self, queue_name: str) -> None:
        q = self._queues[queue_name]
        while True:
            work = q.get()
            if work is None or self._stop.is_set():
                return
            job, args, job_id, attempt = work
            with self._lock:
                self._waiting.discard(job_id)
                self._running += 1
            try:
                job(*args)
            except Exception:
                log.exception("job %s failed (attempt %d of %d)", job_id, attempt, MAX_ATTEMPTS)
                if attempt < MAX_ATTEMPTS:
                    delay = RETRY_BACKOFF_S[min(attempt - 1, len(RETRY_BACKOFF_S) - 1)]
                    timer = threading.Timer(delay, self._put, (queue_name, (job, args, job_id, attempt + 1)))
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
        try:
            with runtime.current().sessions() as session:
                recover(session, self)
        except Exception:
            log.exception("could not look for queued work")

    def status(self) -> QueueStatus:
        with self._lock:
            running = self._running
            waiting = {name: q.qsize() for name, q in self._queues.items()}
        # The worker threads come first, in _worker_queues order; then the sweeper and the scheduler.
        workers = tuple(WorkerState(t.name, tuple(self._worker_queues[i:i + 1]), "alive" if t.is_alive() else "stopped")
                        for i, t in enumerate(self._threads))
        return QueueStatus(kind="in-process", waiting=waiting, running=running, failed={}, workers=workers)

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
        for name in self._worker_queues:
            self._queues[name].put(None)
        self._worker_queues.clear()
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()


def make_job_queue(settings: Settings) -> JobQueue:
    if settings.redis_url:
        return RQJobQueue(settings.redis_url, settings.job_timeout_s)
    return InProcessJobQueue(settings.inprocess_workers)
