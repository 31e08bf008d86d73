"""`docsvc check`: do the database, the object store and the search index tell the same story?

What it compares, and what `--repair` may do about each (only what can be redone from what is kept):

| kind | found when | repair |
|---|---|---|
| `page_without_image` | a page read (`done`) names no page image, thumbnail or words | the page job again |
| `row_without_object` | a page names a derived object the store lacks | the page job again (from the original) |
| `original_missing` | a live record names an original the store lacks | a person: restore from backup |
| `orphan_object` | an object under `pages/<id>/` whose page row is gone | a person: check, then delete |
| `unexpected_original` | an original no live record names | a person (see `docsvc fixity`) |
| `index_missing`, `index_stale`, `index_duplicated` | `pipeline.reindex.check` | `pipeline.reindex.repair` |
| `stuck` | work running with a stale claim, queued or index-pending for an hour | queue it again |

Originals are compared by the rule fixity uses (`governance.fixity.expected_originals`), so a
destroyed document's original is never "missing". The check reads; only `repair` changes anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from docsvc.constants import FixityOutcome, JobState
from docsvc.governance import fixity
from docsvc.jobs import JobQueue, enqueue_page
from docsvc.models import Page
from docsvc.pipeline import jobstate, reindex
from docsvc.search import SearchIndex
from storage import ObjectStore
from docsvc.i18n import _, lazy_gettext as _l

CHUNK = 5000  # page rows read per query
PAGES_PREFIX = "pages/"


class Kind(StrEnum):
    PAGE_WITHOUT_IMAGE = "page_without_image"
    ROW_WITHOUT_OBJECT = "row_without_object"
    ORIGINAL_MISSING = "original_missing"
    ORPHAN_OBJECT = "orphan_object"
    UNEXPECTED_ORIGINAL = "unexpected_original"
    INDEX_MISSING = "index_missing"
    INDEX_STALE = "index_stale"
    INDEX_DUPLICATED = "index_duplicated"
    STUCK = "stuck"


# What to do, per kind; the repairable kinds say what `--repair` does.
ADVICE: dict[Kind, str] = {
    Kind.PAGE_WITHOUT_IMAGE: _l("--repair queues the page again to regenerate it from the original"),
    Kind.ROW_WITHOUT_OBJECT: _l("--repair queues the page again to regenerate it from the original"),
    Kind.ORIGINAL_MISSING: fixity.ADVICE[FixityOutcome.MISSING],
    Kind.ORPHAN_OBJECT: _l("No page row names this object: make sure it belongs to no document, then delete it (an "
                           "unfinished destruction or purge may have left it)."),
    Kind.UNEXPECTED_ORIGINAL: fixity.ADVICE[FixityOutcome.UNEXPECTED],
    Kind.INDEX_MISSING: _l("--repair indexes the page"),
    Kind.INDEX_STALE: _l("--repair deletes the entry"),
    Kind.INDEX_DUPLICATED: _l("--repair rewrites the page's entry once"),
    Kind.STUCK: _l("--repair queues the work again"),
}
# What stuck work is waiting for, by jobstate.Stuck.state.
STUCK_STATES = {"stale claim": _l("its worker stopped (stale claim)"), "queued": _l("queued, no worker took it"),
                "index pending": _l("waiting for the index worker")}
REPAIRABLE = frozenset({Kind.PAGE_WITHOUT_IMAGE, Kind.ROW_WITHOUT_OBJECT, Kind.INDEX_MISSING, Kind.INDEX_STALE,
                        Kind.INDEX_DUPLICATED, Kind.STUCK})


@dataclass(frozen=True)
class Finding:
    kind: Kind
    subject: str  # "page 12", an object key, "split 3": the row or object as the database names it
    detail: str = ""

    @property
    def repairable(self) -> bool:
        return self.kind in REPAIRABLE

    @property
    def advice(self) -> str:
        return ADVICE[self.kind]


@dataclass
class ConsistencyReport:
    findings: list[Finding] = field(default_factory=list)
    index: reindex.IndexCheck = field(default_factory=reindex.IndexCheck)
    pages_to_redo: list[int] = field(default_factory=list)
    stuck: list[jobstate.Stuck] = field(default_factory=list)
    repaired: bool = False

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def needs_person(self) -> list[Finding]:
        """What is left for a person: everything before a repair, the unrepairable kinds after it."""
        return [f for f in self.findings if not (self.repaired and f.repairable)]

    def count(self, kind: Kind) -> int:
        return sum(1 for f in self.findings if f.kind == kind)


def check(sessions: sessionmaker[Session], store: ObjectStore, index: SearchIndex) -> ConsistencyReport:
    report = ConsistencyReport()
    _check_pages(sessions, store, report)
    with sessions() as session:
        expected = fixity.expected_originals(session)
        stored = fixity.stored_originals(store)
        served = fixity.documents_served(session, expected ^ stored)
        report.stuck = jobstate.stuck_work(session)
    for key in sorted(expected - stored):
        report.findings.append(Finding(Kind.ORIGINAL_MISSING, key, _documents(served[key])))
    for key in sorted(stored - expected):
        report.findings.append(Finding(Kind.UNEXPECTED_ORIGINAL, key, _documents(served[key])))
    report.index = reindex.check(sessions, index)
    for kind, ids in ((Kind.INDEX_MISSING, report.index.missing), (Kind.INDEX_STALE, report.index.stale),
                      (Kind.INDEX_DUPLICATED, report.index.duplicated)):
        report.findings.extend(Finding(kind, f"page {page_id}") for page_id in ids)
    report.findings.extend(
        Finding(Kind.STUCK, f"{s.stage} {s.row_id}" if s.row_id is not None else str(s.stage),
                _("%(state)s since %(time)s", state=STUCK_STATES[s.state], time=f"{s.since:%Y-%m-%d %H:%M}"))
        for s in report.stuck)
    return report


def _check_pages(sessions: sessionmaker[Session], store: ObjectStore, report: ConsistencyReport) -> None:
    """Page rows against the objects under pages/: one listing, then the rows in id order."""
    objects = set(store.list(PAGES_PREFIX))
    page_ids: set[int] = set()
    last = 0
    while True:
        with sessions() as session:
            rows = session.execute(
                select(Page.id, Page.status, Page.image_key, Page.thumb_key, Page.words_key)
                .where(Page.id > last).order_by(Page.id).limit(CHUNK)).all()
        if not rows:
            break
        for page_id, status, *keys in rows:
            page_ids.add(page_id)
            if status != JobState.DONE:  # not read yet, or failed with its own message: nothing derived
                continue
            absent = [k for k in keys if k and k not in objects]
            if not all(keys):
                report.findings.append(Finding(Kind.PAGE_WITHOUT_IMAGE, f"page {page_id}",
                                               _("read, but names no image, thumbnail or words")))
            elif absent:
                report.findings.append(Finding(Kind.ROW_WITHOUT_OBJECT, f"page {page_id}", ", ".join(absent)))
            if absent or not all(keys):
                report.pages_to_redo.append(page_id)
        last = rows[-1][0]
    # Objects of a page that still exists but are not named by it (an older image.png beside a new image.jpg)
    # are not orphans: the page's next run overwrites them and its destruction removes pages/<id>/ whole.
    report.findings.extend(Finding(Kind.ORPHAN_OBJECT, key) for key in sorted(objects)
                           if _page_id(key) not in page_ids)


def _page_id(key: str) -> int | None:
    """The page id in pages/<id>/…, None when the key has none."""
    part = key.removeprefix(PAGES_PREFIX).partition("/")[0]
    return int(part) if part.isdigit() else None


def _documents(served: tuple[fixity.ServedDocument, ...]) -> str:
    return "; ".join(d.label() for d in served) or _("no document")


def repair(sessions: sessionmaker[Session], index: SearchIndex, jobs: JobQueue,
           report: ConsistencyReport) -> ConsistencyReport:
    """Do what is safe: queue pages again (they regenerate their objects from the original), repair the
    index, queue stuck work again. What needs a person stays in `report.needs_person`."""
    with sessions() as session:
        for page_id in report.pages_to_redo:
            page = session.get(Page, page_id)
            if page is not None:
                jobstate.reset(page)
        session.commit()
        for page_id in report.pages_to_redo:
            enqueue_page(jobs, page_id)
        jobstate.unstick(session, jobs, report.stuck)
    if not report.index.ok:
        reindex.repair(sessions, index, report.index)
    report.repaired = True
    return report
