"""Long work a person starts and watches: backups, rebuilding the search index, customer imports, exports.

Every run is an `Operation` row: its kind, state (queued → running → done / failed), stage and counts, who
started it, and what came of it (a report, a file to download, or a message saying what went wrong and what
to do). The row is the truth: the browser polls it, so a page reloaded — or opened on another computer —
shows the run where it is; runs started from the command line register one too, so the administrator sees
them in the browser while they run.

Work started from the browser is queued (`start`) and run by a worker (`run`, the job of Stage.OPERATION on
the `operations` queue); the claim rules are the pipeline's (docsvc.pipeline.jobstate). The work itself is
the same service functions the command line calls, reporting through their `progress` callbacks into
`Progress`, which writes at most once a second (and at each new stage), never a commit per item.
"""
from __future__ import annotations

import json
import logging
import multiprocessing
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from docsvc.config import Settings
from docsvc.constants import JobState, OperationKind, operation_result_key
from docsvc.db import SQLITE_BUSY_S, make_engine
from docsvc.errors import Conflict, DomainError, NotFound
from docsvc.files import customer_import, filepdf, four_properties, four_properties_report, originals
from docsvc.files.customers import AccountRule
from docsvc.governance.access import Action, can
from docsvc.i18n import _, language, shown, stored, using
from docsvc.jobs import JobQueue, Stage, add_to_outbox, hand_over
from docsvc.models import Operation, User, utcnow
from docsvc.pipeline import backup as backup_service, jobstate, reindex as reindex_service
from storage import open_store

if TYPE_CHECKING:
    from docsvc.runtime import Runtime

log = logging.getLogger(__name__)

WRITE_EVERY_S = 1.0  # the most often a run's progress is written
RECENT = 100  # operations the list shows
# A command-line run tells the database it is alive this often, even in a long step with no progress to
# report; one silent for SILENT_AFTER has stopped (killed, or its computer went down) and is marked failed.
HEARTBEAT_S = 60.0
SILENT_AFTER = timedelta(minutes=10)


class OperationError(Conflict):
    """The service is not set up for this work (no backup folder): a 409, with who sets it up."""


# ------------------------------------------------------------------------------ the record


def start(session: Session, jobs: JobQueue, kind: OperationKind, actor: User | None,
          params: dict[str, Any]) -> Operation:
    """Record a queued run of `kind` and queue its job (through the outbox: a queue that is down takes it
    later, nothing is lost)."""
    operation = _record(session, kind, actor, params)
    _queue(session, jobs, operation)
    return operation


def _record(session: Session, kind: OperationKind, actor: User | None, params: dict[str, Any]) -> Operation:
    # The work speaks the language its starter read when starting it (their page's, or the command's).
    params = {"language": language(), **params}
    operation = Operation(kind=kind.value, status=JobState.QUEUED, params=json.dumps(params, ensure_ascii=False),
                          started_by_id=actor.id if actor else None)
    session.add(operation)
    session.flush()
    return operation


def _queue(session: Session, jobs: JobQueue, operation: Operation) -> None:
    entry = add_to_outbox(session, Stage.OPERATION, operation.id)
    session.commit()
    hand_over(session, jobs, [entry])


def register(session: Session, kind: OperationKind, params: dict[str, Any]) -> Operation:
    """A run the command line does itself: running at once, with no claim (no worker may take it over)."""
    now = utcnow()
    operation = Operation(kind=kind.value, status=JobState.RUNNING, params=json.dumps(params, ensure_ascii=False),
                          started_at=now, attempts=1)
    session.add(operation)
    session.commit()
    return operation


def finish(session: Session, operation: Operation, *, summary: dict[str, Any] | None = None,
           result_key: str | None = None, result_name: str | None = None) -> None:
    operation.status, operation.finished_at, operation.claimed_at = JobState.DONE, utcnow(), None
    operation.done = max(operation.done, operation.total)
    operation.summary = json.dumps(summary or {}, ensure_ascii=False)
    operation.result_key, operation.result_name = result_key, result_name
    session.commit()


