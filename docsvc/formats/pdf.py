"""PDF pages through pdfium: count, render, read the text layer.

pdfium loads a document lazily from its file (cross-reference table and page
tree, not the pages), so counting the pages of a 5,000-page PDF costs
milliseconds. Finding page n in a fresh document, though, walks the page tree
up to n (60 ms for page 5,000 of a flat tree), so the last few documents stay
open between calls: the page jobs of one upload then find their page at once.
Only files up to KEEP_OPEN_BYTES stay open, because pdfium keeps what it has
read of a document in memory while it is open.

pdfium is not thread-safe, not even across different documents: two threads
inside it at once can crash the process. Every pdfium call in docsvc must go
through this module, which holds one process-wide lock while it works and
closes every pdfium object before letting go (a pdfium object freed later by
the garbage collector would call into pdfium without the lock).
"""

from __future__ import annotations

import atexit
import ctypes
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from docsvc.formats.pdf_text import TextLayer, read_text_layer
from docsvc.formats.problems import ENCRYPTED, EncryptedFile, TooLarge, damaged
from docsvc.i18n import stored

POINTS_PER_INCH = 72
# Colour is looked for at this resolution: a red seal or header is still tens
# of pixels across, and a text page drawn this small costs a few ms.
PROBE_DPI = 50
# Channel spread (0-255) below which a pixel counts as grey: anti-aliasing
# and JPEG leave a little colour fringe on black text.
GREY_TOLERANCE = 24

KEEP_OPEN_DOCUMENTS = 2
KEEP_OPEN_BYTES = 64 * 1024 * 1024

_lock = threading.Lock()
# (path, inode, size, mtime) -> open document; a changed file gets a new key.
_open: OrderedDict[tuple[str, int, int, int], pdfium.PdfDocument] = OrderedDict()


@contextmanager
def _document(path: Path) -> Iterator[pdfium.PdfDocument]:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _lock:
        document = _open.pop(key, None)
        if document is None:
            document = _load(path)
        try:
            yield document
        finally:
            if stat.st_size <= KEEP_OPEN_BYTES:
                _open[key] = document
                while len(_open) > KEEP_OPEN_DOCUMENTS:
                    _open.popitem(last=False)[1].close()
            else:
                document.close()


def _load(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as error:
        if error.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise EncryptedFile(ENCRYPTED) from error
        raise damaged("PDF", stored("structure cannot be parsed or has no pages")) from error


@contextmanager
def _page(document: pdfium.PdfDocument, index: int) -> Iterator[pdfium.PdfPage]:
    count = len(document)
    if not 0 <= index < count:
        raise IndexError(f"page index {index} outside 0..{count - 1}")
    try:
        page = document[index]
    except pdfium.PdfiumError as error:
        raise damaged("PDF", stored("page %(page)s cannot be read", page=index + 1)) from error
    try:
        yield page
    finally:
        page.close()


def page_count(path: Path, *, max_pages: int) -> int:
    with _document(path) as document:
        count = len(document)
    if count > max_pages:
        raise TooLarge(stored("The PDF has too many pages (%(count)s; the limit is %(limit)s). Split it into several "
                              "files and upload them separately.", count=count, limit=max_pages))
    return count


def render(path: Path, index: int, *, dpi: int, max_pixels: int) -> Image.Image:
    """The page as the reader sees it (page rotation applied): "L" when the page
    has no colour, else "RGB" so that red seals and headers survive. A page too
    large for `max_pixels` at `dpi` (an A0 drawing) is drawn at the highest whole
    dpi within the limit, down to 72; info["dpi"] says which was used."""
    with _document(path) as document, _page(document, index) as page:
        width, height = page.get_size()  # already turned by the page's /Rotate
        fitted = _fitting_dpi(width, height, dpi, max_pixels)
        if fitted is None:
            pixels = _pixels(width, height, POINTS_PER_INCH)
            raise TooLarge(stored(
                "Page %(page)s of the PDF is too large (%(megapixels)s megapixels even at %(dpi)s dpi; the limit is "
                "%(limit)s megapixels). Export it at a normal paper size and upload it again.",
                page=index + 1, megapixels=f"{pixels / 1e6:.0f}", dpi=POINTS_PER_INCH, limit=f"{max_pixels / 1e6:.0f}"))
        dpi = fitted
        scale = dpi / POINTS_PER_INCH
        if _draws_pictures(page):
            # A scan: decoding its picture is the dear part, so draw it once in
            # colour and look for colour in what was drawn.
            bitmap = page.render(scale=scale, rev_byteorder=True)
            try:
                grey = _is_grey(bitmap)
                image = bitmap.to_pil()  # a copy: pdfium's RGB buffer is unpacked
            finally:
                bitmap.close()
            if grey:
                image = image.convert("L")
        else:
            # Text and lines: a small probe for colour, then a grey drawing,
            # which pdfium makes in half the time of a colour one.
            probe = page.render(scale=PROBE_DPI / POINTS_PER_INCH, rev_byteorder=True)
            try:
                grey = _is_grey(probe)
            finally:
                probe.close()
            bitmap = page.render(scale=scale, grayscale=grey, rev_byteorder=True)
            try:
                # to_pil shares a grey bitmap's memory, which close() frees: copy it.
                image = bitmap.to_pil().copy() if grey else bitmap.to_pil()
            finally:
                bitmap.close()
    image.info["dpi"] = (dpi, dpi)
    return image


def _fitting_dpi(width_pt: float, height_pt: float, dpi: int, max_pixels: int) -> int | None:
    """`dpi`, or the highest whole dpi below it at which a page of that size stays within
    `max_pixels`; None when that would be below POINTS_PER_INCH (too coarse to read: refused)."""
    if _pixels(width_pt, height_pt, dpi) <= max_pixels:
        return dpi
    fitting = int(POINTS_PER_INCH * (max_pixels / (width_pt * height_pt)) ** 0.5)
    while fitting >= POINTS_PER_INCH and _pixels(width_pt, height_pt, fitting) > max_pixels:  # rounded sides
        fitting -= 1
    return fitting if fitting >= POINTS_PER_INCH else None


def _pixels(width_pt: float, height_pt: float, dpi: int) -> int:
    scale = dpi / POINTS_PER_INCH
    return round(width_pt * scale) * round(height_pt * scale)


@dataclass(frozen=True)
class ActiveContent:
    """What a PDF carries besides its pages: scripts and attached files. docsvc never runs the one
    (pdfium is used without a form environment, the only way its scripts could run) nor opens the
    other; they are named so the archivist knows the original holds them."""
    javascript: int
    attachments: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.javascript or self.attachments)


