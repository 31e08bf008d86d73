"""From engine output to Words and reading text that reads like the page.

Both engines hand over pieces: tesseract its words (often two or three Chinese characters run
together, and spaced apart in its own text), RapidOCR its detected text segments with a box per
character. Here pieces become Words (each CJK character alone, Latin/digit runs whole) and are
laid out into visual lines, joined without spaces between CJK characters and with one space
where the page itself has a gap (between form fields) or between two Latin/digit words.

Engines sometimes give a word a box far taller than its glyphs (RapidOCR does for Latin/digit runs
on forms, up to 14× the line height). Such a box is fitted to its line — the other words of its
piece, or the line it is placed on — and lines are grouped by their median extent, so one such
box can never swallow the lines around it.

A page set in two columns (a blank gutter down the middle of the text, set lines on both sides)
reads column by column; lines reaching into the gutter (a title, a header, a footer) stay where
they are, and a form's label and value cells stay one row per line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from statistics import median

from docsvc.ocr.interface import Word

Box = tuple[int, int, int, int]

# Raise it with every change here that changes the text or boxes a page gets from the same engine
# pieces: each page records the version that laid it out, and `docsvc reread --before N` lays out
# again the pages an older version did (docs/reading.md, "Readers and re-reading").
LAYOUT_VERSION = 2

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
# Between the cells of a table row: a tab reads as a gap in the text panel (white-space: pre-wrap),
# counts as whitespace for search (a phrase across two CJK cells still matches, as across a space)
# and for the parsers of labelled fields (户号\t3301234567).
CELL_SEPARATOR = "\t"
_TABLE_ROWS = 3   # lines in a row that line up before they count as a table
_CELL_GAP = 0.3   # line heights: the least gap that splits cells at a table column
_ROW_CONTINUES = 0.75   # table lines closer than this share of the usual row pitch are one row
_BETWEEN_ROWS = 3   # lines in a row that only start at a table's columns before the table ends
# A box taller than this many times its line's (or the page's) median height does not fit its
# glyphs: RapidOCR gives some Latin/digit runs on forms boxes 3–14× their line's height, and a
# title set 1.5× the body size must still count as fitting.
_TALL = 1.6
# Two columns: a blank strip at least this many line heights wide down the middle of the text, with
# at least this many pieces of set text on each side.
_GUTTER = 0.8
_COLUMN_LINES = 3
_COLUMN_WIDTH = 8   # line heights (about characters) a column of text is wide at least
_GUTTER_CROSSING = 0.2   # a gutter is crossed by at most this share of the busiest strip's pieces
_FILLED = 0.7   # share of its column's width that most lines of a column of text fill
_ACROSS = 0.6   # a piece wider than this share of the text width is set across the page, not in a column


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
    """The page's text, line by line, and its words in the same order (every word's box fitted to
    its line). A table reads row by row, a row's cells separated by a tab (CELL_SEPARATOR)."""
    lines = _visual_lines([_fit_piece(list(piece)) for piece in pieces if piece])
    rows = [_cells([word for piece in line for word in piece]) for line in lines]
    text_lines, ordered = [], []

    def emit(cells: list[list[Word]], separator: str) -> None:
        text_lines.append(separator.join(_cell_text(cell) for cell in cells))
        ordered.extend(word for cell in cells for word in cell)

    at = 0
    for table in _tables(rows):
        for cells in rows[at:table.start]:
            emit(cells, " ")
        for cells in _table_rows([rows[n] for n in table]):
            emit(cells, CELL_SEPARATOR)
        at = table.stop
    for cells in rows[at:]:
        emit(cells, " ")
    return "\n".join(text_lines), ordered


def _cells(words: list[Word]) -> list[list[Word]]:
    """A line's words split where the page has a gap (between form fields or table cells)."""
    height = _character_height(words)
    cells: list[list[Word]] = [[words[0]]]
    for previous, word in zip(words, words[1:]):
        if word.box[0] - previous.box[2] > _FIELD_GAP * height:
            cells.append([word])
        else:
            cells[-1].append(word)
    return cells


def _cell_text(words: list[Word]) -> str:
    parts = [words[0].text]
    for previous, word in zip(words, words[1:]):
        # Two Latin/digit words next to each other were split at a space.
        if not is_cjk(previous.text[-1]) and not is_cjk(word.text[0]):
            parts.append(" ")
        parts.append(word.text)
    return "".join(parts)


