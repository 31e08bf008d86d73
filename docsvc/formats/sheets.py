"""A4 sheets drawn with the CJK font — contents pages of the file PDF, the destruction register — that
remember where each piece of text went, so the text can be laid under the image as a text layer."""
from __future__ import annotations

from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from docsvc.formats.coversheets import A4_MM, FONT_PATH
from docsvc.formats.image_pdf import Word

MARGIN = 15.0  # mm on every side


@lru_cache(maxsize=8)
def cjk_font(pixels: int) -> ImageFont.FreeTypeFont:
    """The CJK font the service draws with (fonts-wqy-zenhei), `pixels` high; loaded once per size."""
    return ImageFont.truetype(FONT_PATH, pixels)


class Sheet:
    """An A4 sheet drawn with the CJK font (as the cover sheets are), remembering where each piece
    of text went so it can be laid under the image as text."""

    def __init__(self, dpi: int) -> None:
        self.dpi = dpi
        self.image = Image.new("L", (self._px(A4_MM[0]), self._px(A4_MM[1])), 255)
        self._draw = ImageDraw.Draw(self.image)
        self.words: list[Word] = []

    def text(self, x: float, y: float, text: str, size: float, *, width: float | None = None) -> None:
        """Text at (x, y) mm inside the margins, `size` mm high, cut with … to fit `width` mm."""
        font = cjk_font(self._px(size))
        if width is not None:
            text = fit_text(text, font, self._px(width))
        at = (self._px(MARGIN + x), self._px(MARGIN + y))
        self._draw.text(at, text, font=font, fill=0)
        x0, y0, x1, y1 = self._draw.textbbox(at, text, font=font)
        self.words.append(Word(text, (x0, y0, x1, y1)))

    def line(self, y: float) -> None:
        top = self._px(MARGIN + y)
        self._draw.line([(self._px(MARGIN), top), (self._px(A4_MM[0] - MARGIN), top)], fill=0,
                        width=max(1, self.dpi // 100))

    def _px(self, mm: float) -> int:
        return round(mm / 25.4 * self.dpi)


def fit_text(text: str, font: ImageFont.FreeTypeFont, pixels: int) -> str:
    if font.getlength(text) <= pixels:
        return text
    while text and font.getlength(text + "…") > pixels:
        text = text[:-1]
    return text + "…"
