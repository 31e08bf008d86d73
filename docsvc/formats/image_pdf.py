"""Writing PDFs of scanned pages: each page is its image, with the page's words laid over it as
invisible text (render mode 3), so a PDF reader finds, selects and copies them.

The writer emits object after object to a stream as pages arrive and keeps only their offsets, so
memory holds one page at a time however long the file is.

Invisible text is set in a glyphless font, as tesseract and OCRmyPDF do: every character code maps
to one empty glyph, and the ToUnicode map gives each code its character back. A code is the
character's UTF-16 value; characters outside the Basic Multilingual Plane (rare name characters)
get codes from the surrogate range, which holds no characters of its own. Nothing depends on a font
the reader may lack, and the text layer needs no subset of a 17 MB CJK font.
"""

from __future__ import annotations

import io
import struct
import subprocess
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from docsvc.i18n import _


@lru_cache(maxsize=1)
def glyphless_font() -> bytes:
    """tesseract's GlyphLessFont (tessdata/pdf.ttf, installed with tesseract, which docsvc requires):
    a TrueType font of one empty glyph, 2048 units per em, advance 1024 (half an em, hence /DW 500)."""
    try:
        listing = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, check=True).stdout
        tessdata = Path(listing.split('"')[1])
        return (tessdata / "pdf.ttf").read_bytes()
    except (OSError, IndexError, subprocess.CalledProcessError) as exc:
        raise RuntimeError(_("tesseract's pdf.ttf was not found, so no PDF with a text layer can be written; install "
                             "tesseract-ocr (scripts/bootstrap does).")) from exc


GLYPH_WIDTH = 0.5  # of the font size, every character
_SURROGATES = range(0xD800, 0xE000)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CMAP_BLOCK = 100  # entries per begin…end block, the most the CMap format allows


@dataclass(frozen=True)
class Word:
    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels, y downwards


