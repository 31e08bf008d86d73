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

Layout: characters are grouped into lines by vertical position, lines run top
to bottom and characters left to right on the page as displayed (its /Rotate
applied). CJK characters are words of their own and are never separated by a
space in the text unless they stand more than WIDE_GAP ems apart (separate
fields of a form); Latin letters and digits form words split at spaces and gaps.
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
# Gaps between neighbours, in ems (the larger neighbour's height).
WORD_GAP = 0.3
WIDE_GAP = 2.0
# A character joins the current line while its vertical centre lies within this
# share of the line's height from the line's centre.
LINE_TOLERANCE = 0.5

_INVISIBLE_MODES = (pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE, pdfium_c.FPDF_TEXTRENDERMODE_CLIP)
# FPDF_PageToDevice answers in whole device units: a device this many times the
# page's size in points keeps positions to a thousandth of a point.
_PRECISION = 1000


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
    x0: float  # points on the displayed page, origin top-left
    y0: float
    x1: float
    y1: float
    wide: bool

    @property
    def centre(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def em(self) -> float:
        return self.y1 - self.y0


def read_text_layer(page: pdfium.PdfPage, text_page: pdfium.PdfTextPage) -> TextLayer | None:
    scan = _covering_image(page)
    # Drawing order of top-level objects, to tell text under the scan from text on it.
    order = _object_orders(page) if scan is not None else {}
    a, b, c, d, e, f = _user_to_display(page)
    chars: list[_Char] = []
    meaningful = junk = 0
    rect = pdfium_c.FS_RECTF()
    for index in range(text_page.count_chars()):
        char = chr(pdfium_c.FPDFText_GetUnicode(text_page, index) or 0xFFFD)
        if char in "\r\n":
            continue
        # pdfium adds spaces of its own where it guesses word gaps; we judge gaps ourselves.
        if char.isspace() and pdfium_c.FPDFText_IsGenerated(text_page, index) == 1:
            continue
        text_object = pdfium_c.FPDFText_GetTextObject(text_page, index)
        if text_object and pdfium_c.FPDFTextObj_GetTextRenderMode(text_object) in _INVISIBLE_MODES:
            continue
        # Text inside a form XObject is not a top-level object: take it as on top.
        if scan is not None and order.get(_address(text_object), len(order)) < scan:
            continue
        if _is_junk(char) or pdfium_c.FPDFText_HasUnicodeMapError(text_page, index) == 1:
            junk += 1
            continue
        if char.isspace():
            chars.append(_Char(" ", 0, 0, 0, 0, False))  # placed after its left neighbour below
            continue
        # The loose box spans the font's ascent to descent and the glyph's advance:
        # even lines, and no gaps inside a word, unlike the glyph's ink.
        if not pdfium_c.FPDFText_GetLooseCharBox(text_page, index, rect):
            continue
        if unicodedata.category(char)[0] in "LN":
            meaningful += 1
        x0, y0, x1, y1 = rect.left, rect.bottom, rect.right, rect.top
        ax, ay = a * x0 + c * y0 + e, b * x0 + d * y0 + f
        bx, by = a * x1 + c * y1 + e, b * x1 + d * y1 + f
        chars.append(_Char(char, min(ax, bx), min(ay, by), max(ax, bx), max(ay, by), _is_wide(char)))
    needed = MIN_CHARS if scan is None else MIN_CHARS_OVER_SCAN
    if meaningful < needed or junk > MAX_JUNK_SHARE * (meaningful + junk):
        return None
    width, height = page.get_size()
    return _lay_out(_place_spaces(chars), width, height)


def _place_spaces(chars: list[_Char]) -> list[_Char]:
    """Give each real space the position just after the character before it
    (pdfium's box for a space is empty), so it sorts into the same line."""
    placed: list[_Char] = []
    for char in chars:
        if char.text == " ":
            if placed and placed[-1].text != " ":
                before = placed[-1]
                placed.append(_Char(" ", before.x1, before.y0, before.x1, before.y1, False))
            continue
        placed.append(char)
    return placed


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
    found = None
    bounds = [ctypes.c_float() for _ in range(4)]
    for order in range(pdfium_c.FPDFPage_CountObjects(page)):
        obj = pdfium_c.FPDFPage_GetObject(page, order)
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_FORM and not _form_holds_image(obj):
            continue
        if kind not in (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM):
            continue
        if not pdfium_c.FPDFPageObj_GetBounds(obj, *bounds):
            continue
        left, bottom, right, top = (v.value for v in bounds)
        if (right - left) * (top - bottom) >= SCAN_AREA_SHARE * width * height:
            found = order
    return found


def _form_holds_image(form: object) -> bool:
    return any(
        pdfium_c.FPDFPageObj_GetType(pdfium_c.FPDFFormObj_GetObject(form, i)) == pdfium_c.FPDF_PAGEOBJ_IMAGE
        for i in range(pdfium_c.FPDFFormObj_CountObjects(form))
    )


def _user_to_display(page: pdfium.PdfPage) -> tuple[float, float, float, float, float, float]:
    """The affine map from PDF user space to points on the displayed page (crop
    box, rotation applied, origin top-left) as (a, b, c, d, e, f):
    X = a*x + c*y + e, Y = b*x + d*y + f."""
    width, height = page.get_size()
    size_x, size_y = round(width * _PRECISION), round(height * _PRECISION)

    def device(x: float, y: float) -> tuple[float, float]:
        dx, dy = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(page, 0, 0, size_x, size_y, 0, x, y, dx, dy)
        return dx.value / _PRECISION, dy.value / _PRECISION

    step = 1000.0
    e, f = device(0, 0)
    ax, ay = device(step, 0)
    cx, cy = device(0, step)
    return (ax - e) / step, (ay - f) / step, (cx - e) / step, (cy - f) / step, e, f


def _is_junk(char: str) -> bool:
    return char == "\ufffd" or unicodedata.category(char) in ("Co", "Cn", "Cs", "Cc")


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _lay_out(chars: list[_Char], width: float, height: float) -> TextLayer:
    lines: list[list[_Char]] = []
    top = bottom = 0.0
    for char in sorted(chars, key=lambda c: c.centre):
        if lines and abs(char.centre - (top + bottom) / 2) <= LINE_TOLERANCE * (bottom - top):
            lines[-1].append(char)
            top, bottom = min(top, char.y0), max(bottom, char.y1)
            continue
        lines.append([char])
        top, bottom = char.y0, char.y1
    text_lines, words = [], []
    for line in lines:
        line.sort(key=lambda c: c.x0)
        line_text, line_words = _lay_out_line(line)
        if line_words:
            text_lines.append(line_text)
            words.extend(
                TextWord(text, (_unit(x0 / width), _unit(y0 / height), _unit(x1 / width), _unit(y1 / height)))
                for text, (x0, y0, x1, y1) in line_words
            )
    return TextLayer(text="\n".join(text_lines), words=words)


def _lay_out_line(line: list[_Char]) -> tuple[str, list[tuple[str, tuple[float, float, float, float]]]]:
    parts: list[str] = []
    words: list[tuple[str, tuple[float, float, float, float]]] = []
    current: list[_Char] = []
    previous: _Char | None = None
    spaced = False
    for char in line:
        if char.text == " ":
            spaced = True
            continue
        if previous is not None:
            gap = (char.x0 - previous.x1) / max(char.em, previous.em, 1e-6)
            if previous.wide and char.wide:
                separate = gap > WIDE_GAP
            else:
                separate = spaced or gap > WORD_GAP
            if separate:
                parts.append(" ")
            if separate or previous.wide or char.wide:
                words.append(_word(current))
                current = []
        parts.append(char.text)
        current.append(char)
        previous, spaced = char, False
    if current:
        words.append(_word(current))
    return "".join(parts), words


def _word(chars: list[_Char]) -> tuple[str, tuple[float, float, float, float]]:
    if len(chars) == 1:
        only = chars[0]
        return only.text, (only.x0, only.y0, only.x1, only.y1)
    return "".join(c.text for c in chars), (
        chars[0].x0,
        min(c.y0 for c in chars),
        chars[-1].x1,
        max(c.y1 for c in chars),
    )


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))
