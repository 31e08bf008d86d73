"""The destruction register (销毁清册): cover and rows, as PDF and CSV, written once when a list is
executed and kept permanently.

Both files are stored under constants.register_key (a prefix destruction never deletes) with their
SHA-256 on the list and in the audit trail; a download re-checks the hash, so an altered register is
refused rather than served. The PDF is drawn with the CJK font the cover sheets use, each text laid
under the image as invisible text (formats.image_pdf), so its Chinese is both seen and searchable.
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
from docsvc.formats.sheets import Sheet, cjk_font
from docsvc.formats.image_pdf import ImagePdfWriter
from docsvc.models import DestructionItem, DestructionList, User
from docsvc.formats.coversheets import A4_MM
from storage import ObjectStore
from docsvc.i18n import _

REGISTER_DPI = 200  # 10 pt text prints crisp
HEADER = ("序号", "档号", "题名", "年度", "应保管期限", "已保管期限", "页数", "备注")
# (x, width) in mm of each column inside the margins; widths add up to 180.
COLUMNS = ((0, 10), (10, 42), (52, 40), (92, 12), (104, 16), (120, 16), (136, 10), (146, 34))
ROW, TEXT, LINE = 7.0, 2.8, 3.6  # row pitch, text height, line pitch inside a row (mm)
ROWS_FROM, ROWS_END = 20.0, 254.0
# A spreadsheet runs a cell that starts with one of these as a formula.
RETENTION_NAMES = {"Y": "永久", "D30": "30年", "D10": "10年"}


class RegisterAltered(Corrupted):
    """The stored register no longer matches the SHA-256 recorded when it was written."""


def rows(dlist: DestructionList) -> list[tuple[str, ...]]:
    """The register's rows, in list order: every item, the extended and kept ones noted in 备注."""
    return [(str(i.position), i.reference_code or "", i.title or "", str(i.year or ""),
             _retention(i.retention), "" if i.kept_years is None else f"{i.kept_years}年",
             str(i.page_count or 0), remark(i)) for i in dlist.items]


def remark(item: DestructionItem) -> str:
    if item.decision == Decision.EXTEND:
        return f"延期至 {item.until}：{item.reason or ''}"
    if item.decision == Decision.KEEP:
        return f"永久保存：{item.reason or ''}"
    return {ItemResult.DESTROYED: "已销毁", ItemResult.HELD: "执行时处于冻结，未销毁",
            ItemResult.INELIGIBLE: "执行时不再符合销毁条件，未销毁"}.get(item.result or "", "")


def cover(dlist: DestructionList, fonds: str, zone: ZoneInfo) -> list[tuple[str, str]]:
    destroyed = [i for i in dlist.items if i.result == ItemResult.DESTROYED]
    supervisors = [s for s in dlist.signoffs if s.role == "supervisor"]
    return [
        ("全宗号", fonds),
        ("清册", f"#{dlist.id} {dlist.title}"),
        ("数量", f"销毁 {len(destroyed)} 件 {sum(i.page_count or 0 for i in destroyed)} 页；列入 {len(dlist.items)} 件"),
        ("编制人", _name(dlist.compiler)),
        ("编制日期", day_text(dlist.submitted_at or dlist.created_at, "en", zone)),
        ("审批人", _name(dlist.approver)),
        ("审批日期", day_text(dlist.decided_at, "en", zone)),
        ("监销人", "、".join(_name(s.user) for s in supervisors)),
        ("监销日期", "、".join(day_text(s.signed_at, "en", zone) for s in supervisors)),
        ("销毁日期", day_text(dlist.executed_at, "en", zone)),
        ("销毁方式", dlist.method or ""),
        ("鉴定意见", dlist.appraisal_report or ""),
    ]


