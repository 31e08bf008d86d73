"""Rebuilding the search index from the database, and checking that the two agree.

A page belongs in the index when it has text (OCR or text layer done) and is not in the bin.
Everything here reads pages in ascending id, in chunks, with one short session per chunk, so
memory stays bounded at a million pages and the database sees no long transaction.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from docsvc.constants import IndexState
from docsvc.files.documents import LIVE, mark_for_reindex
from docsvc.jobs import JobQueue, enqueue_index
from docsvc.models import Page
from docsvc.search import PageRecord, SearchIndex
from docsvc.pipeline.indexing import WITH_DOCUMENT, page_record

CHUNK = 1000  # pages read per query while rebuilding or checking


def _indexable():
    return select(Page).where(Page.text.is_not(None), LIVE)


def page_records(sessions: sessionmaker[Session], after_page_id: int | None = None,
                 chunk: int = CHUNK) -> Iterator[PageRecord]:
    """Every indexable page as a PageRecord, ascending by id, starting after `after_page_id`."""
    last = after_page_id or 0
    while True:
        with sessions() as session:
            pages = session.scalars(
                _indexable().options(*WITH_DOCUMENT)
                .where(Page.id > last).order_by(Page.id).limit(chunk)
            ).unique().all()
            records = [page_record(p) for p in pages]
        if not records:
            return
        yield from records
        last = records[-1].page_id


def records_for(sessions: sessionmaker[Session], page_ids: Iterable[int]) -> list[PageRecord]:
    """The indexable pages among `page_ids` (ids not returned are gone or in the bin)."""
    ids = sorted(set(page_ids))
    out: list[PageRecord] = []
    for start in range(0, len(ids), CHUNK):
        with sessions() as session:
            pages = session.scalars(
                _indexable().options(*WITH_DOCUMENT)
                .where(Page.id.in_(ids[start:start + CHUNK]))
            ).unique().all()
            out.extend(page_record(p) for p in pages)
    return out


def rebuild(sessions: sessionmaker[Session], index: SearchIndex, *,
            progress: Callable[[int, int], None] | None = None, commit_every: int = 5000,
            procs: int = 1) -> None:
    """Build a new index from the database beside the live one and swap it in.

    Resumes an interrupted rebuild (the engine records the last committed page id); pages the
    index worker writes meanwhile are re-read from the database before the swap. `procs` > 1
    indexes with that many processes (the CLI; a threaded server must not fork).
    """
    index.rebuild(lambda after: page_records(sessions, after), progress=progress,
                  commit_every=commit_every, refetch=lambda ids: records_for(sessions, ids), procs=procs)


def count_indexable(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(_indexable().subquery())) or 0


@dataclass
class IndexCheck:
    """What `docsvc index check` found. Pages still waiting for the index worker are not missing."""
    missing: list[int] = field(default_factory=list)   # indexable pages absent from the index
    stale: list[int] = field(default_factory=list)     # index entries whose page is gone or binned
    duplicated: list[int] = field(default_factory=list)  # page ids indexed more than once
    pending: int = 0                                    # pages the index worker has yet to write

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.duplicated)


def check(sessions: sessionmaker[Session], index: SearchIndex) -> IndexCheck:
    """Compare the live index with the database.

    Holds the set of indexed page ids (one int each: ~70 MB at a million pages) and walks the
    database in id order.
    """
    indexed: set[int] = set()
    result = IndexCheck()
    for page_id in index.indexed_page_ids():
        if page_id in indexed:
            result.duplicated.append(page_id)
        indexed.add(page_id)
    last = 0
    while True:
        with sessions() as session:
            rows = session.execute(
                select(Page.id, Page.index_state).where(Page.text.is_not(None), LIVE,
                                                        Page.id > last).order_by(Page.id).limit(CHUNK * 10)
            ).all()
        if not rows:
            break
        for page_id, state in rows:
            if page_id in indexed:
                indexed.discard(page_id)
            elif state == IndexState.PENDING:
                result.pending += 1
            else:
                result.missing.append(page_id)
        last = rows[-1][0]
    result.stale = sorted(indexed)
    return result


def repair(sessions: sessionmaker[Session], index: SearchIndex, found: IndexCheck) -> None:
    """Write the missing pages and delete the stale entries (and re-write duplicated ones once).

    Writes go through the index's writer lock like the index worker's, so running this beside
    the worker is safe; each CHUNK is one commit.
    """
    rewrite = sorted(set(found.missing) | set(found.duplicated))
    for start in range(0, len(rewrite), CHUNK):
        index.add_pages(records_for(sessions, rewrite[start:start + CHUNK]))
    for start in range(0, len(found.stale), CHUNK):
        index.delete_pages(found.stale[start:start + CHUNK])


def reindex_documents(session: Session, jobs: JobQueue, document_ids: Iterable[int]) -> None:
    """Re-index these documents' pages (their metadata changed, e.g. re-linked to a customer).

    Marks the pages pending in the caller's transaction and commits, then queues the index job on
    `jobs` itself, for sessions made outside a runtime (whose commits queue it by themselves).
    """
    mark_for_reindex(session, document_ids)
    session.commit()
    enqueue_index(jobs)


def ensure_current_schema(sessions: sessionmaker[Session], index: SearchIndex,
                          progress: Callable[[int, int], None] | None = None) -> bool:
    """Rebuild first when the index was built with another schema version; True if it did.

    The index worker calls this before every batch: it is the one writer, pages written with a
    new schema into an old index would fail, and the old index keeps serving searches while
    the rebuild runs (and resumes where it stopped if the worker is restarted).
    """
    if not index.needs_rebuild():
        return False
    rebuild(sessions, index, progress=progress)
    return True
