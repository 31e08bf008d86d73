"""The home page's figures, one function per role: what each kind of user looks at first.

Every figure is a query (or a cached measurement, said so below); the panels are chosen by the roles
the user holds and each panel's own access rule, so a figure is never shown to someone who could not
open the page it summarises. Views only render what these functions return.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session, selectinload

from docsvc.constants import JobState, Role
from docsvc.files import completeness
from docsvc.files.filing import inbox_count
from docsvc.governance import audit, fixity, retention
from docsvc.governance.access import Action, can, hides_identity
from docsvc.jobs import JobQueue, QueueStatus
from docsvc.models import AuditEvent, Batch, BatchFile, Document, Page, User, as_utc, utcnow
from docsvc.pipeline.batches import BatchReport, batch_reports
from storage import ObjectStore, StoreUnavailable, StoreUsage, folder_usage

# The panels, in the order the page shows them, with the role that has each and the action it needs.
PANELS: tuple[tuple[str, Role, Action], ...] = (
    ("operator", Role.OPERATOR, Action.VIEW_BATCH),
    ("archivist", Role.ARCHIVIST, Action.MANAGE_CUSTOMERS),
    ("records_manager", Role.RECORDS_MANAGER, Action.VIEW_RETENTION),
    ("admin", Role.ADMIN, Action.VIEW_INTEGRITY),
    ("auditor", Role.AUDITOR, Action.READ_AUDIT),
)
LIST_LENGTH = 10  # rows in each panel's list (batches, failed pages, incomplete files, activity)
CHART_YEARS = 10  # the records manager's chart: this year and the nine after it
# A walk of the local store or a listing of the bucket costs one step per object: measured at most
# this often, and over at most this many objects (the panel then says "at least").
USAGE_TTL_S = 600.0
USAGE_LIMIT = 200_000


def panels_for(user: User) -> list[str]:
    """The panels of every role the user holds that also passes that panel's access rule; a user with
    none of them (viewer, approver, supervisor) gets the search panel."""
    shown = [name for name, role, action in PANELS if role in user.role_set and can(user, action)]
    return shown or ["search"]


# --- operator ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FailedPage:
    page_id: int
    number: int
    document_id: int
    title: str | None  # None: hidden (a sensitive document for a user without the grant)
    error: str | None


@dataclass(frozen=True)
class OperatorPanel:
    in_progress: list[BatchReport]
    in_progress_total: int
    inbox: int
    failed_pages: int
    failed: list[FailedPage]


def operator_panel(session: Session, viewer: User) -> OperatorPanel:
    busy = (JobState.QUEUED, JobState.RUNNING)
    # A batch is in progress while a file waits to be split or a page waits to be read.
    busy_ids = union(
        select(BatchFile.batch_id).where(BatchFile.status.in_(busy)),
        select(BatchFile.batch_id).join(Document, Document.batch_file_id == BatchFile.id)
        .join(Page, Page.document_id == Document.id).where(Page.status.in_(busy)),
    ).subquery()
    total = int(session.scalar(select(func.count()).select_from(busy_ids)) or 0)
    batches = list(session.scalars(select(Batch).where(Batch.id.in_(select(busy_ids.c[0])))
                                   .order_by(Batch.id.desc()).limit(LIST_LENGTH)))
    failed_rows = list(session.scalars(
        select(Page).where(Page.status == JobState.FAILED).order_by(Page.id.desc()).limit(LIST_LENGTH)
        .options(selectinload(Page.document).selectinload(Document.type_row))))
    return OperatorPanel(
        in_progress=batch_reports(session, batches), in_progress_total=total, inbox=inbox_count(session),
        failed_pages=int(session.scalar(select(func.count()).select_from(Page).where(Page.status == JobState.FAILED)) or 0),
        failed=[FailedPage(p.id, p.number, p.document_id,
                           None if hides_identity(viewer, p.document) else (p.document.title or ""), p.error)
                for p in failed_rows])


# --- archivist --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Activity:
    occurred_at: datetime
    actor: str | None
    action: str
    object_type: str
    object_id: str
    label: str | None  # the document's title or the customer's account; None: hidden (sensitive)


@dataclass(frozen=True)
class ArchivistPanel:
    incomplete: int
    incomplete_top: list[completeness.Checklist]
    activity: list[Activity]


# The filing and customer-file changes the archivist's activity list shows (never reads: those are
# the auditor's, see audit.ACCESS_EVENTS).
ACTIVITY_ACTIONS = ("document.file", "document.unlink", "document.update", "document.split", "document.merge",
                    "document.reorder", "document.reference_code.correct", "customer.create", "customer.update",
                    "customer.import")


def archivist_panel(session: Session, viewer: User) -> ArchivistPanel:
    incomplete, first = completeness.incomplete_summary(session, LIST_LENGTH)
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.action.in_(ACTIVITY_ACTIONS),
                                                           AuditEvent.outcome == "ok")
                                  .order_by(AuditEvent.seq.desc()).limit(LIST_LENGTH)))
    doc_ids = {int(e.object_id) for e in events if e.object_type == "document" and (e.object_id or "").isdigit()}
    documents = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(doc_ids))
                                                  .options(selectinload(Document.type_row)))} if doc_ids else {}

    def label(e: AuditEvent) -> str | None:
        if e.object_type != "document":
            return e.object_id or ""
        document = documents.get(int(e.object_id)) if (e.object_id or "").isdigit() else None
        if document is None:
            return f"#{e.object_id}"
        return None if hides_identity(viewer, document) else (document.title or f"#{document.id}")

    return ArchivistPanel(
        incomplete=incomplete, incomplete_top=first,
        activity=[Activity(as_utc(e.occurred_at), e.actor_name, e.action, e.object_type or "", e.object_id or "",
                           label(e)) for e in events])


# --- records manager --------------------------------------------------------------------------------

@dataclass(frozen=True)
class YearBar:
    year: int
    count: int
    label: str  # "2026" or "≤2026" for the first bar, which also holds what fell due before


@dataclass(frozen=True)
class RecordsPanel:
    due_now: int
    due_soon: int
    held: int
    destroyed: int
    destroyed_this_year: int
    years: list[YearBar]


def records_panel(session: Session, index=None, now: datetime | None = None) -> RecordsPanel:  # type: ignore[no-untyped-def]
    board = retention.dashboard(session, now=now, index=index)
    return RecordsPanel(due_now=board.due_now, due_soon=board.due_soon, held=board.held, destroyed=board.destroyed,
                        destroyed_this_year=board.destroyed_this_year,
                        years=year_bars(board.by_year, (now or utcnow()).year))


def year_bars(by_year: Sequence[tuple[int, int]], this_year: int, years: int = CHART_YEARS) -> list[YearBar]:
    """Documents due per year, from this year on; earlier years (due already, not yet destroyed) count
    in this year's bar, and years after the chart's last are left out."""
    counts = dict.fromkeys(range(this_year, this_year + years), 0)
    for year, n in by_year:
        key = max(year, this_year)
        if key in counts:
            counts[key] += n
    return [YearBar(y, n, f"≤{y}" if y == this_year else str(y)) for y, n in counts.items()]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    count: int
    label_x: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    bars: list[Bar]


def bar_chart(bars: Sequence[YearBar], *, width: int = 640, height: int = 220) -> Chart:
    """Geometry of a bar chart drawn as SVG on the server: heights proportional to the counts, the
    tallest bar filling the plot; a zero draws no height."""
    top, bottom = 20.0, 30.0  # room for the counts above and the years below
    plot = height - top - bottom
    slot = width / max(len(bars), 1)
    tallest = max((b.count for b in bars), default=0)
    drawn = []
    for i, b in enumerate(bars):
        h = plot * b.count / tallest if tallest else 0.0
        drawn.append(Bar(x=round(i * slot + slot * 0.15, 2), y=round(top + plot - h, 2), width=round(slot * 0.7, 2),
                         height=round(h, 2), label=b.label, count=b.count, label_x=round(i * slot + slot / 2, 2)))
    return Chart(width, height, top + plot, drawn)


# --- administrator ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Usage:
    """Space used, measured at `measured_at` (cached USAGE_TTL_S); `usage` None with `error` when it failed."""
    usage: StoreUsage | None
    measured_at: datetime
    error: str | None = None


@dataclass(frozen=True)
class AdminPanel:
    queues: QueueStatus | None
    queues_error: str | None
    fixity: fixity.Summary
    index: Usage
    store: Usage
    store_kind: str  # "local" or "s3"


_usage_cache: dict[str, tuple[float, Usage]] = {}
_usage_lock = threading.Lock()


def _cached(key: str, measure) -> Usage:  # type: ignore[no-untyped-def]
    with _usage_lock:
        hit = _usage_cache.get(key)
        if hit and time.monotonic() - hit[0] < USAGE_TTL_S:
            return hit[1]
    try:
        found = Usage(measure(), utcnow())
    except (OSError, StoreUnavailable) as exc:
        found = Usage(None, utcnow(), str(exc))
    with _usage_lock:
        _usage_cache[key] = (time.monotonic(), found)
    return found


def forget_usage() -> None:
    """Measure again on the next look (tests; an administrator's fresh look after freeing space)."""
    with _usage_lock:
        _usage_cache.clear()


def admin_panel(session: Session, jobs: JobQueue, store: ObjectStore, index_dir: Path, *, s3: bool) -> AdminPanel:
    try:
        queues, queues_error = jobs.status(), None
    except Exception as exc:  # Redis down: the panel says so instead of failing the home page
        queues, queues_error = None, f"{type(exc).__name__}: {exc}"
    return AdminPanel(
        queues=queues, queues_error=queues_error, fixity=fixity.summary(session),
        index=_cached(f"index:{index_dir}", lambda: folder_usage(index_dir, USAGE_LIMIT)),
        store=_cached(f"store:{store!r}", lambda: store.usage(USAGE_LIMIT)), store_kind="s3" if s3 else "local")


# --- auditor ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditorPanel:
    last_verify: audit.VerifyRecord | None  # the last check anyone ran (it walks the whole chain: on demand only)
    events: int  # events in the chain now


def auditor_panel(session: Session) -> AuditorPanel:
    return AuditorPanel(last_verify=audit.last_verify(session), events=audit.chain_length(session))


def human_size(n: int) -> str:
    """1536 → "1.5 KB": binary steps, one decimal."""
    size = float(n)
    unit = "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            break
        size /= 1024
    return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