def write(session: Session, store: ObjectStore, dlist: DestructionList, *, fonds: str, zone: ZoneInfo,
          now: datetime | None = None) -> None:
    """Write both files and record their SHA-256 on the list (the caller audits and commits).

    Refused once the list is executed: the register is never written twice.
    """
    if dlist.state == ListState.EXECUTED:
        raise NotAllowedNow(f"销毁清册 #{dlist.id} 已执行，其登记簿不可更改。 / List #{dlist.id} is executed; its "
                            "register cannot be changed.")
    moment = now or datetime.now(timezone.utc)
    dlist.executed_at = dlist.executed_at or moment
    pdf = store.put_bytes(register_key(dlist.id, "pdf"), pdf_bytes(dlist, fonds, zone, moment), "application/pdf")
    table = store.put_bytes(register_key(dlist.id, "csv"), csv_bytes(dlist, fonds, zone), "text/csv")
    dlist.register_pdf_key, dlist.register_pdf_sha256 = pdf.key, pdf.sha256
    dlist.register_csv_key, dlist.register_csv_sha256 = table.key, table.sha256
    session.flush()


def read(store: ObjectStore, dlist: DestructionList, ext: str) -> bytes:
    key, sha256 = ((dlist.register_pdf_key, dlist.register_pdf_sha256) if ext == "pdf"
                   else (dlist.register_csv_key, dlist.register_csv_sha256))
    if key is None or sha256 is None:
        raise NotAllowedNow(f"销毁清册 #{dlist.id} 尚未执行，还没有登记簿；执行完成后即可下载。 / List #{dlist.id} has "
                            "no register until it is executed.")
    data = store.read_bytes(key)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RegisterAltered(f"销毁清册 #{dlist.id} 的登记簿与记录的 SHA-256 不符，可能被改动；请立即联系档案管理员和审计员。"
                              f" / The register of list #{dlist.id} does not match its recorded SHA-256.")
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
    return exports.csv_bytes(first, [*rest, (), HEADER, *rows(dlist)])


def pdf_bytes(dlist: DestructionList, fonds: str, zone: ZoneInfo, moment: datetime) -> bytes:
    out = io.BytesIO()
    writer = ImagePdfWriter(out, title=f"销毁清册 #{dlist.id} {dlist.title}", now=moment)
    sheet = Sheet(REGISTER_DPI)
    sheet.text(0, 0, _("Destruction register"), 7)
    for n, (label, value) in enumerate(cover(dlist, fonds, zone)):
        sheet.text(0, 16 + n * 9, label, 4.5, width=30)
        sheet.text(32, 16 + n * 9, value or "—", 4.5, width=148)
    writer.add_page(sheet.image, dpi=REGISTER_DPI, words=sheet.words)
    pages = _paginate([_wrapped(row) for row in rows(dlist)])
    for number, chunk in enumerate(pages, start=1):
        sheet = Sheet(REGISTER_DPI)
        sheet.text(0, 0, f"销毁清册 #{dlist.id} · 第 {number} / {len(pages)} 页", 4, width=180)
        for (x, width), heading in zip(COLUMNS, HEADER):
            sheet.text(x, ROWS_FROM - ROW, heading, TEXT, width=width - 1)
        sheet.line(ROWS_FROM - 1.5)
        y = ROWS_FROM
        for row in chunk:
            for (x, width), lines in zip(COLUMNS, row):
                for n, line in enumerate(lines):
                    sheet.text(x, y + n * LINE, line, TEXT, width=width - 1)
            y += _height(row)
        sheet.text(0, A4_MM[1] - 33, f"全宗号 {fonds}", 3)
        writer.add_page(sheet.image, dpi=REGISTER_DPI, words=sheet.words)
    writer.close()
    return out.getvalue()


def _wrapped(row: tuple[str, ...]) -> list[list[str]]:
    """Each cell as the lines it takes in its column: nothing of the register is cut off."""
    font = cjk_font(round(TEXT / 25.4 * REGISTER_DPI))
    cells = []
    for (_heading, width), value in zip(COLUMNS, row):
        room, lines, line = (width - 1) / 25.4 * REGISTER_DPI, [], ""
        for char in value:
            if line and font.getlength(line + char) > room:
                lines.append(line)
                line = ""
            line += char
        cells.append([*lines, line] if line else lines)
    return cells


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
    if not code:
        return ""
    return RETENTION_NAMES.get(code, f"{code[1:]}年" if code.startswith("D") else code)


def _name(user: User | None) -> str:
    if user is None:
        return ""
    shown = user.display_name or user.username
    return shown if shown == user.username else f"{shown}（{user.username}）"


