"""A customer file (客户档案) as one PDF: contents pages, then every page image with its words laid
under it as invisible text, so the PDF is searchable and selectable in any reader.

Which documents go in is the download rule, applied per document as for the ZIP of originals
(`access.content_grant(..., Action.DOWNLOAD)`): sensitive types only for users granted `sensitive`,
viewers only under an approved loan that allows download. A document left out is still listed on
the contents page, marked withheld (未包含), so whoever reads the PDF knows it is not the whole
paper file; one the reader may not identify (a sensitive type without the grant) is listed under
the placeholder title, as the customer page shows it.

Documents are grouped by type in the order of the customer file view; pages in the bin never
appear, and a page without an image yet (still being read, or failed) appears as a sheet saying so,
so that page numbers in the contents hold. Each page is the stored page image (upright and deskewed
by the page job) turned by the page's view rotation, as the viewer shows it. The PDF is written
page by page to a stream: memory holds one page image at a time. Its texts are in the language of the
person downloading it (the request's).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from collections.abc import Callable
from typing import BinaryIO

from sqlalchemy.orm import Session

from docsvc.governance.access import Action, ContentGrant, content_grant, hides_identity
from docsvc.constants import VIEW_DPI_TEXT_LAYER, TextSource
from docsvc.formats import safe_filename
from docsvc.formats.image_pdf import ImagePdfWriter, Word
from docsvc.models import Customer, Document, Page, User
from docsvc.search.snippets import MASKED_TITLE
from docsvc.formats.sheets import A4_MM, MARGIN, Sheet
from docsvc.errors import Forbidden
from docsvc.files.customers import file_documents, get_customer
from docsvc.files.doctypes import type_name
from docsvc.files.documents import live_pages, page_words
from docsvc.governance import audit
from docsvc.i18n import _, lazy_gettext as _l
from docsvc.labels import label
from storage import ObjectStore

Progress = Callable[[str, int, int], None]  # (stage, done, total), as docsvc.operations.Progress

AUDIT_ACTION = "customer.download_file_pdf"
CONTENTS_DPI = 200  # 10 pt text prints crisp
NOTE_DPI = 100  # the sheet standing in for a page without an image

# Contents layout, in millimetres on A4.
ROW = 7.0
TEXT = 3.5
FIRST_ROWS_AT, NEXT_ROWS_AT, ROWS_END = 44.0, 24.0, 254.0
# (heading, x, width) of each column; widths add up to the 180 mm between the margins.
COLUMNS = ((_l("No."), 0, 12), (_l("Reference code"), 12, 50), (_l("Title"), 62, 58), (_l("Date"), 120, 22),
           (_l("Pages"), 142, 16), (_l("Starts on page"), 158, 22))


@dataclass
class Entry:
    """One document of the file: included (with the grant allowing it) or withheld."""
    number: int  # 序号 on the contents page
    document: Document
    pages: list[Page]
    grant: ContentGrant | None
    masked: bool
    start: int | None = None  # page of the PDF where it starts, once laid out

    @property
    def included(self) -> bool:
        return self.grant is not None


@dataclass
class FileExport:
    customer: Customer
    entries: list[Entry]
    type_names: dict[str, str]
    contents_pages: int = 0
    pages: int = 0  # of the whole PDF, once laid out
    layout: list[list[tuple[str, object]]] = field(default_factory=list)

    @property
    def included(self) -> list[Entry]:
        return [e for e in self.entries if e.included]

    @property
    def withheld(self) -> list[Entry]:
        return [e for e in self.entries if not e.included]

    @property
    def loan_ids(self) -> list[int]:
        return sorted({e.grant.loan_id for e in self.included if e.grant and e.grant.loan_id is not None})


def plan_export(session: Session, user: User, customer: Customer, now: datetime | None = None) -> FileExport:
    """What `user` gets in the PDF of `customer`'s file, and where each document starts."""
    entries = []
    for number, d in enumerate(file_documents(session, customer), start=1):
        grant = content_grant(session, user, d, Action.DOWNLOAD, now)
        entries.append(Entry(number, d, live_pages(d), grant, hides_identity(user, d)))
    names = {d.doc_type: type_name(d.type_row) for d in (e.document for e in entries) if d.doc_type and d.type_row}
    export = FileExport(customer, entries, names)
    _lay_out(export)
    return export


