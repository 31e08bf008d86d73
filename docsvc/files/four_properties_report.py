"""The 四性检测 report written out: JSON for machines, CSV for spreadsheets (docsvc.exports: no cell runs as
a formula), PDF for the transfer file (drawn with the CJK font, each text laid under the image so it can
be searched and copied). All three come from the same FourPropertiesReport; times are shown in
DOCSVC_TIMEZONE (Asia/Shanghai unless configured) with the zone named, and the JSON keeps UTC.
"""
from __future__ import annotations

import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from docsvc import exports
from docsvc.files.four_properties import (
    PROPERTY_LABELS, RESULT_LABELS, SHOWN_FINDINGS, CheckResult, Finding, FourPropertiesReport, Property, Result,
)
from docsvc.formats.coversheets import A4_MM
from docsvc.formats.image_pdf import ImagePdfWriter
from docsvc.formats.sheets import MARGIN, Sheet
from docsvc.localtime import to_zone
from docsvc.i18n import _

FORMATS = {"json": "application/json", "csv": "text/csv", "pdf": "application/pdf"}
PDF_DPI = 150
TITLE = "电子档案四性检测报告 / Four-properties check report (DA/T 70-2018)"
CSV_HEADER = ("属性 property", "代码 code", "检测项目 check", "结果 result", "档号 reference code", "文档 document id",
              "页 page", "户号 account", "对象 subject", "说明 message")


def local_time(moment: datetime | None, zone: ZoneInfo) -> str:
    return f"{to_zone(moment, zone):%Y-%m-%d %H:%M:%S} ({zone.key})" if moment else "—"


def filename(report: FourPropertiesReport, fmt: str, zone: ZoneInfo) -> str:
    return f"four-properties-{to_zone(report.started_at, zone):%Y%m%d-%H%M%S}.{fmt}"


def render(report: FourPropertiesReport, fmt: str, zone: ZoneInfo) -> bytes:
    """JSON (times in UTC) or, in DOCSVC_TIMEZONE's local time with the zone named, CSV or PDF."""
    if fmt == "json":
        return json_bytes(report)
    if fmt == "csv":
        return csv_bytes(report, zone)
    return pdf_bytes(report, zone)


def json_bytes(report: FourPropertiesReport) -> bytes:
    return json.dumps(report.as_json(), ensure_ascii=False, indent=1).encode("utf-8")


def summary_lines(report: FourPropertiesReport, zone: ZoneInfo) -> list[tuple[str, str]]:
    """The report's heading facts, label and value, for the CSV's top, the PDF's first page and the web page."""
    counts = report.counts()
    scope = _("every customer file") if report.accounts is None else "、".join(report.accounts) or "—"
    return [
        ("检测时间 Run at", local_time(report.started_at, zone)),
        ("完成时间 Finished", local_time(report.finished_at, zone)),
        ("检测范围 Scope (户号)", scope),
        ("数量 Totals", f"客户档案 {report.customers} 卷，文档 {report.documents} 件，页 {report.pages}，原件 {report.originals} 个"
                        f"（{report.bytes / 1048576:.1f} MB）"),
        ("固定性依据 Fixity evidence", _("recomputed now") if report.recomputed
         else _("the last fixity results")),
        ("解码 Decoded", _("every page") if report.all_pages else _("first page of each original")),
        ("结论 Outcome", {"passed": _("all passed"), "warnings": _("warnings"),
                          "needs_person": _("needs a person")}[report.outcome]),
        ("检测项统计 Checks", f"通过 {counts[Result.PASS]}，警告 {counts[Result.WARNING]}，需人工处理 {counts[Result.PERSON]}，"
                             f"不适用 {counts[Result.NOT_APPLICABLE]}（不适用项不计为通过）"),
    ]


def _finding_row(check: CheckResult, f: Finding | None) -> list[object]:
    s = check.spec
    base = [PROPERTY_LABELS[s.prop], s.code, f"{s.name_zh} / {s.name_en}"]
    if f is None:
        return [*base, RESULT_LABELS[check.result], "", "", "", "", "",
                check.not_applicable or check.note or f"已检 {check.examined} 项 / {check.examined} examined"]
    return [*base, RESULT_LABELS[f.result], f.reference_code or "", f.document_id or "", f.page_number or "",
            f.customer_account or "", f.subject or "", f.message]


def csv_bytes(report: FourPropertiesReport, zone: ZoneInfo) -> bytes:
    """Heading facts (label, value), a blank line, then one row per check and one per finding."""
    first, *rest = [(TITLE, "")] + summary_lines(report, zone)
    rows: list[list[object] | tuple[str, ...]] = [list(r) for r in rest] + [(), CSV_HEADER]
    for check in report.checks:
        rows.append(_finding_row(check, None))
        rows += [_finding_row(check, f) for f in check.findings]
    return exports.csv_bytes(first, rows)


# --- PDF ------------------------------------------------------------------------------------------

TEXT, LINE = 3.0, 4.6  # text height and line pitch (mm)
BOTTOM = A4_MM[1] - 2 * MARGIN - 8
WIDTH = A4_MM[0] - 2 * MARGIN
# (x, width) of the check table's columns: code, check, result, examined, findings
COLUMNS = ((0, 14), (14, 96), (110, 38), (148, 16), (164, 16))


