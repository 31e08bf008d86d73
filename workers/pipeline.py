"""The scan pipeline as one table: stage, queue, job function, what comes next.

| stage  | queue    | job function              | what comes next                                                  |
|--------|----------|---------------------------|------------------------------------------------------------------|
| split  | `ingest` | `jobs.split_file(bf_id)`  | one `page` job per page created (after the commit)               |
| page   | `ocr`    | `jobs.process_page(id)`   | `index` (the page is index-pending); the document's last page     |
|        |          |                           | read → automatic filing (files.suggestions.file_when_read)       |
| index  | `index`  | `jobs.index_pending()`    | — (exactly one worker: Whoosh has one writer)                     |
| destroy| `index`  | `jobs.execute_destruction(list_id)` | — (erasure rewrites index segments: the same one writer) |

Upkeep beside it:
- the recovery sweeper (`recover`): rows that say `queued` (embedded: every 5 s, for work queued
  by another process or left by a restart) or whose worker died mid-job (full stack: each round of
  `docsvc scheduler`), queued again;
- the scheduler (workers/scheduler.py): DAILY_TASKS, once a day.

A job's row is the truth, not the queue (docsvc.pipeline.jobstate): a job delivered twice does its
work once, so the ids below only keep a queue from holding the same job twice.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from docsvc.constants import QueueName
from docsvc.jobs import JobQueue, Stage
from docsvc.pipeline.jobstate import queued_work
from workers import jobs


@dataclass(frozen=True)
class Step:
    stage: Stage
    queue: QueueName
    job: Callable[..., object]
    next: str

    def job_id(self, args: tuple[object, ...]) -> str:
        """`split-12`, `page-345`, `index-pending`: the one place job ids are made."""
        return f"{self.stage}-{args[0]}" if args else f"{self.stage}-pending"


PIPELINE: tuple[Step, ...] = (
    Step(Stage.SPLIT, QueueName.INGEST, jobs.split_file, "page, once per page"),
    Step(Stage.PAGE, QueueName.OCR, jobs.process_page, "index; automatic filing after a document's last page"),
    Step(Stage.INDEX, QueueName.INDEX, jobs.index_pending, "—"),
    Step(Stage.DESTROY, QueueName.INDEX, jobs.execute_destruction, "—"),
)
STEPS: dict[Stage, Step] = {step.stage: step for step in PIPELINE}


def recover(session: Session, jobs_queue: JobQueue, *, stale_only: bool = False) -> int:
    """Queue again the work the database says is waiting (see docsvc.pipeline.jobstate.queued_work)."""
    found = list(queued_work(session, stale_only=stale_only))
    for stage, args in found:
        jobs_queue.enqueue(stage, *args)
    return len(found)
