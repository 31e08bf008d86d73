"""How a job records its state on the row it serves — the one place for queued/running/done/failed rules."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from docsvc.constants import MAX_ATTEMPTS, STALE_CLAIM_S, STUCK_QUEUED_S, IndexState, JobState
from docsvc.config import Settings
from docsvc.errors import Explained
from docsvc.formats import FileProblem
from docsvc.formats.decoder import Limits
from docsvc.i18n import shown, stored
from docsvc.jobs import JobQueue, Stage, add_to_outbox
from docsvc.models import BatchFile, Operation, OutboxEntry, Page, utcnow

log = logging.getLogger(__name__)

Row = TypeVar("Row", BatchFile, Page, Operation)

# The rows whose jobs claim them, and the stage that serves each: what the sweeps look through.
CLAIMED = ((BatchFile, Stage.SPLIT), (Page, Stage.PAGE), (Operation, Stage.OPERATION))

# How long a claim holds without being renewed. A running job renews its claim every third of it (a
# heartbeat), however long the job takes, so a claim goes stale only when its worker is gone (killed,
# powered off) or cut off from the database; then the sweep queues the work again. Each process takes it
# from DOCSVC_CLAIM_LEASE when its runtime is built (use_claim_lease).
_lease_s: float = STALE_CLAIM_S


def use_claim_lease(seconds: float) -> None:
    global _lease_s
    _lease_s = seconds


def claim(session: Session, model: type[Row], row_id: int) -> Row | None:
    """Mark the row running for this worker; None when it is done, failed or another live worker holds it.

    The conditional UPDATE makes a job safe to run twice: only one claim wins.
    """
    stale = utcnow() - timedelta(seconds=_lease_s)
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
    """Run a job's body with its claim renewed: a file problem fails at once; other faults retry, then fail
    with a message naming `what` (a stored text). The message is kept on the row as a stored text
    (docsvc.i18n.stored), so each reader sees it in their own language."""
    with renewed(session, row):
        try:
            yield row
        except FileProblem as problem:
            session.rollback()
            _finish(session, row, JobState.FAILED, problem.stored)
        except Exception as exc:
            session.rollback()
            session.refresh(row)
            # Our own faults keep their message untranslated too; anyone else's is shown as it was raised.
            detail = exc.stored if isinstance(exc, Explained) else f"{type(exc).__name__}: {exc}"[:500]
            if row.attempts >= MAX_ATTEMPTS:
                log.exception("%s failed for good after %d attempts", shown(what), row.attempts)
                _finish(session, row, JobState.FAILED,
                        stored("%(what)s failed after %(attempts)s attempts. Retry it later; if it fails again, "
                               "contact the administrator. The fault: %(detail)s",
                               what=what, attempts=row.attempts, detail=detail))
                return
            _finish(session, row, JobState.QUEUED,
                    stored("Temporary fault, retrying automatically (attempt %(attempt)s): %(detail)s",
                           attempt=row.attempts, detail=detail))
            raise


@contextmanager
def beating(every_s: float, beat: Callable[[], None], name: str) -> Iterator[None]:
    """Call `beat` every `every_s` seconds on a thread of its own while the body runs (a long job saying
    it is alive). Not waited for long at the end: a late beat must change nothing once the body is done."""
    stop = threading.Event()

    def keep_beating() -> None:
        while not stop.wait(every_s):
            beat()

    heart = threading.Thread(target=keep_beating, name=name, daemon=True)
    heart.start()
    try:
        yield
    finally:
        stop.set()
        heart.join(timeout=1)


@contextmanager
def renewed(session: Session, row: Row) -> Iterator[None]:
    """Renew the row's claim every third of the lease while the body runs, on a connection of its own."""
    engine, model, row_id, attempt = session.get_bind(), type(row), row.id, row.attempts

    def renew() -> None:
        try:
            with engine.begin() as conn:
                # Only this claim (its attempt), and updated_at kept: the index job compares it.
                conn.execute(update(model).where(model.id == row_id, model.status == JobState.RUNNING,
                                                 model.attempts == attempt)
                             .values(claimed_at=utcnow(), updated_at=model.updated_at))
        except Exception:
            log.warning("could not renew the claim on %s #%d; another worker may take it over "
                        "once it is %.0f s old", model.__tablename__, row_id, _lease_s, exc_info=True)

    with beating(_lease_s / 3, renew, f"claim-{model.__tablename__}-{row_id}"):
        yield


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


def queued_work(session: Session) -> Iterator[tuple[Stage, tuple[int, ...]]]:
    """The stages (and rows) whose rows wait for a worker: how the embedded worker finds lost work again.

    It takes every queued row (its queue lives in memory and dies with the process) and every stale claim.
    With RQ the queue survives in Redis, so the scheduler takes only stale claims (requeue_stale).
    """
    stale = utcnow() - timedelta(seconds=_lease_s)
    for model, stage in CLAIMED:
        waiting = or_(model.status == JobState.QUEUED, (model.status == JobState.RUNNING) & (model.claimed_at < stale))
        for row_id in session.scalars(select(model.id).where(waiting).order_by(model.id)):
            yield stage, (row_id,)
    if index_waiting(session):
        yield Stage.INDEX, ()


def index_waiting(session: Session) -> bool:
    return session.scalar(select(Page.id).where(Page.index_state == IndexState.PENDING).limit(1)) is not None


def requeue_stale(session: Session) -> list[OutboxEntry]:
    """Put rows whose worker died mid-job (a stale claim) back to queued, each with its job in the outbox,
    in one commit; the caller hands the entries over (docsvc.jobs.hand_over)."""
    stale = utcnow() - timedelta(seconds=_lease_s)
    entries: list[OutboxEntry] = []
    for model, stage in CLAIMED:
        stale_claim = (model.status == JobState.RUNNING) & (model.claimed_at < stale)
        row_ids = session.scalars(select(model.id).where(stale_claim).order_by(model.id)).all()
        if not row_ids:
            continue
        log.warning("%d %s row(s) were claimed by a worker that stopped renewing its claim; queued again",
                    len(row_ids), model.__tablename__)
        for start in range(0, len(row_ids), 500):
            chunk = row_ids[start:start + 500]
            session.execute(update(model).where(model.id.in_(chunk), stale_claim)
                            .values(status=JobState.QUEUED, claimed_at=None))
        entries += [add_to_outbox(session, stage, row_id) for row_id in row_ids]
    session.commit()
    return entries


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
    stale, long_ago = now - timedelta(seconds=_lease_s), now - timedelta(seconds=STUCK_QUEUED_S)
    found: list[Stuck] = []
    for model, stage in CLAIMED:
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


@dataclass(frozen=True)
class Backlog:
    """Work waiting, for the administrator: pages not yet in the search index, jobs the queue has not taken
    yet (the outbox: Redis unreachable), and claims whose worker stopped renewing them."""
    index_pending: int
    index_pending_since: datetime | None
    outbox: int
    outbox_since: datetime | None
    stale_claims: int


def backlog(session: Session) -> Backlog:
    stale = utcnow() - timedelta(seconds=_lease_s)
    pending = session.execute(select(func.count(), func.min(Page.updated_at))
                              .where(Page.index_state == IndexState.PENDING)).one()
    outbox = session.execute(select(func.count(), func.min(OutboxEntry.created_at))).one()
    stale_claims = sum(session.scalar(select(func.count()).select_from(model).where(
        (model.status == JobState.RUNNING) & (model.claimed_at < stale))) or 0 for model, _stage in CLAIMED)
    return Backlog(pending[0], pending[1], outbox[0], outbox[1], stale_claims)
