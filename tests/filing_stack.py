"""A scanned stack with cover sheets printed by the product: noisy, one upside down, one with a damaged QR."""
from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw

from docsvc.formats.coversheets import cover_image, patch_t_image
from tests.scans import TEST_DPI, page_image


def scanned(image: Image.Image, seed: int, *, upside_down: bool = False) -> Image.Image:
    """What a scanner makes of a printed sheet: a slight skew, speckles, grey paper."""
    rng = np.random.default_rng(seed)
    page = image.convert("L").rotate(random.Random(seed).uniform(-1.5, 1.5), fillcolor=255, expand=False)
    pixels = np.asarray(page).astype(np.int16)
    pixels = pixels - rng.integers(0, 25, pixels.shape)
    pixels[rng.random(pixels.shape) < 0.002] = 0
    page = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if upside_down:
        page = page.rotate(180)
    page.info["dpi"] = (TEST_DPI, TEST_DPI)
    return page


def damaged(sheet: Image.Image) -> Image.Image:
    """A cover whose QR was torn and scribbled over: the bands survive, the code does not."""
    sheet = sheet.copy()
    draw = ImageDraw.Draw(sheet)
    w, h = sheet.size
    draw.rectangle([int(w * 0.62), int(h * 0.14), int(w * 0.80), int(h * 0.26)], fill=255)
    for i in range(12):  # and a scribble across what is left
        draw.line([int(w * 0.55), int(h * 0.12) + i * 9, int(w * 0.9), int(h * 0.3) - i * 7], fill=0, width=4)
    return sheet


def cover(account: str, doc_type: str) -> Image.Image:
    return cover_image(account, doc_type, "测试客户", "", dpi=TEST_DPI)


def tiff(pages: list[Image.Image]) -> bytes:
    frames = [p.convert("1") for p in pages]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:], compression="group4",
                   dpi=(TEST_DPI, TEST_DPI))
    return buf.getvalue()


def content(seed: int) -> Image.Image:
    return page_image(seed, "clean")


def stack() -> list[Image.Image]:
    """12 sheets: A/HT (2 pages), B/SQ upside down (1), damaged cover (2), unknown customer (1), A/JC (1)."""
    return [
        content(1),                                          # before any cover: the inbox
        scanned(cover("3000000001", "HT"), 10), scanned(content(2), 11), scanned(content(3), 12),
        scanned(cover("3000000002", "SQ"), 20, upside_down=True), scanned(content(4), 21),
        scanned(damaged(cover("3000000001", "JL")), 30), scanned(content(5), 31), scanned(content(6), 32),
        scanned(cover("3999999999", "HT"), 40), scanned(content(7), 41),
        scanned(cover("3000000001", "JC"), 50), scanned(content(8), 51),
    ]


def patch_t() -> Image.Image:
    return patch_t_image(dpi=TEST_DPI)