class ImagePdfWriter:
    """`add_page` for each page, then `close`; the caller owns (and closes) the stream."""

    def __init__(self, out: BinaryIO, *, title: str = "", now: datetime | None = None) -> None:
        self._out = out
        self._written = 0
        self._offsets: dict[int, int] = {}
        self._count = 0
        self._kids: list[int] = []
        self._extra_codes: dict[str, int] = {}
        self._catalog, self._pages, self._font, self._to_unicode = (self._reserve() for _ in range(4))
        self._write(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
        self._write_font()
        self._info = self._object(b"<< /Title " + _text_string(title) + b" /Producer (docsvc) /CreationDate "
                                  + _date(now or datetime.now(timezone.utc)) + b" >>")

    @property
    def page_count(self) -> int:
        return len(self._kids)

    def add_page(self, image: bytes | Image.Image, *, dpi: float, words: Iterable[Word] = (),
                 rotate: int = 0) -> None:
        """One page the size of `image` at `dpi`, turned clockwise by `rotate` degrees when shown."""
        header, data, (width, height) = _image_xobject(image)
        picture = self._stream(header, data)
        w_pt, h_pt = width * 72 / dpi, height * 72 / dpi
        scale = 72 / dpi
        ops = [b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (w_pt, h_pt)]
        text = [self._word(word, scale, h_pt) for word in words]
        if any(text):
            ops += [b"BT 3 Tr", *(t for t in text if t), b"ET"]
        contents = self._stream(b"/Filter /FlateDecode", zlib.compress(b"\n".join(ops)))
        self._kids.append(self._object(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Rotate %d /Contents %d 0 R "
            b"/Resources << /XObject << /Im0 %d 0 R >> /Font << /F1 %d 0 R >> >> >>"
            % (self._pages, w_pt, h_pt, rotate % 360, contents, picture, self._font)))

    def close(self) -> None:
        """The page tree, the ToUnicode map, the catalogue and the cross-reference table."""
        self._object(b"<< /Type /Pages /Kids [%s] /Count %d >>"
                     % (b" ".join(b"%d 0 R" % k for k in self._kids), len(self._kids)), self._pages)
        cmap = _to_unicode(self._extra_codes)
        self._stream(b"/Filter /FlateDecode", zlib.compress(cmap), self._to_unicode)
        self._object(b"<< /Type /Catalog /Pages %d 0 R >>" % self._pages, self._catalog)
        missing = set(range(1, self._count + 1)) - self._offsets.keys()
        assert not missing, f"objects reserved but never written: {sorted(missing)}"
        xref_at = self._written
        self._write(b"xref\n0 %d\n0000000000 65535 f \n" % (self._count + 1))
        self._write(b"".join(b"%010d 00000 n \n" % self._offsets[n] for n in range(1, self._count + 1)))
        self._write(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                    % (self._count + 1, self._catalog, self._info, xref_at))

    # ------------------------------------------------------------ text

    def _word(self, word: Word, scale: float, page_height: float) -> bytes:
        """Set the word's characters across its box: font size from the box height, horizontal
        scaling so they span its width."""
        x0, y0, x1, y1 = word.box
        codes = self._codes(word.text.strip())
        if not codes or x1 <= x0 or y1 <= y0:
            return b""
        size = (y1 - y0) * scale
        stretch = 100 * (x1 - x0) * scale / (len(codes) // 2 * GLYPH_WIDTH * size)
        return b"/F1 %.2f Tf %.2f Tz 1 0 0 1 %.2f %.2f Tm <%s> Tj" % (
            size, stretch, x0 * scale, page_height - y1 * scale, codes.hex().upper().encode())

    def _codes(self, text: str) -> bytes:
        out = bytearray()
        for char in text:
            point = ord(char)
            if point in _SURROGATES:
                continue  # a lone surrogate is no character
            if point > 0xFFFF:
                if char not in self._extra_codes and len(self._extra_codes) < len(_SURROGATES):
                    self._extra_codes[char] = _SURROGATES[len(self._extra_codes)]
                point = self._extra_codes.get(char, 0x3013)  # 〓, the customary stand-in
            out += point.to_bytes(2, "big")
        return bytes(out)

    def _write_font(self) -> None:
        font = glyphless_font()
        font_file = self._stream(b"/Length1 %d" % len(font), font)
        descriptor = self._object(
            b"<< /Type /FontDescriptor /FontName /GlyphLessFont /Flags 5 /FontBBox [0 0 500 1000] "
            b"/ItalicAngle 0 /Ascent 1000 /Descent 0 /CapHeight 1000 /StemV 80 /FontFile2 %d 0 R >>" % font_file)
        glyph_map = self._stream(b"/Filter /FlateDecode", _all_to_glyph_one())
        cid_font = self._object(
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont "
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
            b"/FontDescriptor %d 0 R /DW %d /CIDToGIDMap %d 0 R >>"
            % (descriptor, round(GLYPH_WIDTH * 1000), glyph_map))
        self._object(b"<< /Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont /Encoding /Identity-H "
                     b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (cid_font, self._to_unicode), self._font)

    # ------------------------------------------------------------ objects

    def _reserve(self) -> int:
        self._count += 1
        return self._count

    def _object(self, body: bytes, number: int | None = None) -> int:
        number = number or self._reserve()
        self._offsets[number] = self._written
        self._write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
        return number

    def _stream(self, entries: bytes, data: bytes, number: int | None = None) -> int:
        number = number or self._reserve()
        self._offsets[number] = self._written
        self._write(b"%d 0 obj\n<< %s /Length %d >>\nstream\n" % (number, entries, len(data)))
        self._write(data)
        self._write(b"\nendstream\nendobj\n")
        return number

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._written += len(data)


def _image_xobject(image: bytes | Image.Image) -> tuple[bytes, bytes, tuple[int, int]]:
    """(dictionary entries, stream data, size) of an image XObject. JPEG goes in as it is and a
    greyscale or RGB PNG keeps its compressed data: no page is decoded that need not be."""
    if isinstance(image, bytes):
        passed = _png_as_is(image) if image.startswith(_PNG_SIGNATURE) else _jpeg_as_is(image)
        if passed is not None:
            return passed
        with Image.open(io.BytesIO(image)) as opened:
            opened.load()
            return _raw(opened)
    return _raw(image)


def _jpeg_as_is(data: bytes) -> tuple[bytes, bytes, tuple[int, int]] | None:
    with Image.open(io.BytesIO(data)) as probe:  # reads the header only
        if probe.format != "JPEG" or probe.mode not in ("L", "RGB"):
            return None  # CMYK JPEGs are often stored inverted: decode those
        space = b"/DeviceGray" if probe.mode == "L" else b"/DeviceRGB"
        return (_image_entries(probe.size, space, 8) + b" /Filter /DCTDecode", data, probe.size)


def _png_as_is(data: bytes) -> tuple[bytes, bytes, tuple[int, int]] | None:
    pos, header, chunks = len(_PNG_SIGNATURE), None, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        return None
    width, height, depth, colour, _, _, interlace = header
    # Grey (type 0) at up to 8 bits and RGB (type 2) at 8 bits read the same in PDF; palette, alpha,
    # 16 bits and interlacing do not.
    if interlace or not ((colour == 0 and depth <= 8) or (colour == 2 and depth == 8)):
        return None
    colours = 1 if colour == 0 else 3
    space = b"/DeviceGray" if colour == 0 else b"/DeviceRGB"
    entries = (_image_entries((width, height), space, depth)
               + b" /Filter /FlateDecode /DecodeParms << /Predictor 15 /Colors %d /BitsPerComponent %d /Columns %d >>"
               % (colours, depth, width))
    return entries, b"".join(chunks), (width, height)


def _raw(image: Image.Image) -> tuple[bytes, bytes, tuple[int, int]]:
    """Decoded pixels, Flate-compressed: bitonal stays one bit a pixel (PIL's 1 is white, as in PDF)."""
    if image.mode not in ("1", "L", "RGB"):
        image = image.convert("L" if image.mode in ("LA", "I", "I;16") else "RGB")
    depth, space = {"1": (1, b"/DeviceGray"), "L": (8, b"/DeviceGray"), "RGB": (8, b"/DeviceRGB")}[image.mode]
    data = zlib.compress(image.tobytes(), 6)
    return _image_entries(image.size, space, depth) + b" /Filter /FlateDecode", data, image.size


def _image_entries(size: tuple[int, int], space: bytes, depth: int) -> bytes:
    return b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent %d" % (
        size[0], size[1], space, depth)


@lru_cache(maxsize=1)
def _all_to_glyph_one() -> bytes:
    """CIDToGIDMap: every code shows glyph 1, the font's one (empty) glyph."""
    return zlib.compress(b"\x00\x01" * 65536, 9)


def _to_unicode(extra_codes: dict[str, int]) -> bytes:
    """Codes outside the surrogate range are their own UTF-16 value; the surrogate range holds the
    characters beyond the BMP this file used."""
    ranges = [b"<%02X00> <%02XFF> <%02X00>" % (hi, hi, hi) for hi in range(256) if hi << 8 not in _SURROGATES]
    chars = [b"<%04X> <%s>" % (code, char.encode("utf-16-be").hex().upper().encode())
             for char, code in extra_codes.items()]
    lines = [b"/CIDInit /ProcSet findresource begin", b"12 dict begin", b"begincmap",
             b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
             b"/CMapName /Adobe-Identity-UCS def", b"/CMapType 2 def",
             b"1 begincodespacerange", b"<0000> <FFFF>", b"endcodespacerange"]
    for kind, entries in ((b"bfrange", ranges), (b"bfchar", chars)):
        for start in range(0, len(entries), _CMAP_BLOCK):
            block = entries[start:start + _CMAP_BLOCK]
            lines += [b"%d begin%s" % (len(block), kind), *block, b"end" + kind]
    lines += [b"endcmap", b"CMapName currentdict /CMapResource defineresource pop", b"end", b"end"]
    return b"\n".join(lines)


def _text_string(text: str) -> bytes:
    return b"<FEFF%s>" % text.encode("utf-16-be").hex().upper().encode()


def _date(moment: datetime) -> bytes:
    return moment.astimezone(timezone.utc).strftime("(D:%Y%m%d%H%M%SZ)").encode()
