"""Generated PDFs with a real Chinese text layer, for tests and benchmarks.

The writer is hand-rolled so that tests need no PDF library beyond what the
service itself uses. Text is set in Adobe's standard CID font STSong-Light
(not embedded: every PDF reader carries or substitutes it) through the
UniGB-UCS2-H CMap, so a character's code is its Unicode value and both
pdfplumber and pdfium extract it without a ToUnicode table.
"""

from __future__ import annotations

from pathlib import Path

A4 = (595.28, 841.89)  # points
MARGIN = 72.0
LINE_SPACING = 1.5  # times the font size
# STSong-Light's Roman characters (CIDs 1-95) are set half-width; everything
# else takes the font's default width of one em.
HALF_WIDTH_CIDS = "/W [1 95 500]"


def make_text_pdf(
    pages: list[str],
    path: Path,
    *,
    font_size: float = 12.0,
    invisible: bool = False,
) -> None:
    """Write a PDF with one page per string; "\\n" starts a new line and long
    lines wrap at the right margin.

    invisible=True draws the text in render mode 3 (neither filled nor
    stroked), as scanners do when they lay a hidden OCR layer over an image.
    """
    objects: list[bytes] = []  # objects[n - 1] is object n

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def reserve() -> int:
        return add(b"")

    catalog = reserve()
    pages_node = reserve()
    font = add(_type0_font(add(_cid_font())))
    kids = []
    for text in pages:
        stream = _content_stream(text, font_size, invisible)
        contents = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (pages_node, A4[0], A4[1], font, contents)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_node
    objects[pages_node - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    path.write_bytes(_serialise(objects, root=catalog))


def _cid_font() -> bytes:
    descriptor = (
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 "
        b"/FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 "
        b"/CapHeight 880 /StemV 93 >>"
    )
    return (
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> "
        b"/DW 1000 " + HALF_WIDTH_CIDS.encode() + b" /FontDescriptor " + descriptor + b" >>"
    )


def _type0_font(descendant: int) -> bytes:
    return (
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light "
        b"/Encoding /UniGB-UCS2-H /DescendantFonts [%d 0 R] >>" % descendant
    )


def _content_stream(text: str, font_size: float, invisible: bool) -> bytes:
    leading = font_size * LINE_SPACING
    usable_width = A4[0] - 2 * MARGIN
    lines = [part for line in text.split("\n") for part in _wrap(line, font_size, usable_width)]
    ops = [
        b"BT",
        b"/F1 %.2f Tf" % font_size,
        b"%.2f TL" % leading,
        b"3 Tr" if invisible else b"0 Tr",
        b"%.2f %.2f Td" % (MARGIN, A4[1] - MARGIN - font_size),
    ]
    for number, line in enumerate(lines):
        if number:
            ops.append(b"T*")
        if line:
            ops.append(b"<%s> Tj" % _ucs2(line).hex().upper().encode())
    ops.append(b"ET")
    return b"\n".join(ops)


def _char_width(char: str, font_size: float) -> float:
    return font_size * (0.5 if " " <= char <= "~" else 1.0)


def _wrap(line: str, font_size: float, width: float) -> list[str]:
    parts, current, used = [], "", 0.0
    for char in line:
        advance = _char_width(char, font_size)
        if used + advance > width and current:
            parts.append(current)
            current, used = "", 0.0
        current += char
        used += advance
    parts.append(current)
    return parts


def _ucs2(line: str) -> bytes:
    # UCS-2 cannot carry characters outside the Basic Multilingual Plane; the
    # geta mark 〓 is the customary stand-in for a character a font lacks.
    return "".join(c if ord(c) <= 0xFFFF else "\u3013" for c in line).encode("utf-16-be")


def _serialise(objects: list[bytes], *, root: int) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        root,
        xref_at,
    )
    return bytes(out)
