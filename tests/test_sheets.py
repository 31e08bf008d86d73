"""The sheets the service draws (cover sheets, the file PDF's contents, the destruction register, the
四性检测 report) in either language: one font with every glyph their texts need, and text wrapped into
its column without losing a character."""
from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo

from docsvc.formats.sheets import cjk_font, wrap_text

pytestmark = pytest.mark.unit

TRANSLATIONS = Path(__file__).resolve().parent.parent / "docsvc" / "translations"


def _drawn(char: str) -> tuple[tuple[int, int], bytes]:
    mask = cjk_font(40).getmask(char)
    return mask.size, bytes(mask)


def test_the_sheet_font_draws_every_character_of_either_language() -> None:
    """An English sheet must not come out as boxes: every character of every text, in English (the
    messages) and in Chinese (their translations), has a glyph of its own, unlike a private-use one."""
    catalogue = read_mo(BytesIO((TRANSLATIONS / "zh_CN" / "LC_MESSAGES" / "messages.mo").read_bytes()))
    texts = [m.id for m in catalogue if m.id] + [m.string for m in catalogue if m.string]
    characters = {c for text in texts for c in (text if isinstance(text, str) else "".join(text))
                  if not c.isspace()}
    assert "A" in characters and "档" in characters
    missing = _drawn("\ue000")
    assert sorted(c for c in characters if _drawn(c) == missing) == []


def test_wrapped_text_keeps_every_character_and_latin_words_whole() -> None:
    font = cjk_font(40)
    english = "Extended to 2031-01-01: the customer's arrears case is still open"
    lines = wrap_text(english, font, 400)
    assert len(lines) > 1 and all(font.getlength(line) <= 400 for line in lines)
    assert " ".join(lines) == english  # broken only at spaces
    chinese = "延期至 2031-01-01：涉及未结清电费的诉讼尚未结束"
    lines = wrap_text(chinese, font, 400)
    assert len(lines) > 1 and "".join(lines).replace(" ", "") == chinese.replace(" ", "")
    assert lines[0].startswith("延期至 2031-01-01")  # a line is not cut short at a space between Chinese words
    assert wrap_text("", font, 400) == []
