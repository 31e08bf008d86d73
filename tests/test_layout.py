"""Reading a page the way a person reads it (issue 12, point 1): every word box fits its line, and
one box that does not can never merge lines."""
from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any
from statistics import median

import pytest

from docsvc.config import Settings
from docsvc.ocr.interface import Word
from docsvc.ocr.layout import reading_text
from docsvc.pipeline.recognition import read_page
from tests.samples import FORM_ROWS, FORM_TITLE, render_bordered_form

LINE_HEIGHT = 42
ROW_PITCH = 90


def _row(n: int, label: str, value: str) -> list[list[Word]]:
    """RapidOCR's pieces for one form row: the label's characters, then the value's digit run."""
    top = 100 + n * ROW_PITCH
    label_piece = [Word(c, (100 + 45 * i, top, 142 + 45 * i, top + LINE_HEIGHT), 0.99) for i, c in enumerate(label)]
    return [label_piece, [Word(value, (600, top, 600 + 24 * len(value), top + LINE_HEIGHT), 0.98)]]


def _lines_of(text: str, words: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The stored words of each text line (words come in reading order; a line is its words joined)."""
    lines, at = [], 0
    for line in text.split("\n"):
        target, taken, got = line.replace(" ", "").replace("\t", ""), [], ""
        while got != target:
            got += words[at]["text"]
            taken.append(words[at])
            at += 1
        lines.append(taken)
    assert at == len(words)
    return lines


def _height(word: Word | dict[str, Any]) -> int:
    box = word["box"] if isinstance(word, dict) else word.box
    return box[3] - box[1]


def test_one_digit_box_many_lines_tall_merges_no_lines_and_is_fitted_to_its_row() -> None:
    # as on the collapsed forms: the 户号 run's box is 571 px on a page of 42 px lines, and reaches
    # from above its own row down across seven more rows
    rows = [("户号", "3301234567"), ("户名", "GD"), ("电压", "0.22kV"), ("表号", "3300012345678"),
            ("日期", "2023-06-15"), ("人员", "ZW"), ("电话", "13905710088"), ("封印", "FY-22-009981")]
    pieces = [piece for n, (label, value) in enumerate(rows) for piece in _row(n, label, value)]
    tall = [Word("3301234567", (600, 60, 840, 631), 0.97)]
    pieces[1] = tall                                         # the 户号 value, box 571 px tall
    text, words = reading_text(pieces)
    assert text.split("\n") == [f"{label}\t{value}" for label, value in rows]   # a form is a table
    fitted = next(w for w in words if w.text == "3301234567")
    assert fitted.box[1] == 100 and fitted.box[3] == 100 + LINE_HEIGHT   # on its row, as tall as the row
    assert all(_height(w) <= 1.6 * LINE_HEIGHT for w in words)


def test_a_tall_latin_word_inside_a_line_gets_the_line_height() -> None:
    piece = [Word("合", (100, 200, 142, 242), 0.99), Word("同", (145, 200, 187, 242), 0.99),
             Word("GD-2019-004512", (190, 20, 500, 560), 0.9)]
    above = [Word("甲", (100, 110, 142, 152), 0.99)]
    below = [Word("乙", (100, 290, 142, 332), 0.99)]
    text, words = reading_text([above, piece, below])
    assert text == "甲\n合同GD-2019-004512\n乙"
    assert next(w for w in words if w.text.startswith("GD")).box[1:4:2] == (200, 242)


def test_punctuation_below_the_centre_stays_on_its_line() -> None:
    line = [Word("合", (100, 200, 142, 242), 0.99), Word("同", (145, 200, 187, 242), 0.99)]
    comma = [Word("，", (190, 228, 200, 244), 0.9)]
    text, _ = reading_text([line, comma, [Word("乙", (100, 290, 142, 332), 0.99)]])
    assert text == "合同，\n乙"


@pytest.mark.integration   # the real RapidOCR engine on a whole 300 dpi page
def test_bordered_form_with_identifiers_reads_row_by_row_with_boxes_that_fit(tmp_path: Path) -> None:
    scan = tmp_path / "form.jpg"
    scan.write_bytes(render_bordered_form(seed=12))
    settings = Settings.from_env({"DOCSVC_DATA_DIR": str(tmp_path / "var"), "DOCSVC_SECRET_KEY": "x",
                                  "DOCSVC_OCR_ENGINE": "rapidocr"})
    _, page = read_page(scan, "image/jpeg", 0, settings)        # orientation, deskew, engine, layout
    lines = _lines_of(page.text, page.words)
    assert len(lines) == len(FORM_ROWS) + 1                       # the title and one line per row
    for line in lines:
        usual = median(_height(w) for w in line)
        assert all(_height(w) <= 1.6 * usual for w in line), line
    at = 0
    for expected in [FORM_TITLE, *(part for row in FORM_ROWS for part in row)]:
        found = page.text.find(expected, at)
        assert found >= 0, f"{expected!r} missing or out of order in:\n{page.text}"
        at = found + len(expected)
    assert page.text.split("\n")[1:] == [f"{label}\t{value}" for label, value in FORM_ROWS]


def _column_pieces(x: int, lines: int, top: int = 200, chars: int = 20) -> list[list[Word]]:
    """Set lines of a column: each a detected segment of `chars` characters 40 px wide, ending at the column edge."""
    return [[Word("字", (x + 40 * i, top + 60 * n, x + 40 * i + 38, top + 60 * n + 40), 0.99) for i in range(chars)]
            for n in range(lines)]


def test_two_columns_read_column_by_column_with_title_and_footer_in_place() -> None:
    title = [[Word(c, (700 + 60 * i, 60, 755 + 60 * i, 115), 0.99) for i, c in enumerate("合同附件")]]
    left, right = _column_pieces(100, 6), _column_pieces(1000, 6)
    left[0][0] = Word("左", left[0][0].box, 0.99)
    right[0][0] = Word("右", right[0][0].box, 0.99)
    footer = [[Word(c, (890 + 40 * i, 700, 928 + 40 * i, 740), 0.99) for i, c in enumerate("第1页")]]   # centred
    # the engine's order mixes the columns, as RapidOCR's does for side-by-side lines
    text, _ = reading_text([*title, *(p for pair in zip(right, left) for p in pair), *footer])
    lines = text.split("\n")
    assert lines[0] == "合同附件" and lines[-1] == "第1页"
    assert lines[1].startswith("左") and lines[7].startswith("右") and len(lines) == 14
    assert all(len(line) == 20 for line in lines[1:13])           # no line joins the two columns


def test_a_form_with_a_wide_blank_between_labels_and_values_stays_one_row_per_line() -> None:
    rows = [("户号", "3301234567"), ("户名", "王建国"), ("电能表号", "3300012345678"), ("电压等级", "0.22kV"),
            ("合同编号", "GD-2019-004512"), ("检查人员", "张伟")]
    pieces = [piece for n, (label, value) in enumerate(rows) for piece in _row(n, label, value)]
    text, _ = reading_text(pieces)
    assert text.split("\n") == [f"{label}\t{value}" for label, value in rows]   # a form is a table


@pytest.mark.integration   # the real RapidOCR engine on a whole 300 dpi page
def test_two_column_contract_page_reads_column_by_column(tmp_path: Path) -> None:
    from difflib import SequenceMatcher

    from tests.samples import render_two_column_page

    scan, expected = render_two_column_page(seed=3)
    path = tmp_path / "contract.jpg"
    scan.save(path, "JPEG", quality=85, dpi=(300, 300))
    settings = Settings.from_env({"DOCSVC_DATA_DIR": str(tmp_path / "var"), "DOCSVC_SECRET_KEY": "x",
                                  "DOCSVC_OCR_ENGINE": "rapidocr"})
    _, page = read_page(path, "image/jpeg", 0, settings)
    read = [unicodedata.normalize("NFKC", line).replace(" ", "") for line in page.text.split("\n") if line.strip()]
    wanted = [unicodedata.normalize("NFKC", line).replace(" ", "") for line in expected]

    def best(line: str) -> tuple[float, int]:
        return max((SequenceMatcher(None, line, w).ratio(), i) for i, w in enumerate(wanted))

    matches = [best(line) for line in read]
    assert all(ratio >= 0.85 for ratio, _ in matches), list(zip(read, matches))   # no line mixes the columns
    assert [i for _, i in matches] == list(range(len(wanted))), page.text          # every line, in reading order


def _reading_order(read_text: str, expected: list[str]) -> list[int]:
    """For each line read, the index of the expected line it is (each must match one closely)."""
    from difflib import SequenceMatcher

    read = [unicodedata.normalize("NFKC", line).replace(" ", "").replace("\t", "")
            for line in read_text.split("\n") if line.strip()]
    wanted = [unicodedata.normalize("NFKC", line).replace(" ", "") for line in expected]
    matches = [max((SequenceMatcher(None, line, w).ratio(), i) for i, w in enumerate(wanted)) for line in read]
    assert all(ratio >= 0.85 for ratio, _ in matches), list(zip(read, matches))
    return [i for _, i in matches]


@pytest.mark.integration   # the real RapidOCR engine on a 300 dpi page
def test_no_line_of_a_linn_style_sheet_is_lost_and_its_columns_read_in_order(tmp_path: Path) -> None:
    # RapidOCR's per-line direction classifier took a long upright serif line for an upside-down one;
    # read turned, it scored under the threshold and vanished (linn.png's "extremely powerful, …").
    from tests.samples import render_product_sheet

    scan, expected = render_product_sheet()
    path = tmp_path / "sheet.png"
    scan.save(path, dpi=(300, 300))
    settings = Settings.from_env({"DOCSVC_DATA_DIR": str(tmp_path / "var"), "DOCSVC_SECRET_KEY": "x",
                                  "DOCSVC_OCR_ENGINE": "rapidocr"})
    _, page = read_page(path, "image/png", 0, settings)
    assert _reading_order(page.text, expected) == list(range(len(expected))), page.text


def _read(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "scan.jpg"
    path.write_bytes(data)
    settings = Settings.from_env({"DOCSVC_DATA_DIR": str(tmp_path / "var"), "DOCSVC_SECRET_KEY": "x",
                                  "DOCSVC_OCR_ENGINE": "rapidocr"})
    return read_page(path, "image/jpeg", 0, settings)[1].text


@pytest.mark.integration   # the real RapidOCR engine on a 300 dpi page
def test_a_work_order_reads_header_title_rows_cell_by_cell_and_footer_in_order(tmp_path: Path) -> None:
    from tests.samples import render_work_order

    data, expected = render_work_order(seed=5)               # noisy, JPEG quality 35
    text = _read(tmp_path, data)
    assert _reading_order(text, expected) == list(range(len(expected))), text
    rows = [unicodedata.normalize("NFKC", line) for line in text.split("\n")[2:-1]]
    # every character of every identifier, each cell on its own, in row order
    assert rows == [unicodedata.normalize("NFKC", line) for line in expected[2:-1]], text


@pytest.mark.integration   # the real RapidOCR engine on a 300 dpi page
def test_an_unruled_table_reads_row_by_row_with_its_cells_apart(tmp_path: Path) -> None:
    from tests.samples import render_reading_list

    data, expected = render_reading_list(seed=2)
    text = _read(tmp_path, data)
    assert _reading_order(text, expected) == list(range(len(expected))), text
    lines = text.split("\n")
    assert lines[2:-1] == expected[2:-1], text                # header and readings, one tab between cells
    assert "\t" not in lines[1] and "\t" not in lines[-1]    # the lines around it are no table rows


def test_lines_whose_second_field_merely_follows_the_first_are_no_table() -> None:
    def field_line(n: int, first: str, second: str) -> list[list[Word]]:
        top, x, pieces = 100 + 60 * n, 100, []
        for part in (first, second):
            pieces.append([Word(c, (x + 42 * i, top, x + 42 * i + 40, top + 40), 0.99) for i, c in enumerate(part)])
            x += 42 * len(part) + 120
        return pieces

    fields = [("申请编号：SQ2019", "申请日期：2019年"), ("户号：3301", "户名：宏达机械"),
              ("法定代表人：王建国", "联系电话：1390571"), ("申请类别：新装", "用电类别：大工业")]
    text, _ = reading_text([p for n, (a, b) in enumerate(fields) for p in field_line(n, a, b)])
    assert "\t" not in text and len(text.split("\n")) == 4


def _text_piece(text: str, x: int, top: int) -> list[Word]:
    return [Word(c, (x + 42 * i, top, x + 42 * i + 40, top + 40), 0.99) for i, c in enumerate(text)]


def test_a_cell_of_two_lines_reads_whole_in_its_row_with_the_label_set_beside_it() -> None:
    # bordered rows 90 px apart; the address row is taller: its value on two lines 55 px apart and
    # its label centred between them, so the label is a line of its own to the line grouping
    pieces = [_text_piece("户号", 100, 100), [Word("3301234567", (600, 100, 840, 140), 0.99)],
              _text_piece("户名", 100, 190), _text_piece("李海燕", 600, 190),
              _text_piece("城东区人民路", 600, 270), _text_piece("用电地址", 100, 297),
              _text_piece("宏达大厦", 600, 325),
              _text_piece("电压", 100, 405), [Word("0.22kV", (600, 405, 740, 445), 0.99)],
              _text_piece("备注", 100, 495), _text_piece("无", 600, 495)]
    text, words = reading_text(pieces)
    assert text.split("\n") == ["户号\t3301234567", "户名\t李海燕", "用电地址\t城东区人民路宏达大厦",
                                "电压\t0.22kV", "备注\t无"]
    assert "".join(w.text for w in words) == text.replace("\t", "").replace("\n", "")
    assert sorted(w.box for w in words) == sorted(w.box for piece in pieces for w in piece)   # boxes untouched


def test_every_word_is_read_once_on_a_page_of_columns_and_a_table() -> None:
    left, right = _column_pieces(100, 6), _column_pieces(1000, 6)
    table = [piece for n, (label, value) in enumerate([("户号", "3301234567"), ("户名", "GD"), ("电压", "0.22kV")])
             for piece in _row(n + 10, label, value)]
    pieces = [*left, *right, *table]
    _, words = reading_text(pieces)
    assert sorted((w.text, w.box) for w in words) == sorted((w.text, w.box) for p in pieces for w in p)


def test_paragraph_lines_at_the_margin_do_not_join_two_field_lines_into_a_table() -> None:
    # an application form: two lines of two fields that happen to line up, paragraph lines, then a
    # third such line far below — no table, whatever starts at the margin in between
    lines = [("申请类别：新装", "用电类别：大工业用电"), ("供电电压：10kV", "申请容量：800kVA"),
             ("电源接入：10kV南湖线29号杆",), ("产权分界点：南湖线29号杆T接点",), ("计量方式：高供高计",),
             ("电能表号：3303294916953",), ("受理人：徐建国", "受理日期：2020年")]
    pieces = []
    for n, fields in enumerate(lines):
        pieces.append(_text_piece(fields[0], 100, 100 + 60 * n))
        if len(fields) > 1:
            pieces.append(_text_piece(fields[1], 100 + 42 * 20, 100 + 60 * n))   # an A4 line is ~40 characters
    text, _ = reading_text(pieces)
    assert "\t" not in text and len(text.split("\n")) == len(lines)


def test_contract_clause_headings_with_their_paragraphs_between_are_no_table() -> None:
    clauses = [("第一条", "用电容量和用电性质", "用电人用电类别为非居民照明，合同约定容量四百千伏安。"),
               ("第二条", "供电方式", "供电人以十千伏电压经滨江线三十五号杆向用电人供电。"),
               ("第三条", "产权分界点及责任划分", "产权分界点设在滨江线三十五号杆出线刀闸处。"),
               ("第四条", "用电计量", "计量点设在产权分界点处，互感器变比七十五比五。")]
    pieces, y = [], 100
    for number, title, body in clauses:
        pieces += [_text_piece(number, 100, y), _text_piece(title, 100 + 42 * 4, y), _text_piece(body, 100, y + 60)]
        y += 120
    text, _ = reading_text(pieces)
    assert "\t" not in text
    assert text.split("\n") == [line for number, title, body in clauses for line in (f"{number} {title}", body)]
