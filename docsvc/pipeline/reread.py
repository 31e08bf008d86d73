"""Reading pages again with today's reader (`docsvc reread`): a new layout, new models, a new engine.

A page whose words.json keeps the pieces its OCR engine gave layout is laid out again from them
(no image is read, no OCR runs); any other page — a text layer, one read before pieces were kept, or
every page when OCR is asked for — is read again from its original, as the page job reads it.

The page keeps its old text, words and images until the new ones are ready; then they replace the
old in one transaction, which also marks the page index-pending (the index job is queued after the
commit, docsvc.jobs.request_index). A page that cannot be read again (its original damaged, the
engine failing) keeps what it had and is reported.

Pages are taken in ascending id with a short session each, so a run over a million pages holds
little memory, and a run stopped half-way is simply started again (with --before, the pages
already done are no longer selected).
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from docsvc.config import Settings
from docsvc.constants import IndexState, JobState, TextSource
from docsvc.files.documents import LIVE, is_live
from docsvc.i18n import _
from docsvc.governance import audit
from docsvc.jobs import request_index
from docsvc.models import Document, Page, User
from docsvc.ocr.layout import LAYOUT_VERSION
from docsvc.pipeline.recognition import read_page, relaid, save_page, store_words
from storage import ObjectNotFound, ObjectStore

CHUNK = 500  # page ids read per query
FAILURES_AUDITED = 100  # failed pages named in the audit event (the count is always complete)


class Way(StrEnum):
    LAYOUT = "layout"  # laid out again from the stored engine pieces: no OCR
    OCR = "ocr"        # the image OCR'd again
    TEXT_LAYER = "text_layer"  # a PDF text layer read again


def older_than(version: int) -> ColumnElement[bool]:
    """Pages an older reader produced: laid out by a layout before `version`, or read before readers
    were recorded (NULL). The one statement of that rule (the CLI's --before and the dashboard)."""
    return or_(Page.reader.is_(None),
               and_(Page.source == TextSource.OCR,
                    or_(Page.layout_version.is_(None), Page.layout_version < version)))


@dataclass(frozen=True)
class Selection:
    """Which pages to read again; the criteria combine (all must hold). Only read, live pages count."""
    before: int | None = None         # an older reader than this layout version (see older_than)
    document_id: int | None = None
    customer_account: str | None = None  # 户号

    def query(self) -> Select[tuple[int]]:
        query = select(Page.id).where(Page.text.is_not(None), Page.status == JobState.DONE, LIVE)
        if self.before is not None:
            query = query.where(older_than(self.before))
        if self.document_id is not None:
            query = query.where(Page.document_id == self.document_id)
        if self.customer_account is not None:
            query = query.where(Page.document_id.in_(
                select(Document.id).where(Document.customer_account == self.customer_account)))
        return query

    def describe(self) -> dict[str, object]:
        return {k: v for k, v in (("before", self.before), ("document_id", self.document_id),
                                  ("customer_account", self.customer_account)) if v is not None}


@dataclass
class RereadReport:
    selected: int = 0
    ways: Counter[str] = field(default_factory=Counter)  # Way → pages read that way
    readers: Counter[str] = field(default_factory=Counter)  # "old → new" reader → pages
    failed: list[tuple[int, str]] = field(default_factory=list)  # (page id, what went wrong)
    skipped: int = 0  # changed meanwhile (binned, re-queued): left to the pipeline

    @property
    def done(self) -> int:
        return sum(self.ways.values())


class RereadFailed(Exception):
    """A page could not be read again; it keeps its old text."""


@dataclass(frozen=True)
class ReaderCount:
    reader: str | None  # None: read before readers were recorded
    pages: int
    older: bool  # `docsvc reread --before <today's layout version>` reads these again


@dataclass(frozen=True)
class ReadersSummary:
    """Which readers produced the pages' text, for the admin dashboard."""
    layout_version: int
    readers: list[ReaderCount]

    @property
    def older_pages(self) -> int:
        return sum(r.pages for r in self.readers if r.older)

    @property
    def command(self) -> str:
        return f"docsvc reread --before {self.layout_version}"


def readers_summary(session: Session) -> ReadersSummary:
    """Pages with text per reader, most pages first; one grouped query over the pages' reader columns."""
    older = older_than(LAYOUT_VERSION)
    rows = session.execute(
        select(Page.reader, older, func.count()).where(Page.text.is_not(None), LIVE)
        .group_by(Page.reader, older).order_by(func.count().desc(), Page.reader)).all()
    return ReadersSummary(LAYOUT_VERSION, [ReaderCount(reader, count, bool(is_older))
                                           for reader, is_older, count in rows])


def count(session: Session, selection: Selection) -> int:
    return session.scalar(select(func.count()).select_from(selection.query().subquery())) or 0


def reread(sessions: sessionmaker[Session], settings: Settings, store: ObjectStore, selection: Selection, *,
           ocr: bool = False, actor: User | None = None,
           progress: Callable[[RereadReport], None] | None = None) -> RereadReport:
    """Read the selected pages again (`ocr`: from the image even where a layout from the stored pieces
    would do), page by page, and record the run in the audit trail."""
    report = RereadReport()
    with sessions() as session:
        report.selected = count(session, selection)
    completed = False
    try:
        _reread_selected(sessions, settings, store, selection, ocr, report, progress)
        completed = True
    finally:  # an interrupted run (a store outage, Ctrl-C) is recorded with what it did
        with sessions() as session:
            detail = {"selection": selection.describe(), "ocr": ocr, "selected": report.selected,
                      "ways": dict(report.ways), "readers": dict(report.readers), "skipped": report.skipped,
                      "failed": len(report.failed), "failures": report.failed[:FAILURES_AUDITED]}
            audit.record(session, actor, "pages.reread", outcome="ok" if completed else "interrupted", detail=detail)
            session.commit()
    return report


def _reread_selected(sessions: sessionmaker[Session], settings: Settings, store: ObjectStore, selection: Selection,
                     ocr: bool, report: RereadReport, progress: Callable[[RereadReport], None] | None) -> None:
    last = 0
    while True:
        with sessions() as session:
            ids = session.scalars(selection.query().where(Page.id > last).order_by(Page.id).limit(CHUNK)).all()
        if not ids:
            return
        for page_id in ids:
            with sessions() as session:
                try:
                    outcome = reread_page(session, settings, store, page_id, ocr=ocr)
                except RereadFailed as exc:
                    report.failed.append((page_id, str(exc)))
                else:
                    if outcome is None:
                        report.skipped += 1
                    else:
                        way, change = outcome
                        report.ways[way] += 1
                        report.readers[change] += 1
            if progress is not None:
                progress(report)
        last = ids[-1]


def reread_page(session: Session, settings: Settings, store: ObjectStore, page_id: int, *,
                ocr: bool = False) -> tuple[Way, str] | None:
    """Read one page again and swap its new text in (committed); the way it was read and the change of
    reader ("old → new"), or None when the page is no longer a read, live page. Raises RereadFailed,
    with the page unchanged, when it cannot be read again."""
    page = session.get(Page, page_id)
    if page is None or not _rereadable(page):
        return None
    old_reader = page.reader or "?"
    again = None if ocr or page.words_key is None else relaid(_words_document(store, page))
    if again is None:
        try:
            with store.local_path(page.source_key) as path:
                image, text = read_page(Path(path), page.source_media_type, page.source_index, settings)
        except Exception as exc:  # whatever the fault, the page keeps what it had and the run goes on
            session.rollback()
            raise RereadFailed(_failure(page_id, exc)) from exc
    _lock(session, page)
    if not _rereadable(page):
        session.rollback()
        return None
    if again is None:
        save_page(session, store, page, image, text)
        way = Way.TEXT_LAYER if text.source == TextSource.TEXT_LAYER else Way.OCR
    else:
        page.words_key = store_words(store, page.id, again.words_document)
        page.text, page.confidence = again.text, again.confidence
        page.reader, page.layout_version = again.reader, again.layout_version
        page.index_state = IndexState.PENDING
        way = Way.LAYOUT
    request_index(session)
    new_reader = page.reader or "?"
    session.commit()
    return way, f"{old_reader} → {new_reader}"


def _rereadable(page: Page) -> bool:
    return is_live(page) and page.status == JobState.DONE and page.text is not None


def _lock(session: Session, page: Page) -> None:
    # The row as it is now, locked until the swap commits (PostgreSQL; SQLite's write lock comes with
    # the first write): a page binned or queued again meanwhile is left alone.
    session.execute(select(Page.id).where(Page.id == page.id).with_for_update())
    session.refresh(page)


def _words_document(store: ObjectStore, page: Page) -> dict[str, object]:
    assert page.words_key is not None
    try:
        document = json.loads(store.read_bytes(page.words_key))
    except (ObjectNotFound, ValueError):
        return {}  # missing or damaged: read the page again instead
    return document if isinstance(document, dict) else {}


def _failure(page_id: int, exc: Exception) -> str:
    message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    return _("page %(id)s could not be read again and keeps its text: %(error)s; check the page's original and "
             "retry.", id=page_id, error=message)[:1000]