def download_name(customer: Customer) -> str:
    return safe_filename(_("%(account)s_%(name)s_file.pdf", account=customer.account, name=customer.name))


def export_file(session: Session, store: ObjectStore, user: User, account: str, out: BinaryIO, *, ocr_dpi: int,
                ip: str | None = None, progress: Progress | None = None) -> FileExport:
    """The use case: write the PDF of `account`'s file for `user` to `out`, then audit the export with the
    documents given and withheld and the loan(s) allowing them. Nothing downloadable: refused, audited."""
    export = plan_export(session, user, get_customer(session, account))
    withheld = [e.document.id for e in export.withheld]
    if not export.included:
        audit.record(session, user, AUDIT_ACTION, object_type="customer", object_id=export.customer.account,
                     outcome="denied", ip=ip, detail={"withheld": withheld})
        session.commit()
        raise Forbidden(_("You may not download any document of this file; to download, request a loan and "
                          "tick “allow download”."))
    pages = write_pdf(export, store, out, exported_by=user.username, ocr_dpi=ocr_dpi, progress=progress)
    loans = export.loan_ids
    audit.record(session, user, AUDIT_ACTION, object_type="customer", object_id=export.customer.account, ip=ip,
                 loan_id=loans[0] if loans else None,
                 detail={"document_ids": [e.document.id for e in export.included], "withheld": withheld,
                         "pages": pages, "loan_ids": loans})
    session.commit()
    return export


def write_pdf(export: FileExport, store: ObjectStore, out: BinaryIO, *, exported_by: str, ocr_dpi: int,
              now: datetime | None = None, progress: Progress | None = None) -> int:
    """Write the PDF to `out`; returns its page count. `progress("pages", done, total)` hears of each page."""
    moment = now or datetime.now(timezone.utc)
    writer = ImagePdfWriter(out, title=_("Customer file %(account)s %(name)s", account=export.customer.account,
                                         name=export.customer.name), now=moment)
    for number, rows in enumerate(export.layout, start=1):
        sheet = _contents_sheet(export, rows, number, exported_by, moment)
        writer.add_page(sheet.image, dpi=CONTENTS_DPI, words=sheet.words)
    for entry in export.included:
        for page in entry.pages:
            _add_page(writer, store, entry.document, page, ocr_dpi)
            if progress is not None:
                progress("pages", writer.page_count, export.pages)
    writer.close()
    assert writer.page_count == export.pages, "the contents promised other page numbers"
    return writer.page_count


def _add_page(writer: ImagePdfWriter, store: ObjectStore, document: Document, page: Page, ocr_dpi: int) -> None:
    if page.image_key is None:
        sheet = Sheet(NOTE_DPI)
        sheet.text(0, 20, _("%(document)s · page %(page)s", document=document.reference_code or document.title,
                            page=page.number), 5)
        sheet.text(0, 30, _("This page has no page image yet (%(status)s); download again once it is processed.",
                            status=label("status", page.status)), TEXT, width=180)
        writer.add_page(sheet.image, dpi=NOTE_DPI, words=sheet.words)
        return
    words: list[Word] = []
    if page.words_key is not None:
        listed: list[dict] = page_words(store, page).get("words", [])  # type: ignore[assignment]
        words = [Word(str(w["text"]), tuple(w["box"])) for w in listed]  # type: ignore[arg-type]
    # The page job renders text-layer pages lighter than OCR pages; the size on paper stays right.
    dpi = VIEW_DPI_TEXT_LAYER if page.source == TextSource.TEXT_LAYER else ocr_dpi
    writer.add_page(store.read_bytes(page.image_key), dpi=dpi, words=words, rotate=page.view_rotation)


