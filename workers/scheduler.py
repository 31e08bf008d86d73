"""Periodic upkeep: the daily tasks, and for the full stack the sweep (the outbox, work whose worker died).

DAILY_TASKS is the one list of what runs once a day. Both ways of running docsvc run it: the full
stack's `docsvc scheduler` process (run_scheduler) and, in the embedded default, a thread of the
server (run_daily_until, started by InProcessJobQueue.start(upkeep=True)). Each task is safe to run
more than once a day.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from docsvc.constants import OPERATION_FILE_DAYS
from docsvc.governance import audit, erasure, fixity, retention
from docsvc.models import utcnow
from docsvc.runtime import Runtime
from workers.pipeline import recover_stale

log = logging.getLogger(__name__)

DailyTask = Callable[[Runtime], object]


def anchor_audit_trail(rt: Runtime) -> None:
    """Today's anchor of the audit chain (latest seq and hash) in the object store, outside the database."""
    today = datetime.now(timezone.utc).date()
    if audit.anchor_due(rt.store, today):
        with rt.sessions() as session:
            audit.write_anchor(session, rt.store)


def mark_due_documents(rt: Runtime) -> None:
    """Documents whose retention period ended today join the appraisal queue (expiry is not destruction)."""
    with rt.sessions() as session:
        retention.run_daily(session)


def check_fixity(rt: Runtime) -> None:
    """Re-read the day's share of the originals (least recently checked first, DOCSVC_FIXITY_DAILY_MB at
    DOCSVC_FIXITY_RATE_MB_S); missing and unexpected originals are found in full every day."""
    settings = rt.settings
    with rt.sessions() as session:
        report = fixity.run_daily(session, rt.store, daily_bytes=settings.fixity_daily_mb * fixity.MB,
                                  rate_bytes_s=settings.fixity_rate_mb_s * fixity.MB)
    if not report.ok:
        log.error("fixity: %s; see the administration page or run `docsvc fixity`", report.counts())


def expire_operation_files(rt: Runtime) -> None:
    """Files the long operations made (exports, reports, import errors) leave the store OPERATION_FILE_DAYS
    after they were made: they are copies, made for one download, and hold personal data."""
    with rt.sessions() as session:
        erasure.discard_operation_files(session, rt.store,
                                        finished_before=utcnow() - timedelta(days=OPERATION_FILE_DAYS))


DAILY_TASKS: list[tuple[str, DailyTask]] = [
    ("audit anchor", anchor_audit_trail),
    ("retention: mark due documents", mark_due_documents),
    ("operations: remove old export files", expire_operation_files),
    ("fixity: re-read originals", check_fixity),
]


# Tasks that read for minutes (fixity re-reads up to DOCSVC_FIXITY_DAILY_MB at a limited rate): the
# embedded server runs them on its scheduler thread, never before it answers.
LONG_TASKS = frozenset({check_fixity})


def quick_tasks() -> list[tuple[str, DailyTask]]:
    return [(name, task) for name, task in DAILY_TASKS if task not in LONG_TASKS]


def long_tasks() -> list[tuple[str, DailyTask]]:
    return [(name, task) for name, task in DAILY_TASKS if task in LONG_TASKS]


def run_daily(rt: Runtime, tasks: list[tuple[str, DailyTask]] | None = None) -> None:
    """Every daily task (or those given) once; one failing is logged and does not keep the others from running."""
    for name, task in DAILY_TASKS if tasks is None else tasks:
        try:
            task(rt)
        except Exception:
            log.exception("daily task %r failed; it runs again with the next round", name)


def _seconds_to_tomorrow(now: datetime) -> float:
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
    return max(1.0, (tomorrow - now).total_seconds())


# The embedded server starts its first round's long tasks this long after start: the recovery sweep and
# the OCR backlog go first, and an office PC that is off at midnight still gets its daily fixity run.
LONG_TASKS_DELAY_S = 600.0


def run_daily_until(stop: threading.Event, current: Callable[[], Runtime],
                    long_tasks_delay_s: float = LONG_TASKS_DELAY_S) -> None:
    """The embedded scheduler thread: the long tasks of the first round (its quick tasks ran before the
    server answered), then every daily task after each UTC midnight, until `stop` is set."""
    if stop.wait(long_tasks_delay_s):
        return
    run_daily(current(), long_tasks())
    while not stop.wait(_seconds_to_tomorrow(datetime.now(timezone.utc))):
        run_daily(current())


def run_scheduler(rt: Runtime, *, interval_s: float, once: bool,
                  report: Callable[[int], None] = lambda _n: None) -> None:
    """`docsvc scheduler`: each round hands the outbox to the queue and re-queues work whose worker died
    mid-job (RQ's queue survives in Redis, so only those need it); when the day has turned the daily tasks
    start on a thread of their own, so a long fixity run never holds up the sweep. A round that fails
    (Redis or the database down) is logged and the next one tries again."""
    ran_on: date | None = None
    daily: threading.Thread | None = None
    while True:
        try:
            with rt.sessions() as session:
                report(recover_stale(session, rt.jobs))
        except Exception:
            log.exception("the sweep failed (is Redis or the database down?); it runs again in %.0f s", interval_s)
        today = datetime.now(timezone.utc).date()
        if ran_on != today and (daily is None or not daily.is_alive()):
            ran_on = today
            if once:
                run_daily(rt)
            else:
                daily = threading.Thread(target=run_daily, args=(rt,), name="docsvc-daily", daemon=True)
                daily.start()
        if once:
            return
        time.sleep(interval_s)
