"""What the application asks of a job queue: the pipeline's stages by name, and "run this stage for this row".

Which queue and which job function serve each stage is the pipeline table in workers/pipeline.py;
the queue implementations (RQ, in-process threads) are workers/queues.py. The entry points (CLI,
WSGI, the tests' conftest) hand the runtime its queue, so nothing here names a worker.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session, sessionmaker

from docsvc.models import OutboxEntry, utcnow

log = logging.getLogger(__name__)


class Stage(StrEnum):
    SPLIT = "split"  # a batch file: count pages, cut at separators, create documents and pages
    PAGE = "page"    # one page: text layer or OCR, images, words
    INDEX = "index"  # every index-pending page into the search index (the one writer)
    DESTROY = "destroy"  # a supervised destruction list's erasure (rewrites the index: the one writer too)
    OPERATION = "operation"  # long work a person started and watches (docsvc.operations)


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


# The outbox: a job the database promises is written in the same transaction as the rows it serves, and
# handed to the queue after the commit. A queue that is down (Redis restarting) refuses the hand-over; the
# entry then waits in the table and the sweep (each round of `docsvc scheduler`, the embedded sweeper)
# hands it over later. Nothing is lost between commit and enqueue, and nothing is queued for a change
# that rolled back. An entry is deleted only after the queue took it: a crash in between queues the job
# twice, which the jobs' claims make harmless (docsvc.pipeline.jobstate).

# Entries younger than this belong to a request still handing them over; the sweep leaves them alone.
OUTBOX_GRACE_S = 5.0
_SWEEP_BATCH = 500


def add_to_outbox(session: Session, stage: Stage, *args: int) -> OutboxEntry:
    """Promise the job `stage(*args)` in the session's transaction; hand it over after the commit."""
    entry = OutboxEntry(stage=stage.value, row_id=args[0] if args else None)
    session.add(entry)
    return entry


def hand_over(session: Session, jobs: JobQueue, entries: Sequence[OutboxEntry]) -> int:
    """Queue the committed entries and remove those the queue took; returns how many it took.

    A refusal is logged, not raised: the change that needed the job is committed, and the sweep queues it.
    """
    taken: list[int] = []
    for entry in entries:
        try:
            jobs.enqueue(Stage(entry.stage), *(() if entry.row_id is None else (entry.row_id,)))
        except Exception as exc:  # the queue is down: every later entry would fail the same way
            log.warning("job queue unreachable (%s); %d job(s) wait in the outbox for the scheduler's sweep",
                        exc, len(entries) - len(taken))
            break
        taken.append(entry.id)
    if taken:
        try:
            for start in range(0, len(taken), _SWEEP_BATCH):
                session.execute(delete(OutboxEntry).where(OutboxEntry.id.in_(taken[start:start + _SWEEP_BATCH])))
            session.commit()
        except Exception:
            session.rollback()
            log.exception("queued %d job(s) but could not remove them from the outbox; the sweep queues them "
                          "again, which their claims make harmless", len(taken))
    return len(taken)


def sweep_outbox(session: Session, jobs: JobQueue, *, grace_s: float = OUTBOX_GRACE_S) -> int:
    """Hand over every entry older than `grace_s` (oldest first); returns how many the queue took.

    Stops at the first refusal: the queue is still down, and the entries wait for the next sweep.
    """
    total, after = 0, 0
    while True:
        entries = session.scalars(
            select(OutboxEntry).where(OutboxEntry.created_at <= utcnow() - timedelta(seconds=grace_s),
                                      OutboxEntry.id > after)
            .order_by(OutboxEntry.id).limit(_SWEEP_BATCH).with_for_update(skip_locked=True)
        ).all()
        if not entries:
            session.rollback()
            return total
        after = entries[-1].id  # entries whose removal failed are not handed over twice in one sweep
        taken = hand_over(session, jobs, entries)
        total += taken
        if taken < len(entries):
            session.rollback()
            return total
