"""The split job: open an original, count its pages, create its document and page rows, fan out page jobs."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from docsvc.config import FilingSettings
from docsvc.constants import JobState
from docsvc.jobs import JobQueue, Stage, add_to_outbox, hand_over
from docsvc.models import BatchFile, Document, Page
from docsvc.files import coversheets as cover_filing
from docsvc.formats import coversheets, decoder, safe_filename
from docsvc.i18n import stored
from docsvc.pipeline import jobstate
from docsvc.pipeline.intake import mark_duplicate
from storage import ObjectStore


def split_file(session: Session, store: ObjectStore, jobs: JobQueue, batch_file_id: int,
               filing: FilingSettings, limits: decoder.Limits) -> None:
    """`limits`: the decoder's (jobstate.job_limits(settings)); with no memory limit the file is read in this
    process, else in the decoder process."""
    bf = jobstate.claim(session, BatchFile, batch_file_id)
    if bf is None:
        return
    with jobstate.running(session, bf, stored("The file %(name)s", name=bf.filename)):
        assert bf.original_key is not None
        duplicate = _other_document_with(session, bf)
        if duplicate is not None:
            mark_duplicate(bf, duplicate)
            session.commit()
            return
        with store.local_path(bf.original_key) as path:
            # Read in the decoder process, under the job's memory and time limits.
            info = decoder.survey(Path(path), filing.separators, limits)
        cut = coversheets.plan(info.kinds) if info.kinds is not None else None
        bf.warning = active_content_warning(info)
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


def active_content_warning(info: decoder.Survey) -> str | None:
    """A PDF's scripts and attached files are kept in the original, never run or opened: the archivist is told
    (a stored text: the file's warning)."""
    if not info.javascript and not info.attachments:
        return None
    # named by the sender: shown as text only
    names = ", ".join(safe_filename(name) for name in info.attachments[:5]) + ("…" if len(info.attachments) > 5 else "")
    if not info.attachments:
        contents = stored("JavaScript")
    elif not info.javascript:
        contents = stored("%(n)s embedded file(s) (%(names)s)", n=len(info.attachments), names=names)
    else:
        contents = stored("JavaScript and %(n)s embedded file(s) (%(names)s)", n=len(info.attachments), names=names)
    return stored("Note: this PDF contains %(contents)s. The original is kept as it came; the scripts are never run "
                  "and the embedded files never opened or extracted — only the pages are read. Ask the sender for "
                  "any attachment you need as a file of its own.", contents=contents)
