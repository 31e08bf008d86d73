"""From engine output to Words and reading text that reads like the page.

Both engines hand over pieces: tesseract its words (often two or three Chinese characters run
together, and spaced apart in its own text), RapidOCR its detected text segments with a box per
character. Here pieces become Words (each CJK character alone, Latin/digit runs whole) and are
laid out into visual lines, joined without spaces between CJK characters and with one space
where the page itself has a gap (between form fields) or between two Latin/digit words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from statistics import median

from docsvc.ocr.interface import Word

Box = tuple[int, int, int, int]

# Ranges whose characters are written without spaces between them: CJK ideographs (with
# extensions and compatibility forms), CJK punctuation, kana, and full-width forms (：，（）).
_CJK_RANGES = (
    (0x3000, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFF00, 0xFFEF),
    (0x20000, 0x3FFFF),
)
# Width of a Latin letter or digit next to a CJK character in common CJK fonts, used to share
# a tesseract word's box among its characters.
_NARROW_WIDTH = 0.55
# A gap wider than this many line heights is a gap on the paper (between form fields).
_FIELD_GAP = 0.8


def is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def split_word(text: str, box: Box, confidence: float) -> list[Word]:
    """Words of one engine word: its box shared out by the estimated width of each character."""
    tokens = _tokens(text)
    if not tokens:
        return []
    weights = [sum(1.0 if is_cjk(c) else _NARROW_WIDTH for c in token) for token in tokens]
    x0, y0, x1, y1 = box
    scale = (x1 - x0) / sum(weights)
    words, left = [], float(x0)
    for token, weight in zip(tokens, weights):
        right = left + weight * scale
        words.append(Word(token, (round(left), y0, round(right), y1), confidence))
        left = right
    return words


def group_characters(chars: Iterable[tuple[str, Box, float]]) -> list[Word]:
    """Words from per-character boxes: CJK characters alone, runs of other characters merged."""
    words: list[Word] = []
    run: list[tuple[str, Box, float]] = []

    def close_run() -> None:
        if run:
            text = "".join(c for c, _, _ in run)
            box = _union(b for _, b, _ in run)
            words.append(Word(text, box, sum(conf for _, _, conf in run) / len(run)))
            run.clear()

    for char, box, confidence in chars:
        if char.isspace():
            close_run()
        elif is_cjk(char):
            close_run()
            words.append(Word(char, box, confidence))
        else:
            run.append((char, box, confidence))
    close_run()
    return words


def reading_text(pieces: Sequence[Sequence[Word]]) -> tuple[str, list[Word]]:
    """The page's text, line by line, and its words in the same order."""
    lines = _visual_lines([list(piece) for piece in pieces if piece])
    text_lines, ordered = [], []
    for line in lines:
        words = [word for piece in line for word in piece]
        height = _character_height(words)
        parts: list[str] = []
        for previous, word in zip([None, *words], words):
            if previous is not None:
                # Two Latin/digit words next to each other were split at a space or a gap.
                latin_pair = not is_cjk(previous.text[-1]) and not is_cjk(word.text[0])
                if latin_pair or word.box[0] - previous.box[2] > _FIELD_GAP * height:
                    parts.append(" ")
            parts.append(word.text)
        text_lines.append("".join(parts))
        ordered.extend(words)
    return "\n".join(text_lines), ordered


def _character_height(words: Sequence[Word]) -> float:
    # Ideographs are as wide as they are tall, which makes their height the yardstick for gaps;
    # punctuation and Latin letters are shorter.
    ideographs = [w for w in words if is_cjk(w.text[0]) and w.text[0].isalpha()]
    return median(w.box[3] - w.box[1] for w in (ideographs or words))


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    latin = ""
    for char in text:
        if char.isspace() or is_cjk(char):
            if latin:
                tokens.append(latin)
                latin = ""
            if not char.isspace():
                tokens.append(char)
        else:
            latin += char
    return tokens + ([latin] if latin else [])


def _union_of_piece(piece: Sequence[Word]) -> Box:
    return _union(w.box for w in piece)


def _union(boxes: Iterable[Box]) -> Box:
    x0s, y0s, x1s, y1s = zip(*boxes)
    return min(x0s), min(y0s), max(x1s), max(y1s)


def _visual_lines(pieces: list[list[Word]]) -> list[list[list[Word]]]:
    """Pieces grouped into lines top to bottom (whatever blocks the engine put them in), left to right."""
    boxed = sorted(((_union_of_piece(piece), piece) for piece in pieces),
                   key=lambda item: (item[0][1] + item[0][3]) / 2)
    lines: list[list[tuple[Box, list[Word]]]] = []
    tallest: Box = (0, 0, 0, 0)  # the line's tallest piece so far: punctuation sits off-centre
    for box, piece in boxed:
        centre, height = (box[1] + box[3]) / 2, box[3] - box[1]
        if lines and abs(centre - (tallest[1] + tallest[3]) / 2) < max(height, tallest[3] - tallest[1]) / 2:
            lines[-1].append((box, piece))
            if height > tallest[3] - tallest[1]:
                tallest = box
            continue
        lines.append([(box, piece)])
        tallest = box
    return [[piece for _, piece in sorted(line, key=lambda item: item[0][0])] for line in lines]
