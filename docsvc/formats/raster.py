"""TIFF, JPEG and PNG pages through Pillow.

Pillow reads only the header when it opens a file, so the pixel count is
checked before anything is decoded; Pillow's own decompression-bomb check
(an error above about 179 megapixels) stays behind ours as a second guard.
Each file is opened with the one Pillow plugin its sniffed type names, so a
file can never reach a decoder we did not mean to run on it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from docsvc.formats.problems import CorruptFile, TooLarge, damaged
from docsvc.i18n import stored

DEFAULT_DPI = 300
# A resolution outside this range is a software default (72, 96) or nonsense,
# not the scanner's: such an image is taken as DEFAULT_DPI.
PLAUSIBLE_DPI = (100, 2400)

PLUGINS = {"image/tiff": "TIFF", "image/jpeg": "JPEG", "image/png": "PNG"}
# Pillow's plugins raise all of these on malformed data.
DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, TypeError, EOFError, struct.error, KeyError, IndexError, ZeroDivisionError,
)

# TIFF tags that locate the image data: strips (offsets, byte counts), tiles likewise.
_DATA_TAGS = ((273, 279), (324, 325))


@contextmanager
def _opened(path: Path, media_type: str) -> Iterator[Image.Image]:
    label = PLUGINS[media_type]
    # Opened here, outside the decode guard: a missing file is the store's
    # problem, not a damaged upload.
    with path.open("rb") as stream:
        try:
            image = Image.open(stream, formats=[label])
        except Image.DecompressionBombError as error:
            raise _too_many_pixels(label, None, None) from error
        except (Image.UnidentifiedImageError, *DECODE_ERRORS) as error:
            raise damaged(label, stored("header cannot be read")) from error
        with image:
            yield image


def page_count(path: Path, media_type: str, *, max_pixels: int, max_pages: int) -> int:
    """Pages in the file, each checked for size and, in a TIFF, that its data
    lies inside the file (a truncated upload loses the end of its data).
    Only TIFF has pages; an animated PNG or a camera's multi-picture JPEG is
    one page, its first picture."""
    label = PLUGINS[media_type]
    size = path.stat().st_size
    with _opened(path, media_type) as image:
        if media_type != "image/tiff":
            _check_pixels(image, label, 1, max_pixels)
            return 1
        try:
            count = image.n_frames  # walks the chain of page directories, decodes nothing
        except DECODE_ERRORS as error:
            raise damaged("TIFF", stored("page directories are incomplete")) from error
        if count > max_pages:
            raise TooLarge(stored("The TIFF file has too many pages (%(count)s; the limit is %(limit)s). Split it "
                                  "into several files and upload them separately.", count=count, limit=max_pages))
        for page in range(count):
            try:
                image.seek(page)
            except DECODE_ERRORS as error:
                raise _unreadable_directory("TIFF", page) from error
            _check_pixels(image, label, page + 1, max_pixels)
            _check_tiff_data(image, size, page + 1)
        return count


def render(path: Path, media_type: str, index: int, *, max_pixels: int) -> Image.Image:
    """Frame `index`, decoded, as "1", "L" or "RGB", upright, with info["dpi"]."""
    label = PLUGINS[media_type]
    with _opened(path, media_type) as image:
        frames = _frame_count(image, media_type)
        if not 0 <= index < frames:
            raise IndexError(f"page index {index} outside 0..{frames - 1}")
        return _frame(image, label, media_type, index, max_pixels)


def render_all(path: Path, media_type: str, *, max_pixels: int) -> Iterator[Image.Image]:
    """Every frame in order, from one open file: walking a long TIFF once, not once per page."""
    label = PLUGINS[media_type]
    with _opened(path, media_type) as image:
        for index in range(_frame_count(image, media_type)):
            yield _frame(image, label, media_type, index, max_pixels)


def _frame_count(image: Image.Image, media_type: str) -> int:
    try:
        return image.n_frames if media_type == "image/tiff" else 1
    except DECODE_ERRORS as error:
        raise damaged("TIFF", stored("page directories are incomplete")) from error


def _frame(image: Image.Image, label: str, media_type: str, index: int, max_pixels: int) -> Image.Image:
    try:
        image.seek(index)
    except DECODE_ERRORS as error:
        raise _unreadable_directory(label, index) from error
    _check_pixels(image, label, index + 1, max_pixels)
    dpi = _dpi(image.info.get("dpi"))
    try:
        image.load()
        page = _upright(image) if media_type == "image/jpeg" else image.copy()
        if page.size != image.size:  # turned a quarter: the resolutions swap
            dpi = (dpi[1], dpi[0])
        page = _normal_mode(page)
    except DECODE_ERRORS as error:
        raise damaged(label, stored("data is incomplete or damaged")) from error
    page.info["dpi"] = dpi
    return page


def _check_pixels(image: Image.Image, label: str, page: int, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise _too_many_pixels(label, (width, height), max_pixels, page)


def _too_many_pixels(
    label: str, size: tuple[int, int] | None, max_pixels: int | None, page: int = 1
) -> TooLarge:
    if size and max_pixels:
        return TooLarge(stored(
            "Page %(page)s of the %(kind)s image has too many pixels (%(size)s pixels; the limit is %(limit)s "
            "megapixels); it was refused unread to protect the service. Re-scan or export it at a normal resolution "
            "(about 300 dpi) and upload it again.",
            page=page, kind=label, size=f"{size[0]}×{size[1]}", limit=f"{max_pixels / 1e6:.0f}"))
    return TooLarge(stored(
        "Page %(page)s of the %(kind)s image has too many pixels; it was refused unread to protect the service. "
        "Re-scan or export it at a normal resolution (about 300 dpi) and upload it again.", page=page, kind=label))


def _unreadable_directory(label: str, index: int) -> CorruptFile:
    return damaged(label, stored("directory of page %(page)s cannot be read", page=index + 1))


def _check_tiff_data(image: Image.Image, file_size: int, page: int) -> None:
    tags = image.tag_v2
    for offsets_tag, counts_tag in _DATA_TAGS:
        offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
        if offsets is None or counts is None:
            continue
        offsets = offsets if isinstance(offsets, tuple) else (offsets,)
        counts = counts if isinstance(counts, tuple) else (counts,)
        if any(o + c > file_size for o, c in zip(offsets, counts, strict=False)):
            raise damaged("TIFF", stored("data is incomplete (page %(page)s runs past the end of the file)",
                                         page=page))


def _dpi(value: object) -> tuple[int, int]:
    try:
        x, y = (round(float(v)) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return (DEFAULT_DPI, DEFAULT_DPI)
    low, high = PLAUSIBLE_DPI
    if not (low <= x <= high and low <= y <= high):
        return (DEFAULT_DPI, DEFAULT_DPI)
    return (x, y)


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation a phone records instead of turning its pixels.
    Unreadable EXIF leaves the photo as stored rather than refusing it."""
    try:
        return ImageOps.exif_transpose(image)
    except DECODE_ERRORS:
        return image.copy()


def _normal_mode(image: Image.Image) -> Image.Image:
    """"1", "L" or "RGB": transparency is laid on white paper, palettes and
    CMYK become RGB, 16-bit grey is scaled (Pillow's own conversion clips)."""
    mode = image.mode
    if mode in ("1", "L", "RGB"):
        return image
    if mode.startswith("I") or mode == "F":
        values = np.asarray(image, dtype=np.float64)
        top = values.max() or 1.0
        return Image.fromarray(np.clip(values * (255.0 / top), 0, 255).astype(np.uint8), "L")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa"):
        grey = image.mode.startswith("L")
        background = Image.new("RGBA", image.size, "white")
        background.alpha_composite(image.convert("RGBA"))
        return background.convert("L" if grey else "RGB")
    return image.convert("RGB")
