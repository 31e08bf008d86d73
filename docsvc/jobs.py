"""What the application asks of a job queue: the pipeline's stages by name, and "run this stage for this row".

Which queue and which job function serve each stage is the pipeline table in workers/pipeline.py;
the queue implementations (RQ, in-process threads) are workers/queues.py. The entry points (CLI,
WSGI, the tests' conftest) hand the runtime its queue, so nothing here names a worker.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker


class Stage(StrEnum):
    SPLIT = "split"  # a batch file: count pages, cut at separators, create documents and pages
    PAGE = "page"    # one page: text layer or OCR, images, words
    INDEX = "index"  # every index-pending page into the search index (the one writer)
    DESTROY = "destroy"  # a supervised destruction list's erasure (rewrites the index: the one writer too)


@dataclass(frozen=True)
class WorkerState:
    name: str
    queues: tuple[str, ...]
    state: str  # RQ's own word (idle, busy, suspended…), or alive / stopped for a thread


@dataclass(frozen=True)
class QueueStatus:
    """What the administrator's dashboard shows of the job queues, read when asked."""
    kind: str  # "rq" or "in-process"
    waiting: dict[str, int]  # jobs waiting, per queue name
    running: int
    failed: dict[str, int]  # RQ: jobs in each queue's failed registry (kept 7 days); in-process: none kept
    workers: tuple[WorkerState, ...]


class JobQueue(Protocol):
    def enqueue(self, stage: Stage, *args: int) -> None:
        """Run `stage` for the row `args` names (none for INDEX), soon, once, with retries."""

    def start(self, *, upkeep: bool = False) -> None:
        """Run this process's share of the work: nothing for RQ (its workers are other processes);
        the in-process threads, and with `upkeep` the recovery sweep and the daily tasks too."""

    def status(self) -> QueueStatus:
        """Queue lengths and the workers serving them (RQ: registered worker processes; in-process: threads)."""
        ...

    def close(self) -> None: ...


def enqueue_split(jobs: JobQueue, batch_file_id: int) -> None:
    jobs.enqueue(Stage.SPLIT, batch_file_id)


def enqueue_page(jobs: JobQueue, page_id: int) -> None:
    jobs.enqueue(Stage.PAGE, page_id)


def enqueue_index(jobs: JobQueue) -> None:
    jobs.enqueue(Stage.INDEX)


def enqueue_destruction(jobs: JobQueue, list_id: int) -> None:
    jobs.enqueue(Stage.DESTROY, list_id)


# Use cases that change what the index holds mark pages index-pending and say so on the session
# (request_index); the runtime's sessions then queue the index job after the commit, so no view or
# API handler has to remember it (and nothing is queued for a change that was rolled back).
_INDEX_DUE = "docsvc.index_due"


def request_index(session: Session) -> None:
    session.info[_INDEX_DUE] = True


def index_after_commit(sessions: sessionmaker[Session], jobs: JobQueue) -> None:
    def enqueue_if_due(session: Session) -> None:
        if session.info.pop(_INDEX_DUE, False):
            enqueue_index(jobs)

    def forget(session: Session) -> None:
        session.info.pop(_INDEX_DUE, None)

    event.listen(sessions, "after_commit", enqueue_if_due)
    event.listen(sessions, "after_rollback", forget)
