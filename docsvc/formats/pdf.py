"""PDF pages through pdfium: count, render, read the text layer.

pdfium loads a document lazily from its file (cross-reference table and page
tree, not the pages), so counting the pages of a 5,000-page PDF or opening
page 4,999 costs milliseconds.

pdfium is not thread-safe, not even across different documents: two threads
inside it at once can crash the process. Every pdfium call in docsvc must go
through this module, which holds one process-wide lock while it works and
closes every pdfium object before letting go (a pdfium object freed later by
the garbage collector would call into pdfium without the lock).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from docsvc.formats.pdf_text import TextLayer, read_text_layer
from docsvc.formats.problems import ENCRYPTED, CorruptFile, EncryptedFile, TooLarge, damaged

POINTS_PER_INCH = 72
# Channel spread (0-255) below which a rendered pixel counts as grey: anti-aliasing
# leaves a little colour fringe on black text.
GREY_TOLERANCE = 12
# Every n-th pixel in each direction is enough to see a red seal or header.
GREY_SAMPLE_STEP = 4

_lock = threading.Lock()


@contextmanager
def _document(path: Path) -> Iterator[pdfium.PdfDocument]:
    with _lock:
        try:
            document = pdfium.PdfDocument(path)
        except pdfium.PdfiumError as error:
            if error.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
                raise EncryptedFile(ENCRYPTED) from error
            raise damaged("PDF", "结构无法解析或没有任何页面", "structure cannot be parsed or has no pages") from error
        try:
            yield document
        finally:
            document.close()


@contextmanager
def _page(document: pdfium.PdfDocument, index: int) -> Iterator[pdfium.PdfPage]:
    count = len(document)
    if not 0 <= index < count:
        raise IndexError(f"page index {index} outside 0..{count - 1}")
    try:
        page = document[index]
    except pdfium.PdfiumError as error:
        raise damaged("PDF", f"第 {index + 1} 页无法读取", f"page {index + 1} cannot be read") from error
    try:
        yield page
    finally:
        page.close()


def page_count(path: Path, *, max_pages: int) -> int:
    with _document(path) as document:
        count = len(document)
    if count > max_pages:
        raise TooLarge(
            f"PDF 文件页数过多（{count} 页，上限 {max_pages} 页）。请拆分为多个文件后分别上传。"
            f"/ The PDF has too many pages ({count}; the limit is {max_pages}). "
            "Split it into several files and upload them separately."
        )
    return count


def render(path: Path, index: int, *, dpi: int, max_pixels: int) -> Image.Image:
    """The page as the reader sees it (page rotation applied): "L" when the page
    has no colour, else "RGB" so that red seals and headers survive."""
    scale = dpi / POINTS_PER_INCH
    with _document(path) as document, _page(document, index) as page:
        width, height = page.get_size()  # already turned by the page's /Rotate
        pixels = round(width * scale) * round(height * scale)
        if pixels > max_pixels:
            raise TooLarge(
                f"PDF 第 {index + 1} 页尺寸过大（按 {dpi} dpi 约 {pixels / 1e6:.0f} 百万像素，"
                f"上限 {max_pixels / 1e6:.0f} 百万像素）。请将该页导出为常规纸张大小后重新上传。"
                f"/ Page {index + 1} of the PDF is too large ({pixels / 1e6:.0f} megapixels at {dpi} dpi; "
                f"the limit is {max_pixels / 1e6:.0f}). Export it at a normal paper size and upload it again."
            )
        bitmap = page.render(scale=scale)
        try:
            image = bitmap.to_pil()  # a copy: pdfium's BGR buffer is converted to RGB
        finally:
            bitmap.close()
    if _is_grey(image):
        image = image.convert("L")
    image.info["dpi"] = (dpi, dpi)
    return image


def text_layer(path: Path, index: int) -> TextLayer | None:
    with _document(path) as document, _page(document, index) as page:
        text_page = page.get_textpage()
        try:
            return read_text_layer(page, text_page)
        finally:
            text_page.close()


def _is_grey(image: Image.Image) -> bool:
    import numpy as np

    sample = np.asarray(image)[::GREY_SAMPLE_STEP, ::GREY_SAMPLE_STEP]
    spread = sample.max(axis=2).astype(np.int16) - sample.min(axis=2)
    return bool(spread.max() <= GREY_TOLERANCE)
