"""The scan pipeline as one table: stage, queue, job function, what comes next.

| stage  | queue    | job function              | what comes next                                                  |
|--------|----------|---------------------------|------------------------------------------------------------------|
| split  | `ingest` | `jobs.split_file(bf_id)`  | one `page` job per page created (after the commit)               |
| page   | `ocr`    | `jobs.process_page(id)`   | `index` (the page is index-pending); the document's last page     |
|        |          |                           | read → automatic filing (files.suggestions.file_when_read)       |
| index  | `index`  | `jobs.index_pending()`    | — (exactly one worker: Whoosh has one writer)                     |
| destroy| `index`  | `jobs.execute_destruction(list_id)` | — (erasure rewrites index segments: the same one writer) |
| operation | `operations` | `jobs.run_operation(id)` | — (backup, reindex, customer import, export: docsvc.operations) |

Upkeep beside it:
- the recovery sweeper: rows that say `queued` (embedded, `recover`: every 5 s, for work queued
  by another process or left by a restart), or whose worker died mid-job and jobs Redis could not take
  when their change committed (the outbox) (full stack, `recover_stale`: each round of `docsvc scheduler`),
  queued again; and command-line operations silent for ten minutes marked failed (operations.abandon_silent);
- the scheduler (workers/scheduler.py): the sweep every round (30 s), DAILY_TASKS once a day.

A job's row is the truth, not the queue (docsvc.pipeline.jobstate): a job delivered twice does its
work once, so the ids below only keep a queue from holding the same job twice.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from docsvc import operations
from docsvc.constants import QueueName
from docsvc.jobs import JobQueue, Stage, hand_over, sweep_outbox
from docsvc.pipeline.jobstate import index_waiting, queued_work, requeue_stale
from workers import jobs


@dataclass(frozen=True)
class Step:
    stage: Stage
    queue: QueueName
    job: Callable[..., object]
    next: str
    # A person's long operation (a backup of a whole archive) may take hours: no DOCSVC_JOB_TIMEOUT, it
    # keeps its claim alive while it runs (jobstate.renewed) and records its own progress and end.
    unbounded: bool = False

    def job_id(self, args: tuple[object, ...]) -> str:
        """`split-12`, `page-345`, `index-pending`: the one place job ids are made."""
        return f"{self.stage}-{args[0]}" if args else f"{self.stage}-pending"


PIPELINE: tuple[Step, ...] = (
    Step(Stage.SPLIT, QueueName.INGEST, jobs.split_file, "page, once per page"),
    Step(Stage.PAGE, QueueName.OCR, jobs.process_page, "index; automatic filing after a document's last page"),
    Step(Stage.INDEX, QueueName.INDEX, jobs.index_pending, "—"),
    Step(Stage.DESTROY, QueueName.INDEX, jobs.execute_destruction, "—"),
    Step(Stage.OPERATION, QueueName.OPERATIONS, jobs.run_operation, "—", unbounded=True),
)
STEPS: dict[Stage, Step] = {step.stage: step for step in PIPELINE}


def recover(session: Session, jobs_queue: JobQueue) -> int:
    """The embedded sweep: queue again the work the database says is waiting (jobstate.queued_work), and
    hand over what is left in the outbox."""
    found = list(queued_work(session))
    for stage, args in found:
        jobs_queue.enqueue(stage, *args)
    sweep_outbox(session, jobs_queue)
    operations.abandon_silent(session)
    return len(found)


def recover_stale(session: Session, jobs_queue: JobQueue) -> int:
    """A round of the full stack's sweep: the outbox handed over (jobs Redis could not take when their
    change committed), rows whose worker died mid-job queued again, and the index job when pages wait for it.
    Returns how many jobs the queue took; a queue that is down takes none and loses none."""
    taken = sweep_outbox(session, jobs_queue)
    taken += hand_over(session, jobs_queue, requeue_stale(session))
    operations.abandon_silent(session)
    if index_waiting(session):
        jobs_queue.enqueue(Stage.INDEX)
        taken += 1
    return taken