# ---------------------------------------------------------------- the contents


def _lay_out(export: FileExport) -> None:
    """Share the contents rows out over pages, then number the pages each document starts on."""
    rows: list[tuple[str, object]] = []
    current_type: str | None = None
    for entry in export.entries:
        code = entry.document.doc_type or ""
        if code != current_type:
            rows.append(("type", code))
            current_type = code
        rows.append(("document", entry))
    pages: list[list[tuple[str, object]]] = [[]]
    for kind, value in rows:
        room = _rows_per_page(len(pages) == 1) - len(pages[-1])
        if room == 0 or (kind == "type" and room == 1):  # a type heading never ends a page
            pages.append([])
        pages[-1].append((kind, value))
    export.layout = pages
    export.contents_pages = len(pages)
    at = export.contents_pages + 1
    for entry in export.included:
        entry.start = at if entry.pages else None
        at += len(entry.pages)
    export.pages = at - 1


def _rows_per_page(first: bool) -> int:
    return math.floor((ROWS_END - (FIRST_ROWS_AT if first else NEXT_ROWS_AT)) / ROW)


def _contents_sheet(export: FileExport, rows: list[tuple[str, object]], number: int, exported_by: str,
                    moment: datetime) -> Sheet:
    customer = export.customer
    sheet = Sheet(CONTENTS_DPI)
    if number == 1:
        sheet.text(0, 0, _("Customer file contents"), 7)
        sheet.text(0, 12, _("Account %(account)s    Customer %(name)s", account=customer.account, name=customer.name),
                   4.5, width=180)
        sheet.text(0, 20, _("Exported %(moment)s UTC · %(user)s",
                            moment=moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M"), user=exported_by), TEXT)
        included, withheld = export.included, export.withheld
        pages = sum(len(e.pages) for e in included)
        summary = (_("Documents: %(documents)s, pages: %(pages)s; withheld: %(withheld)s", documents=len(included),
                     pages=pages, withheld=len(withheld)) if withheld
                   else _("Documents: %(documents)s, pages: %(pages)s", documents=len(included), pages=pages))
        sheet.text(0, 26, summary, TEXT)
        top = FIRST_ROWS_AT - ROW
    else:
        sheet.text(0, 0, _("Account %(account)s %(name)s · contents (continued)", account=customer.account,
                           name=customer.name), 4, width=180)
        top = NEXT_ROWS_AT - ROW
    for heading, x, width in COLUMNS:
        sheet.text(x, top, str(heading), 2.8, width=width - 1)
    sheet.line(top + ROW - 1.5)
    y = top + ROW
    for kind, value in rows:
        if kind == "type":
            code = str(value)
            sheet.text(0, y + 0.5, f"{code or '—'} {export.type_names.get(code, '')}", 4, width=180)
        else:
            assert isinstance(value, Entry)
            _document_row(sheet, value, y)
        y += ROW
    if number == export.contents_pages and export.withheld:
        note = _("Withheld: documents you may not download. Sensitive types need the sensitive grant; a loan "
                 "must be approved and allow download.")
        sheet.paragraph(0, ROWS_END + 2, note, 2.8, width=180, pitch=4)
    sheet.text(0, A4_MM[1] - 2 * MARGIN - 3, _("Contents page %(page)s of %(pages)s", page=number,
                                               pages=export.contents_pages), 3)
    return sheet


def _document_row(sheet: Sheet, entry: Entry, y: float) -> None:
    d = entry.document
    start = _("Withheld") if not entry.included else (str(entry.start) if entry.start else "—")
    cells = (str(entry.number), d.reference_code or "—", str(MASKED_TITLE) if entry.masked else d.title,
             d.doc_date.isoformat() if d.doc_date else "", str(len(entry.pages)), start)
    for (_heading, x, width), value in zip(COLUMNS, cells):
        if value:
            sheet.text(x, y, value, TEXT, width=width - 1)
