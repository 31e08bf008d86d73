"""Reading uploaded files: which type a file really is, how many pages it has,
each page as an image, and a PDF page's own text layer.

The type comes from the content (magic bytes), never from the file name. Bad
input raises a FileProblem subclass whose message tells the archivist what
happened and what to do; it never takes the process down and never decodes
more pixels than the limit allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from docsvc.formats import pdf, raster
from docsvc.formats.filenames import safe_filename
from docsvc.formats.pdf_text import TextLayer, TextWord
from docsvc.formats.problems import (
    EMPTY,
    CorruptFile,
    EncryptedFile,
    FileProblem,
    OddShape,
    TooLarge,
    UnsupportedFormat,
)
from docsvc.i18n import stored

__all__ = [
    "ACCEPTED_TYPES",
    "DEFAULT_DPI",
    "MAX_PAGES",
    "MAX_ASPECT",
    "MAX_PIXELS",
    "CorruptFile",
    "EncryptedFile",
    "FileInfo",
    "FileProblem",
    "OddShape",
    "TextLayer",
    "TextWord",
    "TooLarge",
    "UnsupportedFormat",
    "inspect",
    "render_page",
    "render_pages",
    "safe_filename",
    "sniff",
    "text_layer",
]

ACCEPTED_TYPES: dict[str, str] = {
    "application/pdf": "PDF",
    "image/tiff": "TIFF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
}
DEFAULT_DPI = raster.DEFAULT_DPI
# A0 at 300 dpi is 140 megapixels; 150 leaves room for it and bounds memory
# at about 450 MB for one colour page.
MAX_PIXELS = 150_000_000
MAX_PAGES = 5_000
# A page longer than this many times its width (or wider than long) is a strip, not a page: the OCR
# engines scale a page's long side down to about 2,000 px, which leaves such a strip without height.
MAX_ASPECT = 100

# PDF readers accept the header anywhere in the first kilobyte.
_PDF_SEARCH = 1024
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
# Types people upload by mistake, named so the message can say what the file is.
_REFUSED = (
    (b"PK\x03\x04", "ZIP (.zip .docx .xlsx)"),
    (b"\xd0\xcf\x11\xe0", "Office 97-2003 (.doc .xls)"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"),
    (b"Rar!", "RAR"),
    (b"7z\xbc\xaf", "7z"),
    (b"{\\rtf", "RTF"),
)


@dataclass(frozen=True)
class FileInfo:
    media_type: str
    page_count: int


def sniff(path: Path) -> str:
    """The media type of the file's content, one of ACCEPTED_TYPES."""
    with path.open("rb") as stream:
        head = stream.read(_PDF_SEARCH)
    if not head:
        raise CorruptFile(EMPTY)
    for signature, media_type in _SIGNATURES:
        if head.startswith(signature):
            return media_type
    refused = _refused_kind(head)
    if b"%PDF-" in head:
        if refused is None:
            return "application/pdf"
        # A file that opens as another format and as a PDF (a ZIP/PDF polyglot) is not one archival
        # record: which one the archive holds would depend on the program that opens it.
        raise UnsupportedFormat(_polyglot_message(refused))
    raise UnsupportedFormat(_unsupported_message(refused))


def inspect(path: Path, *, max_pixels: int = MAX_PIXELS, max_pages: int = MAX_PAGES) -> FileInfo:
    """Type and page count, with the checks that need no decoding: readable
    structure, password, page and pixel limits, TIFF data inside the file."""
    media_type = sniff(path)
    if media_type == "application/pdf":
        count = pdf.page_count(path, max_pages=max_pages)
    else:
        count = raster.page_count(path, media_type, max_pixels=max_pixels, max_pages=max_pages)
    return FileInfo(media_type=media_type, page_count=count)


def render_page(
    path: Path, media_type: str, index: int, *, dpi: int = DEFAULT_DPI, max_pixels: int = MAX_PIXELS
) -> Image.Image:
    """Page `index` (from 0) as an upright image in mode "1", "L" or "RGB", with
    info["dpi"] set. A PDF page is rendered at `dpi`; an image keeps its own
    pixels and reports its own resolution when plausible, else DEFAULT_DPI."""
    if media_type == "application/pdf":
        image = pdf.render(path, index, dpi=dpi, max_pixels=max_pixels)
    elif media_type in raster.PLUGINS:
        image = raster.render(path, media_type, index, max_pixels=max_pixels)
    else:
        raise UnsupportedFormat(_unsupported_message(media_type))
    _check_shape(image, index)
    return image


def _check_shape(image: Image.Image, index: int) -> None:
    width, height = image.size
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise OddShape(stored(
            "Page %(page)s has an odd shape (%(size)s pixels, more than %(ratio)s:1), which cannot be read as a page. "
            "Check the scanner's paper size, re-scan or re-export it and upload it again.",
            page=index + 1, size=f"{width}×{height}", ratio=MAX_ASPECT))


def render_pages(
    path: Path, media_type: str, *, dpi: int = DEFAULT_DPI, max_pixels: int = MAX_PIXELS
) -> Iterator[Image.Image]:
    """Every page in order, as render_page gives them; a multi-page TIFF is walked once."""
    if media_type in raster.PLUGINS:
        yield from raster.render_all(path, media_type, max_pixels=max_pixels)
        return
    for index in range(inspect(path).page_count):
        yield render_page(path, media_type, index, dpi=dpi, max_pixels=max_pixels)


def text_layer(path: Path, index: int) -> TextLayer | None:
    """The real text layer of PDF page `index` (from 0), in reading order with
    word boxes; None for images and for pages whose text does not count (see
    docsvc.formats.pdf_text for the rule), which then need OCR."""
    if sniff(path) != "application/pdf":
        return None
    return pdf.text_layer(path, index)


def _refused_kind(head: bytes) -> str | None:
    for signature, kind in _REFUSED:
        if head.startswith(signature):
            return kind
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return "HEIC"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP"
    return None


def _polyglot_message(kind: str) -> str:
    return stored("The file is both %(kind)s and PDF (it starts as %(kind)s and holds a PDF header too), so different "
                  "programs would show different contents; it cannot be kept as one record. Re-export it as a plain "
                  "PDF and upload it again.", kind=kind)


def _unsupported_message(kind: str | None) -> str:
    accepted = ", ".join(ACCEPTED_TYPES.values())
    if kind:
        return stored("Unsupported file type (it looks like %(kind)s). Only %(accepted)s files are accepted; convert "
                      "it to PDF or an image (JPEG for phone photos) and upload it again.",
                      kind=kind, accepted=accepted)
    return stored("Unsupported file type. Only %(accepted)s files are accepted; convert it to PDF or an image (JPEG "
                  "for phone photos) and upload it again.", accepted=accepted)