class _Pages:
    """Sheets filled line by line; a new sheet when the current one is full."""

    def __init__(self, writer: ImagePdfWriter, footer: str) -> None:
        self.writer, self.footer = writer, footer
        self.sheet: Sheet | None = None
        self.y = 0.0
        self.count = 0

    def need(self, height: float) -> Sheet:
        if self.sheet is None or self.y + height > BOTTOM:
            self.flush()
            self.sheet, self.y = Sheet(PDF_DPI), 0.0
            self.count += 1
        return self.sheet

    def line(self, text: str, *, size: float = TEXT, x: float = 0.0) -> None:
        pitch = size * LINE / TEXT
        for part in _wrap(text, size, WIDTH - x):
            self.need(pitch).text(x, self.y, part, size, width=WIDTH - x)
            self.y += pitch

    def row(self, cells: list[str]) -> None:
        sheet = self.need(LINE)
        for (x, width), value in zip(COLUMNS, cells):
            sheet.text(x, self.y, value, TEXT, width=width - 1)
        self.y += LINE

    def gap(self, mm: float) -> None:
        self.y += mm

    def flush(self) -> None:
        if self.sheet is not None:
            self.sheet.text(0, BOTTOM + 2, f"{self.footer} · 第 {self.count} 页", 2.6, width=WIDTH)
            self.writer.add_page(self.sheet.image, dpi=PDF_DPI, words=self.sheet.words)
            self.sheet = None


def _wrap(text: str, size: float, width_mm: float) -> list[str]:
    """`text` cut into lines that fit: by characters (Chinese has no spaces to break at)."""
    from docsvc.formats.sheets import cjk_font

    font = cjk_font(round(size / 25.4 * PDF_DPI))
    room = width_mm / 25.4 * PDF_DPI
    lines, line = [], ""
    for char in text:
        if line and font.getlength(line + char) > room:
            lines.append(line)
            line = ""
        line += char
    return [*lines, line] if line else [""]


def _where(f: Finding) -> str:
    parts = [f"档号 {f.reference_code}" if f.reference_code else "",
             f"文档 #{f.document_id}" if f.document_id is not None else "",
             f"第 {f.page_number} 页" if f.page_number is not None else "",
             f"户号 {f.customer_account}" if f.customer_account else "", f.subject or ""]
    return " · ".join(p for p in parts if p)


def pdf_bytes(report: FourPropertiesReport, zone: ZoneInfo) -> bytes:
    out = io.BytesIO()
    writer = ImagePdfWriter(out, title="电子档案四性检测报告", now=report.finished_at or report.started_at)
    pages = _Pages(writer, f"四性检测报告 {local_time(report.started_at, zone)}")
    pages.line("电子档案四性检测报告", size=6.5)
    pages.line("Four-properties check report (DA/T 70-2018)", size=4)
    pages.gap(3)
    for label, value in summary_lines(report, zone):
        pages.line(f"{label}：{value}", size=3.4)
    pages.gap(3)
    pages.line(_("By property"), size=4.2)
    by_property = report.counts_by_property()
    pages.row(["", "属性 Property", "通过/警告/人工", "不适用", ""])
    for prop in Property:
        c = by_property[prop]
        pages.row(["", PROPERTY_LABELS[prop], f"{c[Result.PASS]} / {c[Result.WARNING]} / {c[Result.PERSON]}",
                   str(c[Result.NOT_APPLICABLE]), ""])
    for prop in Property:
        pages.gap(4)
        pages.line(PROPERTY_LABELS[prop], size=4.6)
        pages.row(["代码", "检测项目 Check", "结果 Result", "已检", "问题"])
        checks = [c for c in report.checks if c.spec.prop == prop]
        for check in checks:
            pages.row([check.spec.code, check.spec.name_zh, RESULT_LABELS[check.result], str(check.examined),
                       str(len(check.findings))])
        for check in checks:
            pages.gap(1.5)
            pages.line(f"{check.spec.code} {check.spec.name_zh} / {check.spec.name_en}：{RESULT_LABELS[check.result]}",
                       size=3.2)
            pages.line(f"检测内容：{check.spec.what}", x=4)
            if check.not_applicable:
                pages.line(f"不适用原因：{check.not_applicable}", x=4)
            if check.note:
                pages.line(f"说明：{check.note}", x=4)
            for f in check.findings[:SHOWN_FINDINGS]:
                pages.line(f"[{RESULT_LABELS[f.result]}] {_where(f)}：{f.message}", x=8)
            if len(check.findings) > SHOWN_FINDINGS:
                pages.line(f"… 另有 {len(check.findings) - SHOWN_FINDINGS} 条，见 CSV / JSON。 / "
                           f"{len(check.findings) - SHOWN_FINDINGS} more in the CSV and JSON.", x=8)
            if check.findings:
                pages.line(f"处理办法：{check.spec.action}", x=4)
    pages.flush()
    writer.close()
    return out.getvalue()
