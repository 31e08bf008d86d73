"""The split job: open an original, count its pages, create its document and page rows, fan out page jobs."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from docsvc import formats
from docsvc.config import FilingSettings
from docsvc.constants import JobState
from docsvc.jobs import JobQueue, Stage, add_to_outbox, hand_over
from docsvc.models import BatchFile, Document, Page
from docsvc.files import coversheets as cover_filing
from docsvc.formats import coversheets
from docsvc.pipeline import jobstate
from docsvc.pipeline.intake import mark_duplicate
from storage import ObjectStore


def split_file(session: Session, store: ObjectStore, jobs: JobQueue, batch_file_id: int,
               filing: FilingSettings | None = None) -> None:
    filing = filing or FilingSettings()
    bf = jobstate.claim(session, BatchFile, batch_file_id)
    if bf is None:
        return
    with jobstate.running(session, bf, f"文件“{bf.filename}”"):
        assert bf.original_key is not None
        duplicate = _other_document_with(session, bf)
        if duplicate is not None:
            mark_duplicate(bf, duplicate)
            session.commit()
            return
        with store.local_path(bf.original_key) as path:
            info = formats.inspect(Path(path))
            cut = (coversheets.plan(coversheets.scan(Path(path), info.media_type, info.page_count, filing.separators))
                   if filing.separators and _may_hold_separators(Path(path), info) else None)
        bf.media_type = info.media_type
        bf.page_count = info.page_count
        if cut is not None and cut.split:
            # Separator sheets cut the stack into documents; they are kept on the file record only.
            documents = cover_filing.create_documents(session, bf, cut, filing)
            bf.separators = cut.record()
            outbox = [add_to_outbox(session, Stage.PAGE, page_id) for page_id in session.scalars(
                select(Page.id).where(Page.document_id.in_([d.id for d in documents]), Page.status == JobState.QUEUED)
                .order_by(Page.document_id, Page.number)
            ).all()]
            jobstate.mark_done(session, bf)
            hand_over(session, jobs, outbox)
            return
        document = _document_for(session, bf)
        existing = set(session.scalars(select(Page.source_index).where(Page.document_id == document.id)))
        session.add_all(
            Page(document_id=document.id, number=i + 1, source_index=i)
            for i in range(info.page_count) if i not in existing
        )
        document.page_count = info.page_count
        cover_filing.file_if_known(session, document, filing, how="upload")
        # Page jobs commit with the pages (the outbox) and go out after the commit, so a worker never looks
        # for a row that is not there yet and a queue that is down loses none of them.
        outbox = [add_to_outbox(session, Stage.PAGE, page_id) for page_id in session.scalars(
            select(Page.id).where(Page.document_id == document.id, Page.status == JobState.QUEUED)
            .order_by(Page.number)
        ).all()]
        jobstate.mark_done(session, bf)
        hand_over(session, jobs, outbox)


def _document_for(session: Session, bf: BatchFile) -> Document:
    """The file's document, created once: a re-run of the split finds the one it made before."""
    document = session.scalars(select(Document).where(Document.batch_file_id == bf.id)).first()
    if document is None:
        assert bf.sha256 is not None and bf.original_key is not None and bf.media_type is not None
        document = Document(
            batch_file_id=bf.id, sha256=bf.sha256, original_key=bf.original_key,
            media_type=bf.media_type, title=bf.filename,
            customer_account=bf.batch.customer_account, doc_type=bf.batch.doc_type,
        )
        session.add(document)
        session.flush()
    return document


def _other_document_with(session: Session, bf: BatchFile) -> Document | None:
    return session.scalars(
        select(Document).where(Document.sha256 == bf.sha256, Document.batch_file_id != bf.id,
                               Document.destroyed_at.is_(None))
        .order_by(Document.id).limit(1)
    ).first()


def _may_hold_separators(path: Path, info: formats.FileInfo) -> bool:
    """Separator sheets come through the scanner: a PDF exported with a text layer holds none.

    Looking for them renders every page, so files that cannot hold them skip that cost.
    """
    if info.page_count < 2:
        return False
    return info.media_type != "application/pdf" or formats.text_layer(path, 0) is None
