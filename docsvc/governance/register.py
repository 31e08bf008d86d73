"""The destruction register (销毁清册): cover and rows, as PDF and CSV, written once when a list is
executed and kept permanently.

Both files are stored under constants.register_key (a prefix destruction never deletes) with their
SHA-256 on the list and in the audit trail; a download re-checks the hash, so an altered register is
refused rather than served. The PDF is drawn with the CJK font the cover sheets use, each text laid
under the image as invisible text (formats.image_pdf), so its text is both seen and searchable.

Both are in the language of the person who set the execution going (`register_language` on the list,
recorded by disposition.start_execution), whoever runs the job: written once and kept with its SHA-256,
the register can be generated again from the list byte for byte (`render`).
"""
from __future__ import annotations

import hashlib
import io
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from docsvc.constants import Decision, ItemResult, ListState, register_key
from docsvc import exports
from docsvc.errors import Corrupted, NotAllowedNow
from docsvc.governance import audit
from docsvc.localtime import day_text
from docsvc.formats.sheets import A4_MM, Sheet, cjk_font, wrap_text
from docsvc.formats.image_pdf import ImagePdfWriter
from docsvc.i18n import _, language, lazy_gettext as _l, listing, using
from docsvc.models import DestructionItem, DestructionList, User, as_utc
from storage import ObjectStore

REGISTER_DPI = 200  # 10 pt text prints crisp
HEADER = (_l("No."), _l("Reference code"), _l("Title"), _l("Year"), _l("Required retention"), _l("Kept for"),
          _l("Pages"), _l("Remarks"))
# (x, width) in mm of each column inside the margins; widths add up to 180.
COLUMNS = ((0, 10), (10, 42), (52, 40), (92, 12), (104, 16), (120, 16), (136, 10), (146, 34))
ROW, TEXT, LINE = 7.0, 2.8, 3.6  # row pitch, text height, line pitch inside a row (mm)
ROWS_FROM, ROWS_END = 20.0, 254.0


class RegisterAltered(Corrupted):
    """The stored register no longer matches the SHA-256 recorded when it was written."""


def rows(dlist: DestructionList) -> list[tuple[str, ...]]:
    """The register's rows, in list order: every item, the extended and kept ones noted under remarks (备注)."""
    return [(str(i.position), i.reference_code or "", i.title or "", str(i.year or ""),
             _retention(i.retention), "" if i.kept_years is None else _("%(years)s years", years=i.kept_years),
             str(i.page_count or 0), remark(i)) for i in dlist.items]


def remark(item: DestructionItem) -> str:
    if item.decision == Decision.EXTEND:
        return _("Extended to %(until)s: %(reason)s", until=item.until, reason=item.reason or "")
    if item.decision == Decision.KEEP:
        return _("Kept permanently: %(reason)s", reason=item.reason or "")
    results = {ItemResult.DESTROYED: _l("Destroyed"), ItemResult.HELD: _l("Held at execution, not destroyed"),
               ItemResult.INELIGIBLE: _l("No longer eligible for destruction at execution, not destroyed")}
    return str(results.get(item.result or "", ""))


def cover(dlist: DestructionList, fonds: str, zone: ZoneInfo) -> list[tuple[str, str]]:
    """The cover's (label, value) lines; dates are the local day, written the same way in either language."""
    destroyed = [i for i in dlist.items if i.result == ItemResult.DESTROYED]
    supervisors = [s for s in dlist.signoffs if s.role == "supervisor"]
    return [
        (_("Fonds"), fonds),
        (_("List"), f"#{dlist.id} {dlist.title}"),
        (_("Quantity"), _("Items destroyed: %(destroyed)s (pages: %(pages)s); items listed: %(listed)s",
                          destroyed=len(destroyed), pages=sum(i.page_count or 0 for i in destroyed),
                          listed=len(dlist.items))),
        (_("Compiled by"), _name(dlist.compiler)),
        (_("Compiled on"), day_text(dlist.submitted_at or dlist.created_at, "en", zone)),
        (_("Approved by"), _name(dlist.approver)),
        (_("Approved on"), day_text(dlist.decided_at, "en", zone)),
        (_("Supervised by"), listing(_name(s.user) for s in supervisors)),
        (_("Supervised on"), listing(day_text(s.signed_at, "en", zone) for s in supervisors)),
        (_("Destroyed on"), day_text(dlist.executed_at, "en", zone)),
        (_("Method of destruction"), dlist.method or ""),
        (_("Appraisal"), dlist.appraisal_report or ""),
    ]


def record_language(dlist: DestructionList) -> None:
    """The register will be in the language of the moment: that of the person setting the execution
    going (or resuming it), since the job that writes it has no reader of its own."""
    dlist.register_language = language()


def render(dlist: DestructionList, fonds: str, zone: ZoneInfo) -> tuple[bytes, bytes]:
    """The register's PDF and CSV, in the language recorded on the list: the same bytes however often
    they are generated, once the list has its execution time."""
    assert dlist.executed_at is not None, "a register is dated by its execution"
    with using(dlist.register_language):
        return pdf_bytes(dlist, fonds, zone, as_utc(dlist.executed_at)), csv_bytes(dlist, fonds, zone)


