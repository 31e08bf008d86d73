"""Files an operator uploads, made on the fly: multi-page TIFFs, image and text PDFs, phone JPEGs, bad files."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

from tests.samples import form_text, render_page
from tests.testdata import make_text_pdf

# Scans at 150 dpi keep the tests quick; OCR reads them fine and the pipeline treats every dpi the same.
TEST_DPI = 150


def page_image(seed: int, variant: str = "clean", dpi: int = TEST_DPI) -> Image.Image:
    return render_page(form_text(seed), dpi=dpi, variant=variant, seed=seed)


def tiff_bytes(seeds: list[int], compression: str = "group4", variant: str = "bitonal") -> bytes:
    frames = [page_image(s, variant) for s in seeds]
    if compression == "group4":
        frames = [f.convert("1") for f in frames]
    elif compression == "jpeg":
        frames = [f.convert("L") for f in frames]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:], compression=compression,
                   dpi=(TEST_DPI, TEST_DPI))
    return buf.getvalue()


def image_pdf_bytes(seeds: list[int], variant: str = "clean") -> bytes:
    frames = [page_image(s, variant).convert("L") for s in seeds]
    buf = io.BytesIO()
    frames[0].save(buf, "PDF", save_all=True, append_images=frames[1:], resolution=TEST_DPI)
    return buf.getvalue()


def text_pdf_bytes(texts: list[str], tmp: Path) -> bytes:
    path = tmp / "text.pdf"
    make_text_pdf(texts, path)
    return path.read_bytes()


def jpeg_bytes(seed: int, variant: str = "jpeg") -> bytes:
    buf = io.BytesIO()
    page_image(seed, variant).convert("RGB").save(buf, "JPEG", quality=80)
    return buf.getvalue()


def png_bomb_bytes(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims a huge image; its data is a few bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def truncated(data: bytes, keep: float = 0.4) -> bytes:
    return data[: int(len(data) * keep)]
