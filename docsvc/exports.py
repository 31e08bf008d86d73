"""Every CSV and XLSX the service writes goes through here: a cell whose text a spreadsheet would run as
a formula (a customer named "=HYPERLINK(…)", a loan purpose "+cmd|…") is written as plain text.

Text starting with = + - @ or a tab / carriage return gets a leading apostrophe, the mark spreadsheets
themselves use for "this is text" (OWASP's advice for CSV injection); in XLSX the cells are also typed
as strings, so nothing is ever stored as a formula. Numbers stay numbers.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """`value` as a spreadsheet may show it without running it."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def safe_row(values: Iterable[object]) -> list[object]:
    return [safe_cell(v) for v in values]


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """A CSV with a BOM, so Excel reads it as UTF-8."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(safe_row(header))
    writer.writerows(safe_row(r) for r in rows)
    return buf.getvalue().encode("utf-8-sig")


def csv_stream(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterable[str]:
    """The same CSV line by line (no BOM), for long exports streamed as they are read."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(safe_row(header))
    for row in rows:
        writer.writerow(safe_row(row))
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def xlsx_bytes(sheet_name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """A one-sheet workbook whose text cells are typed as strings (never formulas)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)

    def cells(values: Sequence[object]) -> list[object]:
        out = []
        for value in safe_row(values):
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
            out.append(cell)
        return out

    sheet.append(cells(header))
    for row in rows:
        sheet.append(cells(row))
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