def write(session: Session, store: ObjectStore, dlist: DestructionList, *, fonds: str, zone: ZoneInfo,
          now: datetime | None = None) -> None:
    """Write both files and record their SHA-256 on the list (the caller audits and commits).

    Refused once the list is executed: the register is never written twice.
    """
    if dlist.state == ListState.EXECUTED:
        raise NotAllowedNow(_("List #%(id)s is executed; its register cannot be changed.", id=dlist.id))
    dlist.executed_at = dlist.executed_at or now or datetime.now(timezone.utc)
    pdf_data, csv_data = render(dlist, fonds, zone)
    pdf = store.put_bytes(register_key(dlist.id, "pdf"), pdf_data, "application/pdf")
    table = store.put_bytes(register_key(dlist.id, "csv"), csv_data, "text/csv")
    dlist.register_pdf_key, dlist.register_pdf_sha256 = pdf.key, pdf.sha256
    dlist.register_csv_key, dlist.register_csv_sha256 = table.key, table.sha256
    session.flush()


def read(store: ObjectStore, dlist: DestructionList, ext: str) -> bytes:
    key, sha256 = ((dlist.register_pdf_key, dlist.register_pdf_sha256) if ext == "pdf"
                   else (dlist.register_csv_key, dlist.register_csv_sha256))
    if key is None or sha256 is None:
        raise NotAllowedNow(_("List #%(id)s has no register until it is executed; it can be downloaded once "
                              "the execution is complete.", id=dlist.id))
    data = store.read_bytes(key)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RegisterAltered(_("The register of list #%(id)s does not match its recorded SHA-256 and may have "
                                "been altered; tell the records manager and the auditor at once.", id=dlist.id))
    return data


def download(session: Session, store: ObjectStore, actor: User, dlist: DestructionList, ext: str, *,
             ip: str | None = None) -> bytes:
    """The register's bytes for `actor`, the download audited (web and API both come here)."""
    data = read(store, dlist, ext)
    audit.record(session, actor, "destruction.register_download", object_type="destruction_list",
                 object_id=dlist.id, ip=ip, detail={"format": ext}, durable=False)
    session.commit()
    return data


def csv_bytes(dlist: DestructionList, fonds: str, zone: ZoneInfo) -> bytes:
    """The cover's lines, a blank line, then the register's table (docsvc.exports: no cell runs as a formula)."""
    first, *rest = cover(dlist, fonds, zone)
    return exports.csv_bytes(first, [*rest, (), [str(h) for h in HEADER], *rows(dlist)])


def pdf_bytes(dlist: DestructionList, fonds: str, zone: ZoneInfo, moment: datetime) -> bytes:
    out = io.BytesIO()
    writer = ImagePdfWriter(out, title=_("Destruction register #%(id)s %(title)s", id=dlist.id, title=dlist.title),
                            now=moment)
    sheet = Sheet(REGISTER_DPI)
    sheet.text(0, 0, _("Destruction register"), 7)
    for n, (label, value) in enumerate(cover(dlist, fonds, zone)):
        sheet.text(0, 16 + n * 9, label, 4.5, width=30)
        sheet.text(32, 16 + n * 9, value or "—", 4.5, width=148)
    writer.add_page(sheet.image, dpi=REGISTER_DPI, words=sheet.words)
    pages = _paginate([_wrapped(row) for row in rows(dlist)])
    for number, chunk in enumerate(pages, start=1):
        sheet = Sheet(REGISTER_DPI)
        sheet.text(0, 0, _("Destruction register #%(id)s · page %(page)s of %(pages)s", id=dlist.id, page=number,
                           pages=len(pages)), 4, width=180)
        headings = _wrapped(tuple(str(h) for h in HEADER))  # English headings may take two lines
        top = ROWS_FROM - ROW - (max(len(lines) for lines in headings) - 1) * LINE
        for (x, width), lines in zip(COLUMNS, headings):
            for n, line in enumerate(lines):
                sheet.text(x, top + n * LINE, line, TEXT, width=width - 1)
        sheet.line(ROWS_FROM - 1.5)
        y = ROWS_FROM
        for row in chunk:
            for (x, width), lines in zip(COLUMNS, row):
                for n, line in enumerate(lines):
                    sheet.text(x, y + n * LINE, line, TEXT, width=width - 1)
            y += _height(row)
        sheet.text(0, A4_MM[1] - 33, _("Fonds %(fonds)s", fonds=fonds), 3)
        writer.add_page(sheet.image, dpi=REGISTER_DPI, words=sheet.words)
    writer.close()
    return out.getvalue()


def _wrapped(row: tuple[str, ...]) -> list[list[str]]:
    """Each cell as the lines it takes in its column: nothing of the register is cut off."""
    font = cjk_font(round(TEXT / 25.4 * REGISTER_DPI))
    return [wrap_text(value, font, (width - 1) / 25.4 * REGISTER_DPI) for (_x, width), value in zip(COLUMNS, row)]


def _height(row: list[list[str]]) -> float:
    return max(ROW, max((len(lines) for lines in row), default=1) * LINE + ROW - LINE)


def _paginate(body: list[list[list[str]]]) -> list[list[list[list[str]]]]:
    pages: list[list[list[list[str]]]] = [[]]
    used = 0.0
    for row in body:
        if pages[-1] and used + _height(row) > ROWS_END - ROWS_FROM:
            pages.append([])
            used = 0.0
        pages[-1].append(row)
        used += _height(row)
    return pages


def _retention(code: str | None) -> str:
    """Y is permanent, D<n> n years (constants of the retention schedule); anything else shows as its code."""
    if not code:
        return ""
    if code == "Y":
        return _("Permanent")
    return _("%(years)s years", years=code[1:]) if code.startswith("D") and code[1:].isdigit() else code


def _name(user: User | None) -> str:
    if user is None:
        return ""
    shown = user.display_name or user.username
    return shown if shown == user.username else _("%(name)s (%(username)s)", name=shown, username=user.username)



