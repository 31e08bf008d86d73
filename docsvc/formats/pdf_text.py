"""A PDF page's own text layer, when it is real enough to replace OCR.

pdfium reads the characters (fast, and the boxes agree with pdfium's own
rendering of the page); the rules here decide whether the text counts and lay
it out in reading order.

A text layer counts when it has at least MIN_CHARS letters or digits that a
reader can actually see. Not seen, and so not counted:
- text drawn invisibly (render mode 3 or 7): the hidden OCR layer a scanner
  lays over its image, of unknown quality; we OCR the image ourselves;
- text painted over by a later image covering most of the page (the other way
  scanners hide their OCR).
On a page that is mostly one scanned image, visible text must reach
MIN_CHARS_OVER_SCAN, so that a stamp such as "扫描日期 2023-05-01 操作员 王建国"
laid over the scan does not stop the scan itself from being OCRed.
A layer where more than MAX_JUNK_SHARE of the characters have no proper
Unicode value (fonts without a ToUnicode map) is garbage and does not count.
"""

from __future__ import annotations

import ctypes
import unicodedata
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

MIN_CHARS = 10
MIN_CHARS_OVER_SCAN = 100
MAX_JUNK_SHARE = 0.25
SCAN_AREA_SHARE = 0.5
# Gaps between characters, in ems (font size) of the larger neighbour.
WORD_GAP = 0.3  # Latin letters and digits further apart than this are separate words
WIDE_GAP = 2.0  # two CJK characters further apart than this are separate fields
# Lines: a character belongs to the current line while its vertical centre
# lies within this share of the line's height from the line's centre.
LINE_TOLERANCE = 0.5

_INVISIBLE_MODES = (pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE, pdfium_c.FPDF_TEXTRENDERMODE_CLIP)
_DEVICE = 1_000_000  # FPDF_PageToDevice answers in integers; this keeps 6 digits of a fraction


@dataclass(frozen=True)
class TextWord:
    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the page, origin top-left


@dataclass(frozen=True)
class TextLayer:
    text: str
    words: list[TextWord]


@dataclass
class _Char:
    text: str
    x0: float  # fractions of the page, origin top-left
    y0: float
    x1: float
    y1: float
    em: float  # font size as a fraction of the page width
    wide: bool
    space: bool

    @property
    def centre(self) -> float:
        return (self.y0 + self.y1) / 2


def read_text_layer(page: pdfium.PdfPage, text_page: pdfium.PdfTextPage) -> TextLayer | None:
    scan = _covering_image(page)
    # Drawing order of top-level objects, to tell text under the scan from text on it.
    order = _object_orders(page) if scan is not None else {}
    to_page = _page_to_fractions(page)
    width, height = page.get_size()
    chars: list[_Char] = []
    meaningful = junk = 0
    for index in range(text_page.count_chars()):
        if pdfium_c.FPDFText_IsGenerated(text_page, index) == 1:
            continue  # pdfium's own guess at spaces and line breaks; we lay out ourselves
        text_object = pdfium_c.FPDFText_GetTextObject(text_page, index)
        if text_object and pdfium_c.FPDFTextObj_GetTextRenderMode(text_object) in _INVISIBLE_MODES:
            continue
        # Text inside a form XObject is not a top-level object: take it as on top.
        if scan is not None and order.get(_address(text_object), len(order)) < scan:
            continue
        char = chr(pdfium_c.FPDFText_GetUnicode(text_page, index) or 0xFFFD)
        if char in "\r\n":
            continue
        if pdfium_c.FPDFText_HasUnicodeMapError(text_page, index) == 1 or _is_junk(char):
            junk += 1
            continue
        left, bottom, right, top = text_page.get_charbox(index, loose=True)
        x0, y0, x1, y1 = _box(to_page, left, bottom, right, top)
        size = pdfium_c.FPDFText_GetFontSize(text_page, index) or (top - bottom)
        chars.append(_Char(char, x0, y0, x1, y1, size / width, _is_wide(char), char.isspace()))
        if unicodedata.category(char)[0] in "LN":
            meaningful += 1
    needed = MIN_CHARS if scan is None else MIN_CHARS_OVER_SCAN
    if meaningful < needed or junk > MAX_JUNK_SHARE * (meaningful + junk):
        return None
    return _lay_out(chars)


def _object_orders(page: pdfium.PdfPage) -> dict[int, int]:
    return {
        _address(pdfium_c.FPDFPage_GetObject(page, order)): order
        for order in range(pdfium_c.FPDFPage_CountObjects(page))
    }


def _address(handle: object) -> int:
    return ctypes.cast(handle, ctypes.c_void_p).value or 0


