"""Page operations on documents: split, merge, move, reorder, rotate, delete to the bin, restore, purge.

Every operation is audited, keeps `page_count` equal to the live pages, and marks the pages it
touched for the search index (number and document change with them). Originals are never modified:
a rotation is a view transform stored on the page, and a page moved in from another scan keeps a
reference to its own original.
"""
from __future__ import annotations

from babel.support import LazyProxy as LazyString
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from docsvc.governance.access import require_handling
from docsvc.constants import IndexState
from docsvc.errors import DomainError, NotAllowedNow
from docsvc.files.documents import LIVE, is_live, live_pages
from docsvc.jobs import request_index
from docsvc.models import BatchFile, Document, LoanItem, Page, User, utcnow
from docsvc.governance import audit
from storage import ObjectStore
from docsvc.i18n import _, lazy_gettext as _l


class PageOpError(DomainError):
    pass


def _renumber(session: Session, document: Document, order: list[Page]) -> None:
    """Give `order` the numbers 1..n in two steps, so the (document, number) constraint never trips."""
    for p in order:
        p.number = -p.id
    session.flush()
    for n, p in enumerate(order, start=1):
        p.number = n
    document.page_count = len(order)
    session.flush()


def _touch(session: Session, pages: list[Page]) -> None:
    """The index re-reads these pages (number, document or bin state changed) once the session commits."""
    for p in pages:
        if p.text is not None or not is_live(p):
            p.index_state = IndexState.PENDING
    request_index(session)


def _move(session: Session, page: Page, target: Document) -> None:
    key, media = page.source_key, page.source_media_type
    page.number = -page.id
    session.flush()
    page.original_key = None if key == target.original_key else key
    page.media_type = None if key == target.original_key else media
    page.document = target
    session.flush()


def refuse_if_filed(document: Document, refusal: LazyString) -> None:
    """A filed document (with its 档号) keeps its pages, whoever asks: taking pages out of it is a correction,
    which goes through un-filing by an archivist (audited, with a reason), not a page operation.

    `refusal` is one of the messages below, with the document's id and 档号 as `id` and `code`."""
    if document.filed_at is not None:
        raise NotAllowedNow(str(refusal) % {"id": document.id, "code": document.reference_code})


# Each names what cannot be done to a filed document; the messages are whole sentences so that each
# language may phrase them its own way (refuse_if_filed fills in the values).
CANNOT_SPLIT = _l("Document #%(id)s is filed (%(code)s): it cannot be split. To correct it, an archivist unfiles "
                  "it first (with a reason, audited).")
CANNOT_MOVE_PAGES = _l("Document #%(id)s is filed (%(code)s): its pages cannot be moved away. To correct it, an "
                       "archivist unfiles it first (with a reason, audited).")
CANNOT_DELETE_PAGES = _l("Document #%(id)s is filed (%(code)s): its pages cannot be deleted. To correct it, an "
                         "archivist unfiles it first (with a reason, audited).")


def split(session: Session, actor: User | None, document: Document, at_number: int, *,
          ip: str | None = None) -> Document:
    """Pages from `at_number` on become a new, unfiled document (never out of a filed one)."""
    refuse_if_filed(document, CANNOT_SPLIT)
    pages = live_pages(document)
    if not 2 <= at_number <= len(pages):
        raise PageOpError(_("Cannot split at page %(at)s: the document has %(pages)s pages; split between page 2 "
                            "and the last page.", at=at_number, pages=len(pages)))
    new = Document(batch_file_id=document.batch_file_id, sha256=document.sha256, original_key=document.original_key,
                   media_type=document.media_type, title=_("%(title)s (split)", title=document.title))
    session.add(new)
    session.flush()
    moving = pages[at_number - 1:]
    for p in moving:
        _move(session, p, new)
    session.refresh(document, ["pages"])
    session.refresh(new, ["pages"])
    _renumber(session, document, live_pages(document))
    _renumber(session, new, moving)
    _touch(session, pages)
    audit.record(session, actor, "document.split", object_type="document", object_id=document.id, ip=ip,
                 detail={"at_page": at_number, "new_document_id": new.id, "moved_pages": [p.id for p in moving]})
    session.commit()
    return new


def merge(session: Session, actor: User | None, target: Document, source: Document, *,
          ip: str | None = None) -> Document:
    """Append `source`'s pages to `target`; `source` (unfiled) disappears once empty."""
    if target.id == source.id:
        raise PageOpError(_("A document cannot be merged with itself."))
    require_handling(actor, source)
    if source.filed_at is not None:
        raise NotAllowedNow(_("Document #%(id)s is filed (%(code)s): unfile it before merging it into another.",
                              id=source.id, code=source.reference_code))
    moving = live_pages(source)
    kept = live_pages(target)
    for p in moving:
        _move(session, p, target)
    session.refresh(source, ["pages"])
    session.refresh(target, ["pages"])
    _renumber(session, target, kept + moving)
    source.page_count = 0
    _touch(session, kept + moving)
    audit.record(session, actor, "document.merge", object_type="document", object_id=target.id, ip=ip,
                 detail={"merged_document_id": source.id, "moved_pages": [p.id for p in moving]})
    _drop_if_unused(session, source)
    session.commit()
    return target


def _drop_if_unused(session: Session, document: Document) -> None:
    if document.pages:  # binned pages stay recoverable with their document
        return
    referenced = session.scalar(select(func.count()).select_from(BatchFile).where(BatchFile.duplicate_of_id == document.id))
    referenced = (referenced or 0) + (session.scalar(
        select(func.count()).select_from(LoanItem).where(LoanItem.document_id == document.id)) or 0)
    if not referenced:
        session.delete(document)