# Actions found by name in the file's bytes: scripts in an /OpenAction, a link or a form field are not
# in the document's JavaScript name tree, which is all pdfium counts. Compressed object streams can
# hide them from this look; nothing is executed either way.
_ACTION_TOKENS = re.compile(rb"/(?:JavaScript|JS|Launch)(?![A-Za-z0-9])")
_SCAN_CHUNK = 1 << 20


def active_content(path: Path) -> ActiveContent:
    with _document(path) as document:
        scripts = max(0, pdfium_c.FPDFDoc_GetJavaScriptActionCount(document))
        names = tuple(_attachment_name(document, i) for i in range(max(0, pdfium_c.FPDFDoc_GetAttachmentCount(document))))
    if not scripts and _mentions_actions(path):
        scripts = 1
    return ActiveContent(javascript=scripts, attachments=names)


def _attachment_name(document: pdfium.PdfDocument, index: int) -> str:
    attachment = pdfium_c.FPDFDoc_GetAttachment(document, index)
    if not attachment:
        return "?"
    size = pdfium_c.FPDFAttachment_GetName(attachment, None, 0)
    if size <= 2:
        return "?"
    buffer = ctypes.create_string_buffer(size)
    pdfium_c.FPDFAttachment_GetName(attachment, ctypes.cast(buffer, ctypes.POINTER(ctypes.c_ushort)), size)
    return buffer.raw[: size - 2].decode("utf-16-le", errors="replace")[:120]


def _mentions_actions(path: Path) -> bool:
    tail = b""
    with path.open("rb") as stream:
        while chunk := stream.read(_SCAN_CHUNK):
            if _ACTION_TOKENS.search(tail + chunk):
                return True
            tail = chunk[-16:]
    return False


def text_layer(path: Path, index: int) -> TextLayer | None:
    with _document(path) as document, _page(document, index) as page:
        text_page = page.get_textpage()
        try:
            return read_text_layer(page, text_page)
        finally:
            text_page.close()


def _draws_pictures(page: pdfium.PdfPage) -> bool:
    kinds = (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM)
    return any(
        pdfium_c.FPDFPageObj_GetType(pdfium_c.FPDFPage_GetObject(page, i)) in kinds
        for i in range(pdfium_c.FPDFPage_CountObjects(page))
    )


def _is_grey(bitmap: pdfium.PdfBitmap) -> bool:
    pixels = bitmap.to_numpy()  # a view of pdfium's buffer: read it before closing
    # Sample about PROBE_DPI pixels per inch of an A4 width (8.27 in).
    step = max(1, round(min(pixels.shape[:2]) / (PROBE_DPI * 8.27)))
    sample = pixels[::step, ::step]
    spread = sample.max(axis=2).astype(np.int16) - sample.min(axis=2)
    return bool(spread.max() <= GREY_TOLERANCE)


def _close_open_documents() -> None:
    with _lock:
        while _open:
            _open.popitem()[1].close()


atexit.register(_close_open_documents)
