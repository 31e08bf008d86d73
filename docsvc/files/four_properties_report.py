"""The 四性检测 report written out: JSON for machines, CSV for spreadsheets (docsvc.exports: no cell runs as
a formula), PDF for the transfer file (drawn with the CJK font, each text laid under the image so it can
be searched and copied). All three come from the same FourPropertiesReport; times are shown in
DOCSVC_TIMEZONE (Asia/Shanghai unless configured) with the zone named, and the JSON keeps UTC. The CSV's
headings and the PDF are in the language of the moment: the request's, or DOCSVC_LANGUAGE for the command.
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
from docsvc.formats.image_pdf import ImagePdfWriter
from docsvc.formats.sheets import A4_MM, MARGIN, Sheet, cjk_font, wrap_text
from docsvc.i18n import _, lazy_gettext as _l, listing
from docsvc.localtime import to_zone

FORMATS = {"json": "application/json", "csv": "text/csv", "pdf": "application/pdf"}
PDF_DPI = 150
CSV_HEADER = (_l("Property"), _l("Code"), _l("Check"), _l("Result"), _l("Reference code"), _l("Document id"),
              _l("Page"), _l("Account number"), _l("Subject"), _l("Message"))


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
    scope = _("every customer file") if report.accounts is None else listing(report.accounts) or "—"
    return [
        (_("Run at"), local_time(report.started_at, zone)),
        (_("Finished"), local_time(report.finished_at, zone)),
        (_("Scope (account numbers)"), scope),
        (_("Totals"), _("Customer files: %(customers)s, documents: %(documents)s, pages: %(pages)s, "
                        "originals: %(originals)s (%(size)s MB)", customers=report.customers, documents=report.documents,
                        pages=report.pages, originals=report.originals, size=format(report.bytes / 1048576, ".1f"))),
        (_("Fixity evidence"), _("recomputed now") if report.recomputed else _("the last fixity results")),
        (_("Decoded"), _("every page") if report.all_pages else _("first page of each original")),
        (_("Outcome"), {"passed": _("all passed"), "warnings": _("warnings"),
                        "needs_person": _("needs a person")}[report.outcome]),
        (_("Checks"), _("Passed: %(passed)s, warnings: %(warnings)s, needing a person: %(person)s, not "
                        "applicable: %(na)s (not applicable is never counted as passed)", passed=counts[Result.PASS],
                        warnings=counts[Result.WARNING], person=counts[Result.PERSON],
                        na=counts[Result.NOT_APPLICABLE])),
    ]


def _finding_row(check: CheckResult, f: Finding | None) -> list[object]:
    s = check.spec
    base = [PROPERTY_LABELS[s.prop], s.code, str(s.name)]
    if f is None:
        return [*base, RESULT_LABELS[check.result], "", "", "", "", "",
                check.not_applicable or check.note or _("Examined: %(n)s", n=check.examined)]
    return [*base, RESULT_LABELS[f.result], f.reference_code or "", f.document_id or "", f.page_number or "",
            f.customer_account or "", f.subject or "", f.message]


def csv_bytes(report: FourPropertiesReport, zone: ZoneInfo) -> bytes:
    """Heading facts (label, value), a blank line, then one row per check and one per finding."""
    first, *rest = [(_("Four-properties check report (DA/T 70-2018)"), "")] + summary_lines(report, zone)
    rows: list[list[object] | tuple[str, ...]] = [list(r) for r in rest] + [(), tuple(str(h) for h in CSV_HEADER)]
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
        """One row of the table, each cell wrapped in its column (English headings may take two lines)."""
        wrapped = [_wrap(value, TEXT, width - 1) for (_x, width), value in zip(COLUMNS, cells)]
        height = max(len(lines) for lines in wrapped) * LINE
        sheet = self.need(height)
        for (x, width), lines in zip(COLUMNS, wrapped):
            for n, line in enumerate(lines):
                sheet.text(x, self.y + n * LINE, line, TEXT, width=width - 1)
        self.y += height

    def gap(self, mm: float) -> None:
        self.y += mm

    def flush(self) -> None:
        if self.sheet is not None:
            self.sheet.text(0, BOTTOM + 2, _("%(footer)s · page %(page)s", footer=self.footer, page=self.count), 2.6,
                            width=WIDTH)
            self.writer.add_page(self.sheet.image, dpi=PDF_DPI, words=self.sheet.words)
            self.sheet = None


def _wrap(text: str, size: float, width_mm: float) -> list[str]:
    """`text` in lines that fit (an empty text still takes its line)."""
    return wrap_text(text, cjk_font(round(size / 25.4 * PDF_DPI)), width_mm / 25.4 * PDF_DPI) or [""]


def _where(f: Finding) -> str:
    parts = [_("Reference code %(code)s", code=f.reference_code) if f.reference_code else "",
             _("Document #%(id)s", id=f.document_id) if f.document_id is not None else "",
             _("Page %(page)s", page=f.page_number) if f.page_number is not None else "",
             _("Account %(account)s", account=f.customer_account) if f.customer_account else "", f.subject or ""]
    return " · ".join(p for p in parts if p)


def pdf_bytes(report: FourPropertiesReport, zone: ZoneInfo) -> bytes:
    out = io.BytesIO()
    title = _("Four-properties check report")
    writer = ImagePdfWriter(out, title=title, now=report.finished_at or report.started_at)
    pages = _Pages(writer, f"{title} {local_time(report.started_at, zone)}")
    pages.line(title, size=6.5)
    pages.line(_("Authenticity, integrity, usability and security of electronic records (DA/T 70-2018)"), size=4)
    pages.gap(3)
    for label, value in summary_lines(report, zone):
        pages.line(_("%(label)s: %(value)s", label=label, value=value), size=3.4)
    pages.gap(3)
    pages.line(_("By property"), size=4.2)
    by_property = report.counts_by_property()
    pages.row(["", _("Property"), _("Pass / warning / person"), _("Not applicable"), ""])
    for prop in Property:
        c = by_property[prop]
        pages.row(["", PROPERTY_LABELS[prop], f"{c[Result.PASS]} / {c[Result.WARNING]} / {c[Result.PERSON]}",
                   str(c[Result.NOT_APPLICABLE]), ""])
    for prop in Property:
        pages.gap(4)
        pages.line(PROPERTY_LABELS[prop], size=4.6)
        pages.row([_("Code"), _("Check"), _("Result"), _("Examined"), _("Findings")])
        checks = [c for c in report.checks if c.spec.prop == prop]
        for check in checks:
            pages.row([check.spec.code, str(check.spec.name), RESULT_LABELS[check.result], str(check.examined),
                       str(len(check.findings))])
        for check in checks:
            pages.gap(1.5)
            pages.line(_("%(code)s %(name)s: %(result)s", code=check.spec.code, name=check.spec.name,
                         result=RESULT_LABELS[check.result]), size=3.2)
            pages.line(_("What is checked: %(what)s", what=check.spec.what), x=4)
            if check.not_applicable:
                pages.line(_("Why it does not apply: %(reason)s", reason=check.not_applicable), x=4)
            if check.note:
                pages.line(_("Note: %(note)s", note=check.note), x=4)
            for f in check.findings[:SHOWN_FINDINGS]:
                where = _where(f)
                pages.line(f"[{RESULT_LABELS[f.result]}] "
                           + (_("%(where)s: %(finding)s", where=where, finding=f.message) if where else f.message), x=8)
            if len(check.findings) > SHOWN_FINDINGS:
                pages.line(_("… %(n)s more in the CSV and JSON.", n=len(check.findings) - SHOWN_FINDINGS), x=8)
            if check.findings:
                pages.line(_("What to do: %(action)s", action=check.spec.action), x=4)
    pages.flush()
    writer.close()
    return out.getvalue()