def fail(session: Session, operation: Operation, message: str, *, summary: dict[str, Any] | None = None,
         result_key: str | None = None, result_name: str | None = None) -> None:
    """Record the failure; `message` is a docsvc.i18n.stored text (or a text already in words). A failed run
    may still leave a file that says why (an import's row errors)."""
    operation.status, operation.finished_at, operation.claimed_at = JobState.FAILED, utcnow(), None
    operation.error, operation.result_key, operation.result_name = message, result_key, result_name
    if summary is not None:
        operation.summary = json.dumps(summary, ensure_ascii=False)
    session.commit()


# The latest figures of the runs this process does, by operation id. The database has them too, a second
# late at most; but SQLite lets one writer in at a time, so while a run holds a long write transaction (an
# import's) its figures cannot reach the table until it commits. The embedded server runs its jobs in its
# own process, so its pages read them here meanwhile (`as_json`).
_live: dict[int, tuple[str, int, int]] = {}
_live_lock = threading.Lock()
SQLITE_WAIT_MS = 50  # a progress write waits this long for SQLite's one writer, then leaves it to _live


class Progress:
    """A run's `progress(stage, done, total)` callback: written on a connection of its own (the work's session
    may hold a long transaction), at most every WRITE_EVERY_S and at each new stage, so a million items cost
    a few hundred small updates, not a million commits."""

    def __init__(self, engine: Engine, operation_id: int, echo: Callable[[str, int, int], None] | None = None,
                 every_s: float = WRITE_EVERY_S) -> None:
        self.engine, self.operation_id, self.echo, self.every_s = engine, operation_id, echo, every_s
        self.stage: str | None = None
        self.written_at = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.echo is not None:
            self.echo(stage, done, total)
        with _live_lock:
            _live[self.operation_id] = (stage, done, total)
        now = time.monotonic()
        if stage == self.stage and now - self.written_at < self.every_s and done < total:
            return
        self.stage, self.written_at = stage, now
        self._write(stage=stage, done=done, total=total)

    def beat(self) -> None:
        """Say the run is alive, with no new figures (a long step of a command-line run)."""
        self._write()

    def _write(self, **values: object) -> None:
        try:
            with self.engine.begin() as conn:
                sqlite = conn.dialect.name == "sqlite"
                if sqlite:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_WAIT_MS}")
                try:
                    conn.execute(update(Operation).where(Operation.id == self.operation_id)
                                 .values(**values, updated_at=utcnow()))
                finally:
                    if sqlite:  # the pooled connection goes back with the engine's own patience
                        conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_S * 1000}")
        except Exception:  # a progress figure is not worth stopping the work for
            log.debug("could not record the progress of operation #%d yet", self.operation_id, exc_info=True)

    def close(self) -> None:
        with _live_lock:
            _live.pop(self.operation_id, None)


def get(session: Session, user: User, operation_id: int) -> Operation:
    """The operation, if `user` may watch it: their own, or any for the administrator."""
    operation = session.get(Operation, operation_id)
    if operation is None or not watches(user, operation):
        raise NotFound(_("No such operation."))
    return operation


def watches(user: User, operation: Operation) -> bool:
    return operation.started_by_id == user.id or can(user, Action.RUN_MAINTENANCE)


def recent(session: Session, user: User, limit: int = RECENT) -> list[Operation]:
    query = select(Operation).order_by(Operation.id.desc()).limit(limit)
    if not can(user, Action.RUN_MAINTENANCE):
        query = query.where(Operation.started_by_id == user.id)
    return list(session.scalars(query))


def figures(operation: Operation) -> tuple[str, int, int]:
    """Stage, done, total: this process's latest while it runs the operation, else the table's."""
    with _live_lock:
        live = _live.get(operation.id)
    return live if live is not None and operation.status == JobState.RUNNING else (
        operation.stage, operation.done, operation.total)


