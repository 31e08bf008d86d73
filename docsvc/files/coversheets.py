"""Filing what separator sheets say: one document per segment of a scanned stack, filed when its cover
names a known customer and type (else to the inbox with a note), and the printable cover sheets for
(户号, type) pairs. The pixels and codes themselves are docsvc.formats.coversheets."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from docsvc.config import FilingSettings
from docsvc.files.customers import find_customer, get_customer
from docsvc.files.doctypes import get_type, type_name
from docsvc.files.filing import file_document
from docsvc.formats.coversheets import Plan, cover_sheets_pdf
from docsvc.i18n import stored
from docsvc.models import BatchFile, Document, DocumentType, Page


def create_documents(session: Session, bf: BatchFile, cut: Plan, settings: FilingSettings) -> list[Document]:
    """One document per segment, filed when its cover names a known customer and type; else to the inbox.

    A re-run finds the documents it made before.
    """
    existing = list(session.scalars(select(Document).where(Document.batch_file_id == bf.id).order_by(Document.id)))
    if existing:
        return existing
    assert bf.sha256 is not None and bf.original_key is not None and bf.media_type is not None
    documents = []
    for n, segment in enumerate(cut.segments, start=1):
        leading = segment.separator is None
        document = Document(
            batch_file_id=bf.id, sha256=bf.sha256, original_key=bf.original_key, media_type=bf.media_type,
            title=f"{bf.filename} · {n}", inbox_note=segment.note,
            customer_account=segment.account or (bf.batch.customer_account if leading else None),
            doc_type=segment.doc_type or (bf.batch.doc_type if leading else None),
        )
        session.add(document)
        session.flush()
        session.add_all(Page(document_id=document.id, number=i, source_index=src)
                        for i, src in enumerate(segment.source_indices, start=1))
        document.page_count = len(segment.source_indices)
        file_if_known(session, document, settings, how="cover_sheet" if segment.account else "upload")
        documents.append(document)
    return documents


def file_if_known(session: Session, document: Document, settings: FilingSettings, *, how: str) -> None:
    """File a document whose customer and type were given (cover sheet, upload form) when both exist."""
    if document.filed_at is not None or not document.customer_account:
        return
    customer = find_customer(session, document.customer_account)
    doc_type = session.get(DocumentType, document.doc_type) if document.doc_type else None
    if customer is not None and doc_type is not None and doc_type.active:
        file_document(session, None, document, customer, doc_type, settings, how=how)
    elif how == "cover_sheet":
        # Kept untranslated: the inbox shows it in the language of whoever reads it (i18n.shown).
        if customer is None and doc_type is None:
            document.inbox_note = stored(
                "The cover sheet was read, but account %(account)s is not in the customer list and type %(code)s "
                "does not exist. Import the customer or fix it, then file.",
                account=document.customer_account, code=document.doc_type)
        elif customer is None:
            document.inbox_note = stored(
                "The cover sheet was read, but account %(account)s is not in the customer list. Import the "
                "customer or fix it, then file.", account=document.customer_account)
        else:
            document.inbox_note = stored(
                "The cover sheet was read, but type %(code)s does not exist or is no longer in use. Fix it, "
                "then file.", code=document.doc_type)


def sheets_for(session: Session, pairs: list[tuple[str, str]]) -> bytes:
    """The printable PDF for (户号, type code) pairs, in the reader's language; unknown customers or types
    raise NotFound/DocTypeError."""
    sheets = []
    for account, code in pairs:
        customer, doc_type = get_customer(session, account), get_type(session, code)
        sheets.append((customer.account, doc_type.code, customer.name, type_name(doc_type)))
    return cover_sheets_pdf(sheets)
