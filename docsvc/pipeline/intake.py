"""Receiving files: every way in (web, API, CLI, hot folder) ends here."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from docsvc.governance.access import is_sensitive
from docsvc.constants import FileState
from docsvc.formats import safe_filename
from docsvc.jobs import JobQueue, Stage, add_to_outbox, hand_over
from docsvc.errors import Conflict, DomainError, Unavailable
from docsvc.i18n import _, stored
from docsvc.models import Batch, BatchFile, DestroyedOriginal, Document, User
from docsvc.governance import audit
from storage import ObjectStore, StoreUnavailable


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
    ip: str | None = None,
    reason_for_destroyed: str | None = None,
) -> Batch:
    """Store each file's original (content-addressed), record it in a new batch and queue its split.

    A file whose content is already filed is recorded as a duplicate of that document and stored once.
    Each file is committed with its `upload` audit event and its split job (docsvc.jobs outbox, handed to the
    queue after the commit, or by the scheduler when the queue is down), the first one with the batch row too: a long
    upload shows its progress, a later fault keeps what arrived (each file with its event), and a
    fault before the first file is stored leaves neither batch nor event.

    A file whose content was erased by a destruction list is refused (DestroyedContent) unless
    `reason_for_destroyed` says why it comes back; then it is stored and the reason audited.
    """
    batch = Batch(source=source, created_by_id=user_id,
                  customer_account=customer_account or None, doc_type=doc_type or None)
    session.add(batch)
    session.flush()
    actor = session.get(User, user_id) if user_id is not None else None
    for position, upload in enumerate(uploads, start=1):
        # The original goes to the store before the audit event takes the chain lock: a large file
        # must not hold up every other audited request while it is copied.
        try:
            original, created = store.put_original(upload.stream)
        except StoreUnavailable as exc:
            session.rollback()
            raise StoreDown(safe_filename(upload.filename), batch.id if position > 1 else None, position - 1) from exc
        destroyed = session.get(DestroyedOriginal, original.sha256)
        reason = (reason_for_destroyed or "").strip()
        if destroyed is not None and not reason:
            if created:  # what was destroyed is not kept because someone sent it again
                store.delete(original.key)
            session.rollback()
            raise DestroyedContent(safe_filename(upload.filename), destroyed)
        bf = BatchFile(batch_id=batch.id, position=position, filename=safe_filename(upload.filename),
                       size=original.size, sha256=original.sha256, original_key=original.key)
        existing = _filed_document(session, original.sha256)
        if existing is not None:
            mark_duplicate(bf, existing)
        session.add(bf)
        audit.record(session, actor, "upload", object_type="batch", object_id=batch.id, ip=ip, detail={
            "source": source, "file": bf.filename, "position": position, "sha256": bf.sha256, "size": bf.size,
            "duplicate_of": bf.duplicate_of_id, "customer_account": batch.customer_account,
            "doc_type": batch.doc_type})
        if destroyed is not None:
            audit.record(session, actor, "upload.destroyed_again", object_type="batch", object_id=batch.id, ip=ip,
                         detail={"file": bf.filename, "sha256": bf.sha256, "destruction_list_id": destroyed.list_id,
                                 "reason": reason})
        if existing is None:
            # The split job commits with the file (the outbox): a queue that is down cannot leave the
            # file recorded as queued with no job behind it.
            session.flush()
            job = add_to_outbox(session, Stage.SPLIT, bf.id)
        session.commit()
        # Handed over as soon as it is committed: splitting starts while the rest still arrives.
        if existing is None:
            hand_over(session, jobs, [job])
    return batch


class UploadTooLarge(DomainError):
    """A file (or an upload request) above DOCSVC_MAX_UPLOAD_MB, refused before it is read."""


def too_large_message(max_upload_mb: int, name: str | None = None, size: int = 0) -> str:
    """Why the file `name` of `size` bytes, or without a name a whole request (refused from its length), was not
    received. Said to the sender at once, never stored: in the current language."""
    if name is None:
        return _("The upload is too large: the limit is %(limit)s MB (DOCSVC_MAX_UPLOAD_MB), and nothing was "
                 "received. Check it is the right file; split a scan into several files and upload them again, or ask "
                 "an administrator to raise the limit.", limit=max_upload_mb)
    return _("The file %(name)s is too large (%(size)s MB): the limit is %(limit)s MB (DOCSVC_MAX_UPLOAD_MB), and "
             "nothing was received. Check it is the right file; split a scan into several files and upload them "
             "again, or ask an administrator to raise the limit.",
             name=name, size=f"{size / 2**20:,.0f}", limit=max_upload_mb)


def check_size(name: str | bytes, size: int, max_upload_mb: int) -> None:
    """Refuse a file above the limit from its size alone, before a byte of it is read (import, hot folder)."""
    if size > max_upload_mb * 2**20:
        raise UploadTooLarge(too_large_message(max_upload_mb, safe_filename(name), size))


class DestroyedContent(Conflict):
    """The file's content was erased by a destruction list; it comes back only with a reason."""

    def __init__(self, filename: str, destroyed: DestroyedOriginal) -> None:
        super().__init__(_(
            "The content of %(name)s was destroyed on %(day)s by destruction list #%(list)s and was not stored. To "
            "store it again, upload it with a reason (reason_for_destroyed); the reason is audited.",
            name=filename, day=f"{destroyed.destroyed_at:%Y-%m-%d}", list=destroyed.list_id))
        self.list_id = destroyed.list_id


class StoreDown(Unavailable):
    """The object store could not be reached while a file was sent: that file was not stored and nothing
    records it; files of the same upload sent before it stay stored and recorded."""

    def __init__(self, filename: str, batch_id: int | None, kept: int) -> None:
        if kept:
            text = _("The object store cannot be reached, so %(name)s was not stored. The %(n)s file(s) sent before "
                     "it were stored in batch #%(batch)s; do not send them again. Upload it (and the files after it) "
                     "again in a few minutes; if it still fails, ask the administrator to check the MinIO / object "
                     "store service.", name=filename, n=kept, batch=batch_id)
        else:
            text = _("The object store cannot be reached, so %(name)s was not stored. Nothing from this upload was "
                     "stored. Upload it again in a few minutes; if it still fails, ask the administrator to check the "
                     "MinIO / object store service.", name=filename)
        super().__init__(text)
        self.batch_id = batch_id


def mark_duplicate(bf: BatchFile, existing: Document) -> None:
    """Record a file whose content is already stored as `existing`: nothing is stored or read twice."""
    bf.status = FileState.DUPLICATE
    bf.duplicate_of_id = existing.id
    bf.page_count = existing.page_count
    bf.media_type = existing.media_type
    # The message is stored and shown to everyone who sees the batch: a sensitive title stays out.
    if is_sensitive(existing):
        bf.error = stored("Identical to existing document #%(id)s; not stored again.", id=existing.id)
    else:
        bf.error = stored("Identical to existing document #%(id)s (%(title)s); not stored again.",
                          id=existing.id, title=existing.title)


def _filed_document(session: Session, sha256: str) -> Document | None:
    return session.scalars(
        select(Document).where(Document.sha256 == sha256, Document.destroyed_at.is_(None))
        .order_by(Document.id).limit(1)
    ).first()