def as_json(operation: Operation) -> dict[str, Any]:
    """What the progress bar polls (and the API would show)."""
    stage, done, total = figures(operation)
    return {
        "id": operation.id, "kind": operation.kind, "status": operation.status, "stage": stage,
        "done": done, "total": total,
        "percent": 100 if operation.status == JobState.DONE else (min(99, done * 100 // total) if total else 0),
        "error": shown(operation.error) or None, "summary": summary_of(operation),
        "download": bool(operation.result_key),
    }


def summary_of(operation: Operation) -> dict[str, Any]:
    return json.loads(operation.summary) if operation.summary else {}


def params_of(operation: Operation) -> dict[str, Any]:
    return json.loads(operation.params or "{}")


# ------------------------------------------------------------------------------ running


def _what(exc: BaseException) -> str:
    """An unexpected error in a few words, for the stored message (the log has the traceback)."""
    return f"{type(exc).__name__}: {exc}"[:300]


@dataclass
class Outcome:
    summary: dict[str, Any]
    result_key: str | None = None
    result_name: str | None = None
    failure: str | None = None  # a stored message: the work ended but did not succeed


Runner = Callable[["Runtime", Session, Operation, Progress], Outcome]


def run(rt: "Runtime", operation_id: int) -> None:
    """The job: claim the operation (a second delivery finds it taken and does nothing), do its work with
    the claim renewed, and record how it ended. A failure is recorded with what to do, not retried: the
    person who started it decides whether to start it again."""
    with rt.sessions() as session:
        operation = jobstate.claim(session, Operation, operation_id)
        if operation is None:
            return
        operation.started_at = operation.started_at or utcnow()
        session.commit()
        with jobstate.renewed(session, operation), using(params_of(operation).get("language")):
            progress = Progress(rt.engine, operation_id)
            try:
                outcome = RUNNERS[OperationKind(operation.kind)](rt, session, operation, progress)
            except DomainError as exc:
                session.rollback()
                outcome = Outcome({}, failure=exc.message)
            except Exception as exc:
                session.rollback()
                log.exception("operation #%d failed", operation_id)
                outcome = Outcome({}, failure=stored(
                    "It stopped with an error: %(detail)s. Start it again; if it fails again, tell the "
                    "administrator (the worker's log has the details of operation #%(id)s).",
                    detail=_what(exc), id=operation_id))
            # Read again: the work may have cleared the session (a long run keeps its memory flat), and the
            # progress was written on another connection.
            operation = session.get(Operation, operation_id, populate_existing=True)
            assert operation is not None
            if outcome.failure:
                fail(session, operation, outcome.failure, summary=outcome.summary or None,
                     result_key=outcome.result_key, result_name=outcome.result_name)
            else:
                finish(session, operation, summary=outcome.summary, result_key=outcome.result_key,
                       result_name=outcome.result_name)
            progress.close()


@contextmanager
def reported(session: Session, kind: OperationKind, params: dict[str, Any],
             echo: Callable[[str, int, int], None] | None = None,
             heartbeat_s: float = HEARTBEAT_S) -> Iterator[tuple[Operation, Progress]]:
    """A command-line run registered as an operation: its progress goes to the terminal (`echo`) and the
    record, with a heartbeat between; an exception records it failed (and goes on up to the command)."""
    operation = register(session, kind, params)
    progress = Progress(session.get_bind(), operation.id, echo)  # type: ignore[arg-type]
    try:
        with jobstate.beating(heartbeat_s, progress.beat, f"operation-{operation.id}"):
            yield operation, progress
    except BaseException as exc:
        session.rollback()
        message = getattr(exc, "message", None) or stored(
            "It stopped: %(detail)s. Run the command again.", detail=_what(exc))
        fail(session, operation, message)
        raise


def abandon_silent(session: Session, now: datetime | None = None) -> int:
    """Command-line runs (they hold no claim) that sent no news for SILENT_AFTER: their process is gone, so
    they are marked failed with what to do, instead of showing "running" for ever. Returns how many."""
    silent = session.scalars(select(Operation).where(
        Operation.status == JobState.RUNNING, Operation.claimed_at.is_(None),
        Operation.updated_at < (now or utcnow()) - SILENT_AFTER)).all()
    for operation in silent:
        fail(session, operation, stored("The command doing this stopped without finishing (no news for over "
                                        "%(minutes)s minutes: it was killed, or its computer went down). "
                                        "Run the command again.",
                                        minutes=int(SILENT_AFTER.total_seconds() // 60)))
    return len(silent)


# -- backup


def backup_folder(settings: Settings, now: datetime | None = None) -> Path:
    """A new folder for a backup started from the browser: under DOCSVC_BACKUP_DIR, named for the UTC time."""
    if settings.backup_dir is None:
        raise OperationError(_("No backup folder is configured: the administrator sets DOCSVC_BACKUP_DIR "
                               "(a folder on another disk) and restarts the service, or runs "
                               "`docsvc backup FOLDER` on the server."))
    moment = now or utcnow()
    return settings.backup_dir / f"docsvc-{moment:%Y%m%d-%H%M%S}"


def previous_backup(session: Session, settings: Settings) -> Path | None:
    """The newest backup started here that finished and is still in the backup folder: the next one
    hard-links the originals it holds instead of copying them again (`docsvc backup --since`)."""
    if settings.backup_dir is None:
        return None
    finished = session.scalars(select(Operation).where(Operation.kind == OperationKind.BACKUP,
                                                       Operation.status == JobState.DONE)
                               .order_by(Operation.id.desc()).limit(20))
    for operation in finished:
        folder = Path(params_of(operation)["folder"])
        if folder.parent == settings.backup_dir and folder.is_dir():
            return folder
    return None


def start_backup(session: Session, rt: "Runtime", actor: User, *, full: bool = False) -> Operation:
    """A backup into a new folder under DOCSVC_BACKUP_DIR; unchanged originals are linked from the previous
    one unless `full` (a full copy, for when the previous backup is damaged or is to be moved away)."""
    folder = backup_folder(rt.settings)
    since = None if full else previous_backup(session, rt.settings)
    params = {"folder": str(folder)} | ({"since": str(since)} if since else {})
    return start(session, rt.jobs, OperationKind.BACKUP, actor, params)


def backup_summary(report: backup_service.BackupReport) -> dict[str, Any]:
    return {"folder": str(report.path), "rows": sum(report.rows.values()), "originals": report.originals,
            "originals_copied": report.originals_copied, "originals_linked": report.originals_linked,
            "objects": report.objects, "audit_events": report.audit_events,
            "missing": report.missing[:50], "altered": report.altered[:50]}


def backup_failure(report: backup_service.BackupReport) -> str | None:
    if report.ok:
        return None
    return stored("The backup was written to %(folder)s, but %(missing)s original(s) were missing and %(altered)s "
                  "altered, and are not in it. Open Integrity and follow what it says for each, then back up again.",
                  folder=str(report.path), missing=len(report.missing), altered=len(report.altered))


def _backup_in_child(settings: Settings, operation_id: int, folder: str, since: str | None, result: Any) -> None:
    """The backup's own process: bagit changes the working directory while it hashes, which a threaded
    server (the embedded worker threads) must never see."""
    engine = make_engine(settings.database_url)
    store = open_store(s3_endpoint=settings.s3_endpoint, s3_access_key=settings.s3_access_key,
                       s3_secret_key=settings.s3_secret_key, s3_bucket=settings.s3_bucket,
                       s3_secure=settings.s3_secure, local_root=settings.objects_dir, cache_dir=settings.cache_dir)
    try:
        report = backup_service.write(engine, store, Path(folder), since=Path(since) if since else None,
                                      progress=Progress(engine, operation_id))
        result.put(("ok", backup_summary(report), backup_failure(report)))
    except DomainError as exc:
        result.put(("error", exc.message, None))
    except Exception as exc:
        result.put(("error", stored("The backup stopped with an error: %(detail)s. Check that the backup folder "
                                    "has room and can be written, then start it again.",
                                    detail=_what(exc)), None))
    finally:
        engine.dispose()


def _run_backup(rt: "Runtime", session: Session, operation: Operation, progress: Progress) -> Outcome:
    params = params_of(operation)
    folder = params["folder"]
    context = multiprocessing.get_context("spawn")
    result = context.Queue()
    child = context.Process(target=_backup_in_child, args=(rt.settings, operation.id, folder, params.get("since"), result),
                            name=f"docsvc-backup-{operation.id}")
    child.start()
    outcome = None
    while outcome is None:
        try:
            outcome = result.get(timeout=1)
        except queue.Empty:  # still running, unless the process died
            if not child.is_alive():
                outcome = ("error", stored("The backup process ended unexpectedly (exit code %(code)s). Check the "
                                           "server's memory and the backup folder, then start it again.",
                                           code=child.exitcode), None)
    child.join()
    kind, value, failure = outcome
    if kind == "error":
        return Outcome({"folder": folder}, failure=value)
    return Outcome(value, failure=failure)


# -- reindex


def start_reindex(session: Session, rt: "Runtime", actor: User) -> Operation:
    return start(session, rt.jobs, OperationKind.REINDEX, actor, {})


def rebuild_index(rt: "Runtime", session: Session, progress: Callable[[str, int, int], None], **options: int) -> int:
    """Rebuild the search index, its progress told as ("pages", done, total); returns the pages indexed.
    `options` go to reindex.rebuild (commit_every, procs)."""
    total = reindex_service.count_indexable(session)
    session.rollback()
    progress("pages", 0, total)
    reindex_service.rebuild(rt.sessions, rt.index, progress=lambda done, _last: progress("pages", done, total),
                            **options)
    progress("pages", total, total)
    return total


def _run_reindex(rt: "Runtime", session: Session, operation: Operation, progress: Progress) -> Outcome:
    # One process: the embedded worker is a thread of the server, which must not fork.
    return Outcome({"pages": rebuild_index(rt, session, progress)})


# -- customer import


def start_import(session: Session, rt: "Runtime", actor: User, data: bytes, filename: str,
                 mapping: dict[str, str], skip_rejected: bool, ip: str | None) -> Operation:
    """Apply an import in the background: the file goes to the object store (every worker reads it there)."""
    operation = _record(session, OperationKind.CUSTOMER_IMPORT, actor,
                        {"name": filename, "mapping": mapping, "skip_rejected": skip_rejected, "ip": ip})
    rt.store.put_bytes(operation_result_key(operation.id, "input"), data)  # before any worker may look for it
    _queue(session, rt.jobs, operation)
    return operation


def _run_import(rt: "Runtime", session: Session, operation: Operation, progress: Progress) -> Outcome:
    params = params_of(operation)
    input_key = operation_result_key(operation.id, "input")
    try:
        table = customer_import.read_table(rt.store.read_bytes(input_key), params["name"])
        report = customer_import.run_import(
            session, operation.started_by, table, params["mapping"], AccountRule(rt.settings.filing.account_pattern),
            dry_run=False, skip_rejected=params["skip_rejected"], ip=params["ip"], source_name=params["name"],
            progress=progress)
    finally:
        rt.store.delete(input_key)  # imported or refused, the uploaded list is not kept
    summary = {**report.as_json(), "errors": [e.__dict__ for e in report.errors[:200]]}
    errors_key = None
    if report.errors:
        errors_key = operation_result_key(operation.id, "import-errors.csv")
        rt.store.put_bytes(errors_key, report.errors_csv(), content_type="text/csv")
    failure = None if report.applied else stored(
        "Nothing was imported: %(n)s row(s) were rejected. Download the row errors, correct the file and import "
        "it again, or tick “skip rejected rows”.", n=report.rejected)
    return Outcome(summary, errors_key, "import-errors.csv" if errors_key else None, failure)


# -- exports


def start_export(session: Session, rt: "Runtime", actor: User, kind: OperationKind, account: str,
                 ip: str | None) -> Operation:
    return start(session, rt.jobs, kind, actor, {"account": account, "ip": ip})


def _run_file_pdf(rt: "Runtime", session: Session, operation: Operation, progress: Progress) -> Outcome:
    params, user = params_of(operation), operation.started_by
    assert user is not None, "exports are started by a person"
    with _scratch(rt) as out:
        export = filepdf.export_file(session, rt.store, user, params["account"], out, ocr_dpi=rt.settings.ocr_dpi,
                                     ip=params["ip"], progress=progress)
        out.seek(0)
        key = operation_result_key(operation.id, "file.pdf")
        rt.store.put(key, out, content_type="application/pdf")
    return Outcome({"account": params["account"], "pages": export.pages, "documents": len(export.included),
                    "withheld": len(export.withheld)}, key, filepdf.download_name(export.customer))


def _run_originals_zip(rt: "Runtime", session: Session, operation: Operation, progress: Progress) -> Outcome:
    params, user = params_of(operation), operation.started_by
    assert user is not None, "exports are started by a person"
    with _scratch(rt) as out:
        made = originals.write_originals_zip(session, rt.store, user, params["account"], out, ip=params["ip"],
                                             progress=progress)
        out.seek(0)
        key = operation_result_key(operation.id, "originals.zip")
        rt.store.put(key, out, content_type="application/zip")
    return Outcome({"account": params["account"], "files": made.files}, key, made.filename)


def start_four_properties(session: Session, rt: "Runtime", actor: User, accounts: list[str], fmt: str, *,
                          recompute: bool, all_pages: bool, ip: str | None) -> Operation:
    """The 四性检测 report as a file: it reads every original of the files chosen, hours for a whole archive."""
    return start(session, rt.jobs, OperationKind.FOUR_PROPERTIES, actor,
                 {"accounts": accounts, "format": fmt, "recompute": recompute, "all_pages": all_pages, "ip": ip})


def _run_four_properties(rt: "Runtime", session: Session, operation: Operation, progress: Progress) -> Outcome:
    params, counted = params_of(operation), {"done": 0, "total": 0}

    def on_total(total: int) -> None:
        counted["total"] = total
        progress("originals", 0, total)

    def step(n: int) -> None:
        counted["done"] += n
        progress("originals", counted["done"], counted["total"])

    report = four_properties.run(session, rt.store, rt.settings.filing, operation.started_by,
                                 accounts=params["accounts"] or None, recompute=params["recompute"],
                                 all_pages=params["all_pages"], ip=params["ip"], progress=step, on_total=on_total)
    fmt, zone = params["format"], rt.settings.timezone
    key = operation_result_key(operation.id, f"report.{fmt}")
    rt.store.put_bytes(key, four_properties_report.render(report, fmt, zone),
                       content_type=four_properties_report.FORMATS[fmt])
    return Outcome({"customers": report.customers, "originals": report.originals, **report.counts()}, key,
                   four_properties_report.filename(report, fmt, zone))


@contextmanager
def _scratch(rt: "Runtime") -> Iterator[Any]:
    rt.settings.cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=rt.settings.cache_dir) as out:
        yield out


RUNNERS: dict[OperationKind, Runner] = {
    OperationKind.BACKUP: _run_backup,
    OperationKind.REINDEX: _run_reindex,
    OperationKind.CUSTOMER_IMPORT: _run_import,
    OperationKind.FILE_PDF: _run_file_pdf,
    OperationKind.ORIGINALS_ZIP: _run_originals_zip,
    OperationKind.FOUR_PROPERTIES: _run_four_properties,
}
