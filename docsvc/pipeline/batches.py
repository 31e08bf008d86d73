"""What operators watch: a batch's progress, each file's outcome, and retrying what failed."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from docsvc.constants import FileState, JobState
from docsvc.errors import NotAllowedNow, require_found
from docsvc.jobs import JobQueue, Stage, add_to_outbox, hand_over
from docsvc.models import Batch, BatchFile, Document, Page, User
from docsvc.governance import audit
from docsvc.i18n import _, shown
from docsvc.pipeline import jobstate




@dataclass
class FileReport:
    """One file of a batch as its readers see it: `error` and `warning` in the reader's language."""
    id: int
    name: str
    status: str
    error: str | None
    document_ids: list[int]
    pages_total: int = 0
    pages_done: int = 0
    pages_failed: int = 0
    warning: str | None = None


@dataclass
class BatchReport:
    id: int
    status: str
    pages_total: int
    pages_done: int
    pages_failed: int
    files: list[FileReport] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "status": self.status,
            "counts": {"pages_total": self.pages_total, "pages_done": self.pages_done,
                       "pages_failed": self.pages_failed},
            "files": [{"id": f.id, "name": f.name, "status": f.status, "error": f.error,
                       "warning": f.warning, "document_ids": f.document_ids, "pages_total": f.pages_total,
                       "pages_done": f.pages_done, "pages_failed": f.pages_failed} for f in self.files],
        }


# The batch page shows this many page tiles per file; a 5,000-page file links to its document instead.
PAGE_TILES_PER_FILE = 120


def page_tiles(session: Session, batch_id: int) -> dict[int, list[dict[str, object]]]:
    """Per file: its first pages' id, number, status and error (in the reader's language), for the batch page's
    thumbnails."""
    tiles: dict[int, list[dict[str, object]]] = {}
    rows = session.execute(
        select(Document.batch_file_id, Page.id, Page.number, Page.status, Page.error)
        .join(Document, Document.id == Page.document_id)
        .join(BatchFile, BatchFile.id == Document.batch_file_id)
        .where(BatchFile.batch_id == batch_id, Page.number <= PAGE_TILES_PER_FILE)
        .order_by(Document.batch_file_id, Document.id, Page.number)
    )
    for file_id, page_id, number, status, error in rows:
        tiles.setdefault(file_id, []).append({"id": page_id, "number": number, "status": status,
                                              "error": shown(error) or None})
    return tiles


def batch_report(session: Session, batch_id: int) -> BatchReport:
    batch = require_found(session.get(Batch, batch_id), _("Batch #%(id)s does not exist.", id=batch_id))
    return batch_reports(session, [batch])[0]


def recent_batches(session: Session, limit: int = 50) -> list[Batch]:
    return list(session.scalars(select(Batch).order_by(Batch.id.desc()).limit(limit)))


def batch_reports(session: Session, batches: list[Batch]) -> list[BatchReport]:
    """Reports of many batches in three queries, whatever their number (the batch list shows 50)."""
    ids = [b.id for b in batches]
    counts: dict[int, dict[str, int]] = {}
    for file_id, status, n in session.execute(
        select(Document.batch_file_id, Page.status, func.count())
        .join(Page, Page.document_id == Document.id)
        .join(BatchFile, BatchFile.id == Document.batch_file_id)
        .where(BatchFile.batch_id.in_(ids))
        .group_by(Document.batch_file_id, Page.status)
    ):
        counts.setdefault(file_id, {})[status] = n
    docs: dict[int, list[int]] = {}
    for doc_id, file_id in session.execute(
        select(Document.id, Document.batch_file_id).join(BatchFile, BatchFile.id == Document.batch_file_id)
        .where(BatchFile.batch_id.in_(ids)).order_by(Document.id)
    ):
        docs.setdefault(file_id, []).append(doc_id)
    files_of: dict[int, list[BatchFile]] = {}
    for bf in session.scalars(select(BatchFile).where(BatchFile.batch_id.in_(ids)).order_by(BatchFile.position)):
        files_of.setdefault(bf.batch_id, []).append(bf)
    reports = []
    for batch in batches:
        files = [_file_report(bf, counts.get(bf.id, {}), docs.get(bf.id, [])) for bf in files_of.get(batch.id, [])]
        reports.append(BatchReport(
            id=batch.id, status=_batch_status([f.status for f in files]),
            pages_total=sum(f.pages_total for f in files),
            pages_done=sum(f.pages_done for f in files),
            pages_failed=sum(f.pages_failed for f in files), files=files,
        ))
    return reports


