"""Separator sheets in a scanned stack, as images: QR cover sheets printed here, Kodak patch T sheets,
blank pages. Pure pixels and codes, no database: filing what a cover says is docsvc.files.coversheets.

A cover sheet (one A4 page per document) carries a QR code with 户号 and document type, the same in
large print, and a thick black band at top and bottom. The split job looks at each page on a
downscaled image: a readable QR starts a document for that customer and type; bands without a
readable QR are a damaged cover, whose pages go to the inbox with a note rather than stopping the
batch. Separator pages never become document pages; they are recorded on the batch file.
"""
from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import segno
import zxingcpp
from PIL import Image, ImageDraw

from docsvc import formats
from docsvc.formats.image_pdf import ImagePdfWriter, Word
from docsvc.formats.sheets import A4_MM, cjk_font, fit_text, wrap_text
from docsvc.i18n import _, stored

PAYLOAD_PREFIX = "DOCSVC:COVER:1:"
SHEET_DPI = 150
DETECT_DPI = 100  # enough for the QR (about 5 px a module) and fast


class Kind:
    CONTENT = "content"
    COVER = "cover"
    DAMAGED_COVER = "damaged_cover"
    PATCH_T = "patch_t"
    BLANK = "blank"


@dataclass(frozen=True)
class PageKind:
    index: int
    kind: str
    account: str | None = None
    doc_type: str | None = None

    @property
    def separator(self) -> bool:
        return self.kind != Kind.CONTENT


@dataclass
class Segment:
    """The pages of one document in the stack, and what its separator said about it."""
    source_indices: list[int]
    account: str | None = None
    doc_type: str | None = None
    note: str | None = None  # a stored text (docsvc.i18n.stored): the document's inbox note
    separator: int | None = None  # source index of the sheet that started it


@dataclass
class Plan:
    segments: list[Segment]
    separators: list[PageKind] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def split(self) -> bool:
        return bool(self.separators)

    def record(self) -> str:
        """What is kept on the batch file: every separator page and any problem with it."""
        return json.dumps({"separators": [asdict(s) for s in self.separators], "notes": self.notes},
                          ensure_ascii=False)


# ---------------------------------------------------------------- printing

def payload(account: str, doc_type: str) -> str:
    return f"{PAYLOAD_PREFIX}{account}:{doc_type}"