def _tables(rows: list[list[list[Word]]]) -> list[range]:
    """The runs of lines that are tables: at least _TABLE_ROWS lines of two cells or more whose cells
    after the first line up (left edges or centres within half a character) with cells of the
    table's other lines — as a form's label and value columns or an unruled list of readings do —
    with the lines between them (up to _BETWEEN_ROWS in a row) whose every cell starts at one of
    the table's columns (a cell's second line, a label set beside it). Lines whose second field merely follows the first
    (申请编号：…　申请日期：…) do not line up from line to line, and stay ordinary lines."""
    heights = [_character_height([w for cell in row for w in cell]) for row in rows]
    tolerance = median(heights) / 2 if heights else 0.0

    def anchors(row: list[list[Word]]) -> list[tuple[float, float]]:
        boxes = [_union(w.box for w in cell) for cell in row[1:]]
        return [(b[0], (b[0] + b[2]) / 2) for b in boxes]

    def aligned(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> bool:
        return any(any(abs(p - q) <= tolerance for p, q in zip(x, y)) for x in a for y in b)

    def in_columns(row: list[list[Word]], run: list[int]) -> bool:
        # every cell starts at a column and ends before the next one (a paragraph's line between
        # two headings 第一条　… starts at the margin too, but runs across the next column)
        starts = sorted(cell[0].box[0] for i in run if len(rows[i]) >= 2 for cell in rows[i])

        def within(cell: list[Word]) -> bool:
            x0, x1 = cell[0].box[0], cell[-1].box[2]
            return (any(abs(x0 - x) <= tolerance for x in starts)
                    and all(x1 <= x + tolerance for x in starts if x > x0 + tolerance))

        return all(within(cell) for cell in row)

    tables: list[range] = []
    run: list[int] = []

    def close_run() -> None:
        full = [i for i in run if len(rows[i]) >= 2
                and any(aligned(anchors(rows[i]), anchors(rows[j])) for j in run if j != i and len(rows[j]) >= 2)]
        if len(full) >= _TABLE_ROWS:
            # a line of one cell after the last row is as likely a note under the table
            tables.append(range(run[0], max(i for i in run if len(rows[i]) >= 2) + 1))
        run.clear()

    for n, row in enumerate(rows):
        if run and len(row) >= 2 and any(aligned(anchors(row), anchors(rows[i])) for i in run):
            run.append(n)
        elif run and in_columns(row, run) and not all(len(rows[i]) < 2 for i in run[-_BETWEEN_ROWS:]):
            run.append(n)   # between rows: a cell's next line, a label set halfway down its row
        else:
            close_run()
            if len(row) >= 2:
                run.append(n)
    close_run()
    return tables


def _table_rows(lines: list[list[list[Word]]]) -> list[list[list[Word]]]:
    """A table's rows, each a list of cells. Lines closer together than the table's usual row pitch
    are one row (a cell of two lines, and the cells set beside it halfway down), each cell's words
    top to bottom; a cell is split where a word starts at one of the table's columns after a
    visible gap, since the engine's boxes can eat into a narrow gap between two cells."""
    words = [w for line in lines for cell in line for w in cell]
    tolerance = _character_height(words) / 2
    columns: list[float] = []
    for x in sorted(cell[0].box[0] for line in lines if len(line) >= 2 for cell in line):
        if not columns or x - columns[-1] > tolerance:
            columns.append(x)

    def column(x: int) -> int:
        return max([0, *(i for i, start in enumerate(columns) if start <= x + tolerance)])

    def split(line: list[list[Word]]) -> list[list[Word]]:
        height = _character_height([w for cell in line for w in cell])
        cells: list[list[Word]] = []
        for cell in line:
            cells.append([cell[0]])
            for previous, word in zip(cell, cell[1:]):
                if word.box[0] - previous.box[2] > _CELL_GAP * height and column(word.box[0]) != column(previous.box[0]):
                    cells.append([word])
                else:
                    cells[-1].append(word)
        return cells

    centres = [median((w.box[1] + w.box[3]) / 2 for cell in line for w in cell) for line in lines]
    pitch = median(b - a for a, b in zip(centres, centres[1:]))
    groups: list[list[list[list[Word]]]] = []
    for n, line in enumerate(lines):
        if groups and centres[n] - centres[n - 1] < _ROW_CONTINUES * pitch:
            groups[-1].append(split(line))
        else:
            groups.append([split(line)])
    rows = []
    for group in groups:
        if len(group) == 1:
            rows.append(group[0])
            continue
        merged: dict[int, list[Word]] = {}
        for line in group:
            for cell in line:
                merged.setdefault(column(cell[0].box[0]), []).extend(cell)
        rows.append([merged[i] for i in sorted(merged)])
    return rows


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


def _fit_piece(piece: list[Word]) -> list[Word]:
    """A piece (one engine segment) whose words are mostly of one height: a word much taller than
    the others is given their vertical extent, since the piece is one line of text."""
    heights = [w.box[3] - w.box[1] for w in piece]
    usual = median(heights)
    fitting = [w for w, h in zip(piece, heights) if h <= _TALL * usual]
    if len(fitting) == len(piece):
        return piece
    top, bottom = round(median(w.box[1] for w in fitting)), round(median(w.box[3] for w in fitting))
    return [w if h <= _TALL * usual else _within(w, top, bottom) for w, h in zip(piece, heights)]


def _within(word: Word, top: int, bottom: int) -> Word:
    return Word(word.text, (word.box[0], top, word.box[2], bottom), word.confidence)


class _Line:
    """Pieces on one visual line; its extent is the median top and bottom of its pieces, so one
    odd box neither moves nor stretches it."""

    def __init__(self, box: Box, piece: list[Word]) -> None:
        self.members: list[tuple[Box, list[Word]]] = [(box, piece)]
        self.top, self.bottom = float(box[1]), float(box[3])

    def add(self, box: Box, piece: list[Word]) -> None:
        self.members.append((box, piece))
        self.top = median(b[1] for b, _ in self.members)
        self.bottom = median(b[3] for b, _ in self.members)

    @property
    def centre(self) -> float:
        return (self.top + self.bottom) / 2

    def takes(self, box: Box) -> bool:
        # within half a line of its centre; punctuation sits off-centre but inside that
        return abs((box[1] + box[3]) / 2 - self.centre) < max(box[3] - box[1], self.bottom - self.top) / 2

    def overlaps(self, box: Box) -> bool:
        return any(b[0] < box[2] and box[0] < b[2] for b, _ in self.members)


def _visual_lines(pieces: list[list[Word]]) -> list[list[list[Word]]]:
    """Pieces grouped into lines top to bottom (whatever blocks the engine put them in), left to right;
    where the page runs in two columns, the left column's lines before the right one's."""
    boxed = [(_union_of_piece(piece), piece) for piece in pieces]
    if not boxed:
        return []
    usual = median(box[3] - box[1] for box, _ in boxed)
    lines = _group(boxed, usual)
    gutter = _gutter(boxed, usual)
    if gutter is not None:
        lines = _column_by_column(lines, gutter, usual)
    return [[piece for _, piece in sorted(line.members, key=lambda item: item[0][0])] for line in lines]


def _group(boxed: list[tuple[Box, list[Word]]], usual: float) -> list[_Line]:
    """Lines of the pieces, top to bottom.

    Pieces of a usual height are grouped first, each joining the line above when it lies within
    half a line of that line's centre. A piece far taller than the page's usual line (a box that
    does not fit its glyphs) cannot say which line it is on, so it never groups others: it goes to
    the line within its extent that has room for it (no piece there overlaps it horizontally — on a
    form, the row whose cell it fills), the nearest such line, and its words take that line's extent.
    """
    regular = sorted((item for item in boxed if item[0][3] - item[0][1] <= _TALL * usual),
                     key=lambda item: (item[0][1] + item[0][3]) / 2)
    lines: list[_Line] = []
    for box, piece in regular:
        if lines and lines[-1].takes(box):
            lines[-1].add(box, piece)
        else:
            lines.append(_Line(box, piece))
    for box, piece in (item for item in boxed if item[0][3] - item[0][1] > _TALL * usual):
        centre = (box[1] + box[3]) / 2
        inside = [line for line in lines if box[1] <= line.centre <= box[3]]
        room = [line for line in inside if not line.overlaps(box)] or inside
        if not room:
            lines.append(_Line(box, piece))
            continue
        line = min(room, key=lambda candidate: abs(candidate.centre - centre))
        fitted = [_within(w, round(line.top), round(line.bottom)) for w in piece]
        line.add((box[0], round(line.top), box[2], round(line.bottom)), fitted)
    lines.sort(key=lambda line: line.centre)
    return lines


def _gutter(boxed: list[tuple[Box, list[Word]]], usual: float) -> tuple[float, float] | None:
    """The blank vertical strip between two columns of text, if the page has one.

    A strip near the middle of the text, at least _GUTTER line heights wide, that few pieces cross
    (a title, a header, a footer across the page may; the lines of either column do not). It counts
    as a gutter only when both sides read like running text: at least _COLUMN_WIDTH characters
    wide, each wider than twice the gutter, with at least _COLUMN_LINES pieces, a third or more of
    them ending near the gutter (left) or the right edge (right), as set lines do (a paragraph's
    last line need not). A form's labels and values are short and end wherever their text ends,
    so a form stays one row per line.
    """
    left_edge, right_edge = min(b[0] for b, _ in boxed), max(b[2] for b, _ in boxed)
    step = max(1.0, usual / 4)
    bins = int((right_edge - left_edge) / step) + 1
    crossing = [0] * bins
    # Lines set across the whole text width (an introduction above the columns, a list below
    # them) are no column's lines, however many there are; they stay in place.
    for box, _ in (item for item in boxed if item[0][2] - item[0][0] <= _ACROSS * (right_edge - left_edge)):
        for i in range(int((box[0] - left_edge) / step), int((box[2] - left_edge) / step) + 1):
            crossing[i] += 1
    few = max(crossing) * _GUTTER_CROSSING
    strips: list[tuple[float, float]] = []
    start: int | None = None
    for i, count in enumerate([*crossing, few + 1]):     # a busy sentinel closes the last strip
        if count <= few:
            start = i if start is None else start
        elif start is not None:
            strips.append((left_edge + start * step, left_edge + i * step))
            start = None
    width = right_edge - left_edge
    central = [strip for strip in strips if strip[1] - strip[0] >= _GUTTER * usual
               and 0.3 * width <= (strip[0] + strip[1]) / 2 - left_edge <= 0.7 * width]
    if not central:
        return None
    best = max(central, key=lambda strip: strip[1] - strip[0])
    left = [b for b, _ in boxed if b[2] <= best[0] + step]
    right = [b for b, _ in boxed if b[0] >= best[1] - step]
    # each column's own right edge: lines set across the page may reach further than either
    left_end = max(b[2] for b in left) if left else best[0]
    right_end = max(b[2] for b in right) if right else right_edge
    near = 2 * usual

    def set_lines(boxes: list[Box], edge: float) -> bool:
        # most set lines fill their column; a form's fields (户号：…　户名：…) are short beside it
        width = edge - min(b[0] for b in boxes) if boxes else 0
        return (len(boxes) >= _COLUMN_LINES and sum(edge - b[2] <= near for b in boxes) >= len(boxes) / 3
                and median(b[2] - b[0] for b in boxes) >= _FILLED * width)

    # columns of text are many characters wide and the gutter narrow beside them; a form's label
    # column is a few characters wide, often with a wide blank before the values
    columns = (best[0] - left_edge, right_edge - best[1])
    if min(columns) < _COLUMN_WIDTH * usual or best[1] - best[0] > 0.5 * min(columns):
        return None
    return best if set_lines(left, left_end) and set_lines(right, right_end) else None


def _column_by_column(lines: list[_Line], gutter: tuple[float, float], usual: float) -> list[_Line]:
    """Each run of lines with nothing in the gutter read as its left column, then its right one;
    lines reaching into it (a title, a header, a footer, a full-width paragraph) stay where they are."""
    middle = (gutter[0] + gutter[1]) / 2
    ordered: list[_Line] = []
    run: list[_Line] = []

    def close_run() -> None:
        members = [member for line in run for member in line.members]
        ordered.extend(_group([m for m in members if m[0][2] <= middle], usual))
        ordered.extend(_group([m for m in members if m[0][2] > middle], usual))
        run.clear()

    for line in lines:
        if any(box[0] < middle < box[2] for box, _ in line.members):   # reaches across it
            close_run()
            ordered.append(line)
        else:
            run.append(line)
    close_run()
    return ordered