def _covering_image(page: pdfium.PdfPage) -> int | None:
    """The drawing order of the last top-level image (or form holding images)
    that covers at least SCAN_AREA_SHARE of the page; None if there is none."""
    width, height = page.get_size()
    page_area = width * height
    found = None
    for order in range(pdfium_c.FPDFPage_CountObjects(page)):
        obj = pdfium_c.FPDFPage_GetObject(page, order)
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_FORM and not _form_holds_image(obj):
            continue
        if kind not in (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM):
            continue
        left, bottom, right, top = (ctypes.c_float() for _ in range(4))
        if not pdfium_c.FPDFPageObj_GetBounds(obj, left, bottom, right, top):
            continue
        area = (right.value - left.value) * (top.value - bottom.value)
        if area >= SCAN_AREA_SHARE * page_area:
            found = order
    return found


def _form_holds_image(form: object) -> bool:
    return any(
        pdfium_c.FPDFPageObj_GetType(pdfium_c.FPDFFormObj_GetObject(form, i)) == pdfium_c.FPDF_PAGEOBJ_IMAGE
        for i in range(pdfium_c.FPDFFormObj_CountObjects(form))
    )


def _page_to_fractions(page: pdfium.PdfPage) -> tuple[float, float, float, float, float, float]:
    """The affine map from PDF user space to fractions of the displayed page
    (crop box, rotation applied, origin top-left), as (a, b, c, d, e, f) with
    fx = a*x + c*y + e and fy = b*x + d*y + f."""

    def device(x: float, y: float) -> tuple[float, float]:
        dx, dy = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(page, 0, 0, _DEVICE, _DEVICE, 0, x, y, dx, dy)
        return dx.value / _DEVICE, dy.value / _DEVICE

    step = 1000.0
    e, f = device(0, 0)
    ax, ay = device(step, 0)
    cx, cy = device(0, step)
    return (ax - e) / step, (ay - f) / step, (cx - e) / step, (cy - f) / step, e, f


def _box(m: tuple[float, ...], left: float, bottom: float, right: float, top: float) -> tuple[float, ...]:
    a, b, c, d, e, f = m
    xs, ys = [], []
    for x, y in ((left, bottom), (right, top)):
        xs.append(a * x + c * y + e)
        ys.append(b * x + d * y + f)
    clamp = lambda v: min(1.0, max(0.0, v))  # noqa: E731
    return clamp(min(xs)), clamp(min(ys)), clamp(max(xs)), clamp(max(ys))


def _is_junk(char: str) -> bool:
    return char == "\ufffd" or unicodedata.category(char) in ("Co", "Cn", "Cs", "Cc")


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _lay_out(chars: list[_Char]) -> TextLayer:
    lines: list[list[_Char]] = []
    for char in sorted(chars, key=lambda c: c.centre):
        if lines:
            line = lines[-1]
            top, bottom = min(c.y0 for c in line[-3:]), max(c.y1 for c in line[-3:])
            if abs(char.centre - (top + bottom) / 2) <= LINE_TOLERANCE * (bottom - top):
                line.append(char)
                continue
        lines.append([char])
    text_lines, words = [], []
    for line in lines:
        line.sort(key=lambda c: c.x0)
        line_text, line_words = _lay_out_line(line)
        if line_words:
            text_lines.append(line_text)
            words.extend(line_words)
    return TextLayer(text="\n".join(text_lines), words=words)


def _lay_out_line(line: list[_Char]) -> tuple[str, list[TextWord]]:
    """Join a line's characters: CJK characters stand as words of their own and
    run together in the text; Latin letters and digits form words split at
    spaces and gaps."""
    text = ""
    words: list[TextWord] = []
    current: list[_Char] = []
    previous: _Char | None = None
    spaced = False
    for char in line:
        if char.space:
            spaced = True
            continue
        if previous is not None:
            gap = (char.x0 - previous.x1) / max(char.em, previous.em)
            if previous.wide and char.wide:
                separate = gap > WIDE_GAP
            else:
                separate = spaced or gap > WORD_GAP
            if separate:
                text += " "
            if separate or previous.wide or char.wide:
                words.append(_word(current))
                current = []
        text += char.text
        current.append(char)
        previous, spaced = char, False
    if current:
        words.append(_word(current))
    return text, words


def _word(chars: list[_Char]) -> TextWord:
    return TextWord(
        text="".join(c.text for c in chars),
        box=(min(c.x0 for c in chars), min(c.y0 for c in chars), max(c.x1 for c in chars), max(c.y1 for c in chars)),
    )