def parse_payload(text: str) -> tuple[str, str] | None:
    if not text.startswith(PAYLOAD_PREFIX):
        return None
    parts = text[len(PAYLOAD_PREFIX):].split(":")
    return (parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


def _mm(mm: float, dpi: int = SHEET_DPI) -> int:
    return round(mm / 25.4 * dpi)


def cover_page(account: str, doc_type: str, customer_name: str = "", type_name: str = "",
               dpi: int = SHEET_DPI) -> tuple[Image.Image, list[Word]]:
    """One cover sheet as a greyscale A4 image, its labels in the current language, and where each text
    went (the PDF's text layer)."""
    w, h = _mm(A4_MM[0], dpi), _mm(A4_MM[1], dpi)
    page = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(page)
    words: list[Word] = []

    def text(at: tuple[int, int], value: str, mm: float) -> None:
        font = cjk_font(_mm(mm, dpi))
        value = fit_text(value, font, w - 2 * margin)
        draw.text(at, value, font=font, fill=0)
        words.append(Word(value, draw.textbbox(at, value, font=font)))

    margin, band = _mm(15, dpi), _mm(10, dpi)
    draw.rectangle([margin, margin, w - margin, margin + band], fill=0)
    draw.rectangle([margin, h - margin - band, w - margin, h - margin], fill=0)
    y = margin + band + _mm(12, dpi)
    text((margin, y), _("Cover sheet"), 9)
    y += _mm(16, dpi)
    qr = segno.make(payload(account, doc_type), error="m", micro=False)
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=max(1, _mm(60, dpi) // qr.symbol_size(border=4)[0]), border=4)
    qr_img = Image.open(buf).convert("L")
    page.paste(qr_img, (w - margin - qr_img.width, y))
    text((margin, y), _("Account No."), 7)
    text((margin, y + _mm(10, dpi)), account, 14)
    y = max(y + _mm(32, dpi), y + qr_img.height) + _mm(6, dpi)
    text((margin, y), _("Type %(code)s", code=doc_type), 14)
    y += _mm(20, dpi)
    if type_name:
        text((margin, y), type_name, 9)
        y += _mm(14, dpi)
    if customer_name:
        text((margin, y), _("Customer %(name)s", name=customer_name), 8)
        y += _mm(14, dpi)
    note = _("Place before the first page of the document when scanning; this page is not filed.")
    for n, line in enumerate(wrap_text(note, cjk_font(_mm(4.5, dpi)), w - 2 * margin)):
        text((margin, h - margin - band - _mm(22, dpi) + n * _mm(8, dpi)), line, 4.5)
    page.info["dpi"] = (dpi, dpi)
    return page, words


def cover_image(account: str, doc_type: str, customer_name: str = "", type_name: str = "",
                dpi: int = SHEET_DPI) -> Image.Image:
    """One cover sheet as a greyscale A4 image."""
    return cover_page(account, doc_type, customer_name, type_name, dpi)[0]


def cover_sheets_pdf(sheets: Iterable[tuple[str, str, str, str]]) -> bytes:
    """A printable PDF, one A4 page per (account, type code, customer name, type name), in the current
    language, its texts laid under the image so the PDF can be searched."""
    buf = io.BytesIO()
    writer = ImagePdfWriter(buf, title=_("Cover sheets"))
    for sheet in sheets:
        image, words = cover_page(*sheet)
        writer.add_page(image, dpi=SHEET_DPI, words=words)
    if writer.page_count == 0:
        raise ValueError("no cover sheets requested")
    writer.close()
    return buf.getvalue()


def patch_t_image(dpi: int = SHEET_DPI) -> Image.Image:
    """A Kodak patch T sheet (bars narrow, wide, narrow, wide; 2.03 / 5.08 mm, narrow spaces)."""
    w, h = _mm(A4_MM[0], dpi), _mm(A4_MM[1], dpi)
    page = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(page)
    x = _mm(60, dpi)
    for bar in ("N", "W", "N", "W"):
        width = _mm(5.08 if bar == "W" else 2.03, dpi)
        draw.rectangle([x, _mm(20, dpi), x + width - 1, _mm(120, dpi)], fill=0)
        x += width + _mm(2.03, dpi)
    page.info["dpi"] = (dpi, dpi)
    return page


# ---------------------------------------------------------------- detecting

def _small(image: Image.Image) -> np.ndarray:
    """Greyscale pixels at about DETECT_DPI. Every n-th pixel, not an average: enough for the QR and
    the bands, and a fraction of the cost on a bitonal page."""
    dpi = image.info.get("dpi", (formats.DEFAULT_DPI,))[0] or formats.DEFAULT_DPI
    step = max(1, int(float(dpi) // DETECT_DPI))
    if step > 1:
        image = image.resize((image.width // step, image.height // step), Image.Resampling.NEAREST)
    return np.asarray(image.convert("L"))


def classify(image: Image.Image, index: int, separators: Iterable[str]) -> PageKind:
    kinds = set(separators)
    pixels = _small(image)
    dark = pixels < 128
    if Kind.BLANK in kinds and _blank(pixels):
        return PageKind(index, Kind.BLANK)
    if Kind.COVER in kinds and _has_bands(dark):
        # Bands but no code at low resolution: look once more at full resolution before calling it damaged.
        found = _read_cover(pixels) or _read_cover(np.asarray(image.convert("L")))
        if found is not None:
            return PageKind(index, Kind.COVER, *found)
        return PageKind(index, Kind.DAMAGED_COVER)
    if Kind.PATCH_T in kinds and _has_patch_t(dark):
        return PageKind(index, Kind.PATCH_T)
    if Kind.COVER in kinds and dark.mean() < 0.2:
        # A cover whose bands were lost (trimmed, faded) is still recognised by its QR.
        found = _read_cover(pixels)
        if found is not None:
            return PageKind(index, Kind.COVER, *found)
    return PageKind(index, Kind.CONTENT)


def _read_cover(pixels: np.ndarray) -> tuple[str, str] | None:
    for barcode in zxingcpp.read_barcodes(pixels, formats=zxingcpp.BarcodeFormat.QRCode):
        parsed = parse_payload(barcode.text)
        if parsed is not None:
            return parsed
    return None


def _has_bands(dark: np.ndarray) -> bool:
    """Thick black bands near both ends (either axis, so a sideways or upside-down sheet counts)."""
    for grid in (dark, dark.T):
        rows = grid.mean(axis=1) > 0.7
        n = len(rows)
        edge, need = max(1, int(n * 0.15)), max(2, int(n * 0.02))
        if rows[:edge].sum() >= need and rows[n - edge:].sum() >= need:
            return True
    return False


def _blank(pixels: np.ndarray) -> bool:
    h, w = pixels.shape
    inner = pixels[h // 20: h - h // 20, w // 20: w - w // 20]  # scanner edges and shadows aside
    return float((inner < 160).mean()) < 0.003


# Patch T read in the feed direction is N W N W; a sheet fed upside down reads W N W N.
_PATCH_T = ("NWNW", "WNWN")


def _has_patch_t(dark: np.ndarray) -> bool:
    for grid in (dark, dark.T):
        # Patch bars are at least 50 mm long: without such long dark columns there is nothing to read.
        if not (grid.mean(axis=0) > 0.12).any():
            continue
        px_per_mm = grid.shape[1] / A4_MM[0] if grid is dark else grid.shape[1] / A4_MM[1]
        hits = 0
        for row in grid[:: max(1, grid.shape[0] // 200)]:
            if _row_has_patch(row, px_per_mm):
                hits += 1
                if hits >= 10:
                    return True
    return False


def _row_has_patch(row: np.ndarray, px_per_mm: float) -> bool:
    edges = np.flatnonzero(np.diff(row.astype(np.int8)))
    if len(edges) < 8:
        return False
    runs = np.diff(edges)  # alternating bar / space lengths (parity depends on the row start)
    start = 0 if row[edges[0] + 1] else 1
    bars = runs[start::2]
    spaces = runs[start + 1::2]
    for i in range(len(bars) - 3):
        widths = bars[i:i + 4] / px_per_mm
        gaps = spaces[i:i + 3] / px_per_mm if i + 3 <= len(spaces) else None
        if gaps is None or len(gaps) < 3 or not all(1.0 <= g <= 3.2 for g in gaps):
            continue
        code = "".join("N" if 1.0 <= b <= 3.2 else "W" if 4.0 <= b <= 6.2 else "?" for b in widths)
        if code in _PATCH_T:
            return True
    return False


def scan(path: Path, media_type: str, page_count: int, separators: Iterable[str]) -> list[PageKind]:
    kinds = tuple(separators)
    pages = formats.render_pages(path, media_type, dpi=DETECT_DPI)
    return [classify(image, i, kinds) for i, image in zip(range(page_count), pages)]


def plan(kinds: list[PageKind]) -> Plan:
    """Cut the stack at its separators. Pages before the first separator form a document of their own."""
    separators = [k for k in kinds if k.separator]
    if not separators:
        return Plan([Segment([k.index for k in kinds])])
    result = Plan(segments=[], separators=separators)
    current = Segment([])
    for k in kinds:
        if not k.separator:
            current.source_indices.append(k.index)
            continue
        _close(result, current)
        current = Segment([], separator=k.index)
        if k.kind == Kind.COVER:
            current.account, current.doc_type = k.account, k.doc_type
        elif k.kind == Kind.DAMAGED_COVER:
            current.note = stored("Page %(page)s is a cover sheet whose QR code could not be read (torn or soiled): "
                                  "check these pages and file them by hand.", page=k.index + 1)
    _close(result, current)
    return result


def _close(result: Plan, segment: Segment) -> None:
    if segment.source_indices:
        result.segments.append(segment)
    elif segment.separator is not None:
        result.notes.append(stored("The separator on page %(page)s is followed by no pages.",
                                   page=segment.separator + 1))
