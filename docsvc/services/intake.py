"""Receiving files: every way in (web, API, CLI, hot folder) ends here."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from docsvc.constants import FileState
from docsvc.formats import safe_filename
from docsvc.jobs import JobQueue, enqueue_split
from docsvc.models import Batch, BatchFile, Document
from storage import ObjectStore


@dataclass(frozen=True)
class Upload:
    filename: str | bytes
    stream: BinaryIO


def receive(
    session: Session,
    store: ObjectStore,
    jobs: JobQueue,
    uploads: Iterable[Upload],
    *,
    source: str,
    user_id: int | None = None,
    customer_account: str | None = None,
    doc_type: str | None = None,
) -> Batch:
    """Store each file's original (content-addressed), record it in a new batch and queue its split.

    A file whose content is already filed is recorded as a duplicate of that document and stored once.
    """
    batch = Batch(source=source, created_by_id=user_id,
                  customer_account=customer_account or None, doc_type=doc_type or None)
    session.add(batch)
    session.flush()
    to_split: list[BatchFile] = []
    for position, upload in enumerate(uploads, start=1):
        stored, _created = store.put_original(upload.stream)
        bf = BatchFile(batch_id=batch.id, position=position, filename=safe_filename(upload.filename),
                       size=stored.size, sha256=stored.sha256, original_key=stored.key)
        existing = _filed_document(session, stored.sha256)
        if existing is not None:
            mark_duplicate(bf, existing)
        else:
            to_split.append(bf)
        session.add(bf)
        # Commit per file: a long upload shows its progress, and a later fault keeps what arrived.
        session.commit()
    for bf in to_split:
        enqueue_split(jobs, bf.id)
    return batch


def mark_duplicate(bf: BatchFile, existing: Document) -> None:
    """Record a file whose content is already stored as `existing`: nothing is stored or read twice."""
    bf.status = FileState.DUPLICATE
    bf.duplicate_of_id = existing.id
    bf.page_count = existing.page_count
    bf.media_type = existing.media_type
    bf.error = (f"与已有文档 #{existing.id}（{existing.title}）内容完全相同，未重复保存。 / "
                f"Identical to existing document #{existing.id} ({existing.title}); not stored again.")


def _filed_document(session: Session, sha256: str) -> Document | None:
    return session.scalars(
        select(Document).where(Document.sha256 == sha256).order_by(Document.id).limit(1)
    ).first()