def move_page(session: Session, actor: User | None, page: Page, target: Document, position: int | None = None, *,
              ip: str | None = None) -> Page:
    source = page.document
    if not is_live(page):
        raise NotAllowedNow(_("Page #%(id)s is in the bin; restore it first.", id=page.id))
    if source.id == target.id:
        return reorder_to(session, actor, page, position or page.number, ip=ip)
    require_handling(actor, target)
    refuse_if_filed(source, CANNOT_MOVE_PAGES)
    kept, into = [p for p in live_pages(source) if p.id != page.id], live_pages(target)
    old_number = page.number
    _move(session, page, target)
    session.refresh(source, ["pages"])
    session.refresh(target, ["pages"])
    at = len(into) if position is None else max(0, min(len(into), position - 1))
    _renumber(session, source, kept)
    _renumber(session, target, into[:at] + [page] + into[at:])
    _touch(session, kept + into + [page])
    audit.record(session, actor, "page.move", object_type="page", object_id=page.id, ip=ip,
                 detail={"from_document_id": source.id, "from_number": old_number,
                         "to_document_id": target.id, "to_number": page.number})
    _drop_if_unused(session, source)
    session.commit()
    return page


def reorder_to(session: Session, actor: User | None, page: Page, position: int, *, ip: str | None = None) -> Page:
    pages = [p for p in live_pages(page.document) if p.id != page.id]
    at = max(0, min(len(pages), position - 1))
    return _apply_order(session, actor, page.document, pages[:at] + [page] + pages[at:], ip)


def reorder(session: Session, actor: User | None, document: Document, page_ids: list[int], *,
            ip: str | None = None) -> Document:
    pages = live_pages(document)
    by_id = {p.id: p for p in pages}
    if sorted(page_ids) != sorted(by_id):
        raise PageOpError(_("The new order must list each of the %(pages)s pages of document #%(id)s exactly once.",
                            pages=len(pages), id=document.id))
    _apply_order(session, actor, document, [by_id[i] for i in page_ids], ip)
    return document


def _apply_order(session: Session, actor: User | None, document: Document, order: list[Page],
                 ip: str | None) -> Page:
    before = [p.id for p in live_pages(document)]
    _renumber(session, document, order)
    _touch(session, order)
    audit.record(session, actor, "document.reorder", object_type="document", object_id=document.id, ip=ip,
                 detail={"before": before, "after": [p.id for p in order]})
    session.commit()
    return order[0]


def rotate(session: Session, actor: User | None, page: Page, degrees: int, *, ip: str | None = None) -> Page:
    if degrees % 90:
        raise PageOpError(_("Rotate by multiples of 90 degrees."))
    page.view_rotation = (page.view_rotation + degrees) % 360
    audit.record(session, actor, "page.rotate", object_type="page", object_id=page.id, ip=ip,
                 detail={"degrees": degrees, "view_rotation": page.view_rotation})
    session.commit()
    return page


def bin_page(session: Session, actor: User | None, page: Page, *, ip: str | None = None) -> Page:
    """Delete a page of a not-yet-filed document into the recoverable bin."""
    document = page.document
    refuse_if_filed(document, CANNOT_DELETE_PAGES)
    if not is_live(page):
        return page
    kept = [p for p in live_pages(document) if p.id != page.id]
    old_number = page.number
    page.binned_at = utcnow()
    page.number = -page.id  # out of the live numbering, recoverable
    _renumber(session, document, kept)
    _touch(session, kept + [page])
    audit.record(session, actor, "page.delete", object_type="page", object_id=page.id, ip=ip,
                 detail={"document_id": document.id, "number": old_number})
    session.commit()
    return page


def restore_page(session: Session, actor: User | None, page: Page, *, ip: str | None = None) -> Page:
    if is_live(page):
        return page
    document = page.document
    page.binned_at = None
    _renumber(session, document, [p for p in live_pages(document) if p.id != page.id] + [page])
    _touch(session, live_pages(document))
    audit.record(session, actor, "page.restore", object_type="page", object_id=page.id, ip=ip,
                 detail={"document_id": document.id, "number": page.number})
    session.commit()
    return page


def binned_pages(session: Session) -> list[Page]:
    return list(session.scalars(select(Page).where(~LIVE).order_by(Page.binned_at.desc())))


def purge_page(session: Session, store: ObjectStore, actor: User | None, page: Page, *,
               ip: str | None = None) -> None:
    """Remove a binned page of an unfiled document for good: its row and its derived objects (the
    original scan is shared). A filed document is a record: only a destruction list removes its content."""
    if is_live(page):
        raise NotAllowedNow(_("Page #%(id)s is not in the bin.", id=page.id))
    if page.document.filed_at is not None:
        # A filed document is a record: its content goes only through a destruction list, never a purge.
        raise NotAllowedNow(_("Page #%(id)s belongs to filed document #%(document)s (%(code)s): a filed document's "
                              "content is removed only by executing a destruction list (appraisal, approval, "
                              "supervision); for a wrong scan, an archivist unfiles it first.",
                              id=page.id, document=page.document_id, code=page.document.reference_code))
    if page.index_state == IndexState.PENDING:
        raise NotAllowedNow(_("The page is still being removed from the search index; purge it in a moment."))
    document = page.document
    for key in (page.image_key, page.thumb_key, page.words_key):
        if key:
            store.delete(key)
    audit.record(session, actor, "page.purge", object_type="page", object_id=page.id, ip=ip,
                 detail={"document_id": document.id})
    session.delete(page)
    session.flush()
    session.refresh(document, ["pages"])
    _drop_if_unused(session, document)
    session.commit()
