"""A4 sheets drawn with the CJK font — cover sheets, contents pages of the file PDF, the destruction
register, the 四性检测 report — that remember where each piece of text went, so the text can be laid
under the image as a text layer.

One font draws both languages: WenQuanYi Zen Hei has Latin glyphs as well as the CJK ones, and a sheet
in English still carries Chinese data (customer names, titles), which a Latin-only font would lose."""
from __future__ import annotations

from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from docsvc.formats.image_pdf import Word

FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"  # fonts-wqy-zenhei (docs/deployment.md)
A4_MM = (210, 297)
MARGIN = 15.0  # mm on every side


@lru_cache(maxsize=8)
def cjk_font(pixels: int) -> ImageFont.FreeTypeFont:
    """The font the service draws with in either language (fonts-wqy-zenhei), `pixels` high; loaded once
    per size."""
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

    def paragraph(self, x: float, y: float, text: str, size: float, *, width: float, pitch: float) -> int:
        """`text` wrapped to `width` mm (wrap_text), a line every `pitch` mm from y; returns the lines taken."""
        lines = wrap_text(text, cjk_font(self._px(size)), self._px(width))
        for n, line in enumerate(lines):
            self.text(x, y + n * pitch, line, size)
        return len(lines)

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


def wrap_text(text: str, font: ImageFont.FreeTypeFont, pixels: float) -> list[str]:
    """`text` in lines that fit `pixels`, nothing cut off: a Latin word (letters, digits, ASCII marks) is
    carried whole to the next line from its space; Chinese breaks between any two characters."""
    lines: list[str] = []
    line = ""
    for char in text:
        if line and font.getlength(line + char) > pixels:
            space = line.rfind(" ")
            if space > 0 and _in_word(char) and _in_word(line[-1]):
                lines.append(line[:space])
                line = line[space + 1:]
            else:
                lines.append(line.rstrip(" "))
                line = ""
            if char == " " and not line:
                continue
        line += char
    return [*lines, line] if line else lines


def _in_word(char: str) -> bool:
    return char.isascii() and not char.isspace()
