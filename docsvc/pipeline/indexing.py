"""The index job: the one writer takes every page waiting for the index and commits them together."""
from __future__ import annotations

import logging

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from docsvc.governance.access import is_sensitive
from docsvc.constants import IndexState
from docsvc.files.documents import is_live
from docsvc.i18n import _
from docsvc.models import Document, Page
from docsvc.search import PageRecord, SearchIndex

log = logging.getLogger(__name__)

# Pages per Whoosh commit: large enough to amortise the commit, small enough to show progress.
INDEX_BATCH = 500
# What page_record reads besides the page: its document, customer and type row (is_sensitive).
WITH_DOCUMENT = (joinedload(Page.document).joinedload(Document.customer),
                 joinedload(Page.document).joinedload(Document.type_row))


def index_pending(session: Session, index: SearchIndex) -> int:
    """Index the waiting pages, in id order, each once; returns how many were indexed.

    A page changed while it was being indexed keeps its pending mark; the job its change queued
    takes it next time (the cursor keeps this call from going round in circles).
    """
    total, after = 0, 0
    while True:
        pages = session.scalars(
            # populate_existing refreshes the type rows too: a sensitive flag changed between two
            # batches of this run must not be indexed from the first batch's copy.
            select(Page).options(*WITH_DOCUMENT)
            .where(Page.index_state == IndexState.PENDING, Page.id > after).order_by(Page.id)
            .limit(INDEX_BATCH).execution_options(populate_existing=True)
        ).unique().all()
        if not pages:
            return total
        after = pages[-1].id
        try:
            index.add_pages(page_record(p) for p in pages if is_live(p))
            index.delete_pages(p.id for p in pages if not is_live(p))  # the bin is out of search
        except OSError as exc:  # disk full, read-only, permissions: nothing a retry in a second mends
            session.rollback()
            problem = IndexUnwritable(index, exc, _waiting(session))
            log.error("%s", problem)
            raise problem from exc
        for p in pages:
            session.execute(
                update(Page).where(Page.id == p.id, Page.updated_at == p.updated_at)
                .values(index_state=IndexState.DONE, updated_at=p.updated_at)
            )
        session.commit()
        total += len(pages)


def page_record(page: Page) -> PageRecord:
    doc = page.document
    return PageRecord(
        page_id=page.id, document_id=doc.id, page_number=page.number, text=page.text or "",
        customer_account=doc.customer_account, doc_type=doc.doc_type, title=doc.title,
        customer_name=doc.customer.name if doc.customer else None, reference_code=doc.reference_code,
        doc_date=doc.doc_date, sensitive=is_sensitive(doc),
    )


class IndexUnwritable(RuntimeError):
    """The index folder refused a write. Searches go on answering from the last commit that succeeded;
    the pages stay index-pending, and the index job runs again (RQ's retries, each scheduler round)."""

    def __init__(self, index: SearchIndex, exc: OSError, waiting: int) -> None:
        super().__init__(_(
            "The search index folder %(folder)s cannot be written (%(fault)s): the disk may be full or the folder "
            "read-only. Searches still answer from the last good index; %(n)s page(s) wait for the index and are "
            "added once the fault is cleared. Free disk space or restore write access to the folder.",
            folder=str(index.current_directory()), fault=exc.strerror or str(exc), n=waiting))


def _waiting(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Page).where(Page.index_state == IndexState.PENDING)) or 0
