"""How a job records its state on the row it serves — the one place for queued/running/done/failed rules."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from docsvc.constants import MAX_ATTEMPTS, STALE_CLAIM_S, STUCK_QUEUED_S, IndexState, JobState
from docsvc.config import Settings
from docsvc.formats import FileProblem
from docsvc.formats.decoder import Limits
from docsvc.jobs import JobQueue, Stage
from docsvc.models import BatchFile, Page, utcnow

log = logging.getLogger(__name__)

Row = TypeVar("Row", BatchFile, Page)


def claim(session: Session, model: type[Row], row_id: int) -> Row | None:
    """Mark the row running for this worker; None when it is done, failed or another live worker holds it.

    The conditional UPDATE makes a job safe to run twice: only one claim wins.
    """
    stale = utcnow() - timedelta(seconds=STALE_CLAIM_S)
    result = session.execute(
        update(model)
        .where(model.id == row_id)
        .where(or_(model.status == JobState.QUEUED,
                   (model.status == JobState.RUNNING) & (model.claimed_at < stale)))
        .values(status=JobState.RUNNING, attempts=model.attempts + 1, claimed_at=utcnow(), error=None)
    )
    session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(model, row_id, populate_existing=True)


@contextmanager
def running(session: Session, row: Row, what: str) -> Iterator[Row]:
    """Run a job's body: a file problem fails at once; other faults retry, then fail with a message."""
    try:
        yield row
    except FileProblem as problem:
        session.rollback()
        _finish(session, row, JobState.FAILED, problem.message)
    except Exception as exc:
        session.rollback()
        session.refresh(row)
        detail = f"{type(exc).__name__}: {exc}"[:500]
        if row.attempts >= MAX_ATTEMPTS:
            log.exception("%s failed for good after %d attempts", what, row.attempts)
            _finish(session, row, JobState.FAILED,
                    f"{what}处理失败（已尝试 {row.attempts} 次）：{detail}。请稍后在页面上点击“重试”；"
                    f"如仍失败，请联系系统管理员。 / {what} failed after {row.attempts} attempts: {detail}. "
                    "Retry it later; if it fails again, contact the administrator.")
            return
        _finish(session, row, JobState.QUEUED,
                f"暂时性错误，系统将自动重试（第 {row.attempts} 次）：{detail} / "
                f"Temporary fault, retrying automatically (attempt {row.attempts}): {detail}")
        raise


def job_limits(settings: Settings) -> Limits:
    """The memory and time a job's reading of its file may take (DOCSVC_JOB_MEMORY_MB, DOCSVC_JOB_TIMEOUT)."""
    return Limits.within_job(settings.job_memory_mb, settings.job_timeout_s)


def _finish(session: Session, row: Row, state: JobState, message: str | None) -> None:
    row.status = state
    row.error = message
    row.claimed_at = None
    session.commit()


def mark_done(session: Session, row: Row) -> None:
    _finish(session, row, JobState.DONE, None)


def queued_work(session: Session, *, stale_only: bool = False) -> Iterator[tuple[Stage, tuple[int, ...]]]:
    """The stages (and rows) whose rows wait for a worker: how lost work is found again.

    The embedded worker takes every queued row (its queue lives in memory and dies with the process).
    With RQ the queue survives in Redis, so the scheduler only takes rows whose worker died mid-job
    (`stale_only`): a stale claim.
    """
    stale = utcnow() - timedelta(seconds=STALE_CLAIM_S)
    for model, stage in ((BatchFile, Stage.SPLIT), (Page, Stage.PAGE)):
        stale_claim = (model.status == JobState.RUNNING) & (model.claimed_at < stale)
        waiting = stale_claim if stale_only else or_(model.status == JobState.QUEUED, stale_claim)
        for row_id in session.scalars(select(model.id).where(waiting).order_by(model.id)):
            if stale_only:
                _requeue(session, model, row_id)
            yield stage, (row_id,)
    if session.scalar(select(Page.id).where(Page.index_state == IndexState.PENDING).limit(1)) is not None:
        yield Stage.INDEX, ()


def _requeue(session: Session, model: type[Row], row_id: int) -> None:
    session.execute(update(model).where(model.id == row_id).values(status=JobState.QUEUED, claimed_at=None))
    session.commit()


def reset(row: Row) -> None:
    """Put a row back to `queued` with a fresh count of attempts (a retry, or work redone); the caller
    commits, then queues its job."""
    row.status, row.error, row.attempts, row.claimed_at = JobState.QUEUED, None, 0, None


@dataclass(frozen=True)
class Stuck:
    """Work that has stopped moving: `running` with a stale claim (its worker died), `queued` that no
    worker took for STUCK_QUEUED_S (its queue entry was lost), or pages waiting that long for the index."""
    stage: Stage
    row_id: int | None  # None for the index stage (one job takes every pending page)
    state: str  # "stale claim", "queued", "index pending"
    since: datetime


def stuck_work(session: Session, now: datetime | None = None) -> list[Stuck]:
    now = now or utcnow()
    stale, long_ago = now - timedelta(seconds=STALE_CLAIM_S), now - timedelta(seconds=STUCK_QUEUED_S)
    found: list[Stuck] = []
    for model, stage in ((BatchFile, Stage.SPLIT), (Page, Stage.PAGE)):
        for row_id, status, claimed_at, updated_at in session.execute(
                select(model.id, model.status, model.claimed_at, model.updated_at)
                .where(or_((model.status == JobState.RUNNING) & (model.claimed_at < stale),
                           (model.status == JobState.QUEUED) & (model.updated_at < long_ago)))
                .order_by(model.id)):
            found.append(Stuck(stage, row_id, "stale claim" if status == JobState.RUNNING else "queued",
                               claimed_at if status == JobState.RUNNING else updated_at))
    oldest = session.scalar(select(Page.updated_at).where(Page.index_state == IndexState.PENDING,
                                                          Page.updated_at < long_ago)
                            .order_by(Page.updated_at).limit(1))
    if oldest is not None:
        found.append(Stuck(Stage.INDEX, None, "index pending", oldest))
    return found


def unstick(session: Session, jobs: JobQueue, stuck: list[Stuck]) -> None:
    """Queue stuck work again. A stale claim goes back to `queued` first; the job ids keep a queue from
    holding a job twice, and a claim keeps a job delivered twice from doing its work twice."""
    for item in stuck:
        if item.state == "stale claim" and item.row_id is not None:
            _requeue(session, BatchFile if item.stage == Stage.SPLIT else Page, item.row_id)
    for item in stuck:
        jobs.enqueue(item.stage, *(() if item.row_id is None else (item.row_id,)))