def _file_report(bf: BatchFile, pages: dict[str, int], document_ids: list[int]) -> FileReport:
    total = sum(pages.values())
    done, failed = pages.get(JobState.DONE, 0), pages.get(JobState.FAILED, 0)
    report = FileReport(bf.id, bf.filename, bf.status, shown(bf.error) or None, document_ids, total, done, failed,
                        shown(bf.warning) or None)
    if bf.status == FileState.DUPLICATE:
        report.document_ids = [bf.duplicate_of_id] if bf.duplicate_of_id else []
        report.pages_total = 0
    elif bf.status == JobState.DONE:
        if done + failed < total:
            report.status = FileState.RUNNING
        elif failed == 0:
            report.status = FileState.DONE
        else:
            report.status = FileState.FAILED if done == 0 else FileState.PARTIAL
            report.error = _("%(n)s page(s) failed; the rest are done. Open the batch to see why and retry them.",
                             n=failed)
    return report


def _batch_status(statuses: list[str]) -> str:
    finished = {FileState.DONE, FileState.FAILED, FileState.PARTIAL, FileState.DUPLICATE}
    if not statuses or all(s == FileState.QUEUED for s in statuses):
        return FileState.QUEUED
    if any(s not in finished for s in statuses):
        return FileState.RUNNING
    if all(s in (FileState.DONE, FileState.DUPLICATE) for s in statuses):
        return FileState.DONE
    if all(s == FileState.FAILED for s in statuses):
        return FileState.FAILED
    return FileState.PARTIAL


def retry_page(session: Session, jobs: JobQueue, page_id: int, *, actor: User | None = None,
               ip: str | None = None) -> Page:
    """Reset a failed page and queue it again; the reset, its audit event and its job commit together."""
    page = require_found(session.get(Page, page_id), _("Page #%(id)s does not exist.", id=page_id))
    if page.status != JobState.FAILED:
        raise NotAllowedNow(_("Page #%(id)s has not failed; nothing to retry.", id=page_id))
    jobstate.reset(page)
    audit.record(session, actor, "page.retry", object_type="page", object_id=page.id, ip=ip)
    job = add_to_outbox(session, Stage.PAGE, page.id)
    session.commit()
    hand_over(session, jobs, [job])
    return page


def retry_failed(session: Session, jobs: JobQueue, batch_id: int, *, actor: User | None = None,
                 ip: str | None = None) -> int:
    """Queue every failed page and every file whose split failed for a fault that may have passed.

    All resets commit in one transaction with the `batch.retry` event and their jobs (the outbox).
    """
    report = batch_report(session, batch_id)
    files = [require_found(session.get(BatchFile, f.id), _("File #%(id)s does not exist.", id=f.id))
             for f in report.files if f.status == FileState.FAILED and not f.document_ids]
    pages = session.scalars(
        select(Page).join(Document).join(BatchFile, BatchFile.id == Document.batch_file_id)
        .where(BatchFile.batch_id == batch_id, Page.status == JobState.FAILED).order_by(Page.id)
    ).all()
    for row in (*files, *pages):
        jobstate.reset(row)
    queued = len(files) + len(pages)
    audit.record(session, actor, "batch.retry", object_type="batch", object_id=batch_id, ip=ip,
                 detail={"queued": queued, "files": [f.id for f in files], "pages": [p.id for p in pages]})
    outbox = [add_to_outbox(session, Stage.SPLIT, bf.id) for bf in files]
    outbox += [add_to_outbox(session, Stage.PAGE, page.id) for page in pages]
    session.commit()
    hand_over(session, jobs, outbox)
    return queued

