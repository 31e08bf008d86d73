"""Reading documents and pages."""
from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import Select, update
from sqlalchemy.orm import Session

from docsvc.constants import IndexState

from docsvc.governance.access import hides_identity, is_storage_only
from docsvc.errors import NotFound, require_found
from docsvc.i18n import _, shown
from docsvc.jobs import request_index
from docsvc.models import Document, Page, User, utc_text, utcnow
from docsvc.search.snippets import MASKED_TITLE
from storage import ObjectStore


# "Live" pages are those not in the bin: the one statement of that rule, in Python and in SQL.
LIVE = Page.binned_at.is_(None)


def is_live(page: Page) -> bool:
    return page.binned_at is None


def live_pages(document: Document) -> list[Page]:
    return sorted((p for p in document.pages if is_live(p)), key=lambda p: p.number)


def mark_for_reindex(session: Session, document_ids: Iterable[int] | Select[tuple[int]]) -> None:
    """The search index re-reads these documents' pages (metadata changed): they are marked index-pending
    in the caller's transaction, and the index job is queued once it commits (docsvc.jobs.request_index).

    `document_ids` may be a query selecting them: one statement however many (a whole type's documents)."""
    if not isinstance(document_ids, Select):
        document_ids = list(document_ids)
        if not document_ids:
            return
    session.execute(update(Page).where(Page.document_id.in_(document_ids), Page.text.is_not(None))
                    .values(index_state=IndexState.PENDING, updated_at=utcnow()))
    request_index(session)


def get_document(session: Session, document_id: int) -> Document:
    return require_found(session.get(Document, document_id), _("Document #%(id)s does not exist.", id=document_id))


def get_page(session: Session, page_id: int) -> Page:
    return require_found(session.get(Page, page_id), _("Page #%(id)s does not exist.", id=page_id))


def page_object_key(page: Page, kind: str) -> str:
    """The stored object behind a page's image, thumbnail or words; NotFound while not yet made."""
    key = {"image": page.image_key, "thumbnail": page.thumb_key, "words": page.words_key}[kind]
    if key is None:
        raise NotFound(_("Page %(number)s is not processed yet; look again shortly.", number=page.number))
    return key


# What words.json keeps besides the page's words: the OCR engine's output before layout, for laying the
# page out again (docsvc.pipeline.recognition.relaid); not shown to anyone.
WORDS_FOR_RELAYOUT = ("pieces", "read_by")


def page_words(store: ObjectStore, page: Page) -> dict[str, object]:
    stored = json.loads(store.read_bytes(page_object_key(page, "words")))
    return {k: v for k, v in stored.items() if k not in WORDS_FOR_RELAYOUT}


# What names the person or the paper behind a document; for a sensitive document (an ID copy) these
# are withheld from anyone not granted `sensitive`, as the web pages and search results do.
IDENTIFYING_FIELDS = ("contract_number", "business_ref", "notes", "inbox_note")


def document_json(document: Document, viewer: User | None) -> dict[str, object]:
    """A document's metadata as `viewer` may see it: a sensitive one under a placeholder title."""
    data = _document_fields(document)
    masked = hides_identity(viewer, document)
    if masked:
        data |= {"title": str(MASKED_TITLE), **dict.fromkeys(IDENTIFYING_FIELDS)}
    return data | {"masked": masked}


def _document_fields(document: Document) -> dict[str, object]:
    return {
        "id": document.id, "title": document.title, "media_type": document.media_type,
        "sha256": document.sha256, "customer_account": document.customer_account,
        "doc_type": document.doc_type, "page_count": document.page_count,
        "created_at": utc_text(document.created_at),
        "document_date": document.doc_date.isoformat() if document.doc_date else None,
        "contract_number": document.contract_no, "business_ref": document.business_ref,
        "archive_code": document.reference_code, "location": document.location, "notes": document.notes,
        "filed_at": utc_text(document.filed_at),
        "inbox_note": shown(document.inbox_note) or None,
        "contract_end": document.contract_end.isoformat() if document.contract_end else None,
        "retention": document.retention, "retention_status": document.retention_status,
        "due_on": document.due_on.isoformat() if document.due_on else None,
        "storage_only": is_storage_only(document),
        # A destroyed document is its stub: when, and by which destruction list.
        "destroyed_at": utc_text(document.destroyed_at),
        "destruction_list_id": document.destruction_list_id,
        "pages": [{"id": p.id, "number": p.number, "status": p.status, "error": shown(p.error) or None,
                   "view_rotation": p.view_rotation} for p in live_pages(document)],
    }


def page_json(page: Page) -> dict[str, object]:
    return {
        "id": page.id, "document_id": page.document_id, "number": page.number, "status": page.status,
        "error": shown(page.error) or None, "text": page.text, "source": page.source, "confidence": page.confidence,
        "rotation": page.rotation, "skew": page.skew, "engine": page.engine,
        "engine_version": page.engine_version, "width": page.width, "height": page.height, "dpi": page.dpi,
    }


def page_summary(page: Page) -> dict[str, object]:
    """What a page operation answers: where the page is now, never its content."""
    return {"id": page.id, "document_id": page.document_id, "number": page.number, "status": page.status,
            "error": shown(page.error) or None, "view_rotation": page.view_rotation,
            "binned": page.binned_at is not None}
