"""OCR layer with the real engines: orientation, deskew, text, words and boxes.

Pages are rendered from made-up form text with the CJK font; reading tests use a compact page
(the title and the lines archivists search by) so each engine run takes a second or two.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image, ImageDraw, ImageOps

from docsvc.ocr import ENGINES, OcrError, Word, deskew_angle, detect_rotation, get_engine, normalise, reapply
from docsvc.ocr.layout import reading_text, split_word
from docsvc.ocr.tesseract import TesseractEngine
from tests.samples import char_error_rate, form_text, render_page

pytestmark = pytest.mark.integration   # tesseract runs as a process

SEED = 7
KEY_FIELDS = ("户号", "用电地址", "产权分界点", "电能表号", "合同编号")
SPACED_OUT_CHINESE = re.compile(r"[\u4e00-\u9fff] [\u4e00-\u9fff] [\u4e00-\u9fff]")


def compact_text(seed: int = SEED) -> str:
    lines = form_text(seed).split("\n")
    return "\n".join([lines[0], *(line for line in lines[1:] if any(k in line for k in KEY_FIELDS))])


def crop_to_ink(page: Image.Image, margin: int = 60) -> Image.Image:
    x0, y0, x1, y1 = ImageOps.invert(page.convert("L")).getbbox()
    return page.crop((max(0, x0 - margin), max(0, y0 - margin),
                      min(page.width, x1 + margin), min(page.height, y1 + margin)))


def account_number(text: str) -> str:
    return re.search(r"户号：(\d{10})", text).group(1)


@pytest.fixture(scope="module")
def compact_page() -> Image.Image:
    return crop_to_ink(render_page(compact_text()))


@pytest.fixture(scope="module")
def readings(compact_page):
    """Each engine's reading of the compact upright page, read once for the module."""
    return {name: get_engine(name).recognise(compact_page) for name in ENGINES}


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_reads_form_phrases_and_account_number(readings, engine):
    result = readings[engine]
    assert "产权分界点" in result.text
    assert account_number(compact_text()) in result.text
    assert result.engine == engine
    assert result.engine_version.startswith({"rapidocr": "rapidocr_onnxruntime ", "tesseract": "tesseract 5"}[engine])


def test_rapidocr_reads_a_clean_page_nearly_perfectly(readings):
    assert char_error_rate(compact_text(), readings["rapidocr"].text) < 0.02


def test_tesseract_text_has_no_spaces_between_chinese_characters(readings):
    text = readings["tesseract"].text
    assert not SPACED_OUT_CHINESE.search(text), text
    assert "分界点" in text


@pytest.mark.parametrize("engine", ENGINES)
def test_words_spell_the_text_inside_the_image_with_confidences(readings, compact_page, engine):
    result = readings[engine]
    assert result.words
    assert "".join(w.text for w in result.words) == "".join(result.text.split())
    for word in result.words:
        x0, y0, x1, y1 = word.box
        assert 0 <= x0 <= x1 <= compact_page.width and 0 <= y0 <= y1 <= compact_page.height, word
        assert 0.0 <= word.confidence <= 1.0
    assert result.confidence == pytest.approx(sum(w.confidence for w in result.words) / len(result.words))


def test_chinese_words_are_single_characters_and_numbers_stay_whole(readings):
    words = [w.text for w in readings["rapidocr"].words]
    assert account_number(compact_text()) in words
    assert all(len(w) == 1 for w in words if re.fullmatch(r"[\u4e00-\u9fff]+", w))


@pytest.mark.parametrize("variant, rotation", [("clean", 0), ("noisy", 0), ("bitonal", 0), ("jpeg", 0),
                                               ("rot90", 90), ("rot180", 180), ("rot270", 270)])
def test_page_orientation_is_detected(variant, rotation):
    page = render_page(form_text(SEED), variant=variant)
    assert detect_rotation(page) == rotation


@pytest.mark.parametrize("turned", [0, 90, 180, 270])
def test_a_recorded_turn_and_skew_redraw_the_normalised_page_exactly(turned: int) -> None:
    """What a restore relies on: the page image comes back from the original and the page's record alone."""
    raw = render_page(form_text(4), variant="skewed", dpi=150).rotate(turned, expand=True, fillcolor=255)
    done = normalise(raw)
    assert done.rotation == turned and done.skew
    again = reapply(raw, done.rotation, done.skew)
    assert again.size == done.image.size and again.info.get("dpi") == done.image.info.get("dpi")
    assert again.tobytes() == done.image.tobytes()


@pytest.mark.parametrize("turned", [90, 180, 270])
def test_turned_page_reads_as_well_as_upright(compact_page, readings, turned):
    upright = normalise(compact_page.rotate(turned, expand=True))
    assert upright.rotation == turned
    assert upright.image.size == compact_page.size
    result = get_engine("rapidocr").recognise(upright.image)
    reference = compact_text()
    assert char_error_rate(reference, result.text) <= char_error_rate(reference, readings["rapidocr"].text) + 0.01


def test_tesseract_reads_an_upside_down_page_once_normalised(compact_page, readings):
    upright = normalise(compact_page.rotate(180))
    result = get_engine("tesseract").recognise(upright.image)
    reference = compact_text()
    assert char_error_rate(reference, result.text) <= char_error_rate(reference, readings["tesseract"].text) + 0.02


@pytest.mark.parametrize("skew", [-3.0, 1.2, 2.5])
def test_deskew_angle_of_skewed_page_is_near_the_truth(skew):
    page = render_page(form_text(SEED), variant="skewed", skew=skew)
    assert deskew_angle(page) == pytest.approx(skew, abs=0.3)
    assert normalise(page).skew == pytest.approx(skew, abs=0.3)


def test_straightened_page_has_level_lines():
    page = render_page(form_text(SEED), variant="skewed", skew=2.5)
    assert abs(deskew_angle(normalise(page).image)) <= 0.2


def test_turned_and_skewed_page_is_both_righted_and_straightened():
    page = render_page(form_text(SEED), variant="skewed", skew=-2.0).rotate(270, expand=True)
    upright = normalise(page)
    assert upright.rotation == 270
    assert upright.skew == pytest.approx(-2.0, abs=0.3)


@pytest.mark.parametrize("turned", [180, 270])
def test_ruled_inspection_sheet_turned_and_skewed_is_righted(turned):
    # Inspection sheets are tables: rules run across and down the page between the lines.
    page = render_page(form_text(SEED)).convert("L")
    draw = ImageDraw.Draw(page)
    for y in range(400, 2200, 82):
        draw.line((200, y, 2280, y), fill=0, width=4)
    for x in (200, 700, 1400, 2280):
        draw.line((x, 400, x, 2200), fill=0, width=4)
    upright = normalise(page.rotate(2, fillcolor=255).rotate(turned, expand=True))
    assert upright.rotation == turned
    assert upright.skew == pytest.approx(2.0, abs=0.3)


def test_blank_page_is_left_as_it_is():
    blank = Image.new("L", (1240, 1754), 255)
    assert normalise(blank).rotation == 0
    assert deskew_angle(blank) == 0.0


def test_normalised_page_keeps_colour_mode_and_resolution():
    for variant, mode in [("clean", "RGB"), ("bitonal", "1"), ("rot90", "RGB")]:
        upright = normalise(render_page(form_text(SEED), variant=variant, dpi=200))
        assert upright.image.mode == mode
        assert upright.image.info["dpi"] == (200, 200)


def test_get_engine_builds_each_engine_once_for_all_threads():
    with ThreadPoolExecutor(4) as pool:
        engines = list(pool.map(get_engine, ["rapidocr"] * 4))
    assert all(engine is get_engine("rapidocr") for engine in engines)
    assert get_engine("tesseract") is get_engine("tesseract")


def test_unknown_engine_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="rapidocr, tesseract"):
        get_engine("abbyy")


def test_rapidocr_gives_the_same_text_from_parallel_threads(compact_page):
    # A squarish corner: RapidOCR scales short strips up to a 736 px short side, slowly.
    corner = compact_page.crop((0, 0, compact_page.width // 2, compact_page.height // 2))
    engine = get_engine("rapidocr")
    alone = engine.recognise(corner).text
    barrier = threading.Barrier(2)

    def read(_: int) -> str:
        barrier.wait()
        return engine.recognise(corner).text

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(read, range(2))) == [alone, alone]


def test_tesseract_without_a_language_says_which_is_missing():
    with pytest.raises(OcrError, match="klingon"):
        TesseractEngine(languages="chi_sim+klingon")


def test_reading_text_joins_chinese_without_spaces_and_keeps_gaps_between_fields():
    # Tesseract's style: characters of one phrase split over several words.
    pieces = [split_word("产权", (100, 0, 200, 50), 0.9), split_word("分界点", (200, 0, 350, 50), 0.8),
              split_word("GD-2019-004512", (360, 0, 700, 50), 0.9), split_word("10kV", (720, 0, 820, 50), 0.9),
              split_word("户号", (1000, 0, 1100, 50), 0.9)]
    text, words = reading_text(pieces)
    assert text == "产权分界点GD-2019-004512 10kV 户号"
    assert [w.text for w in words][:5] == ["产", "权", "分", "界", "点"]


def test_reading_text_orders_lines_top_to_bottom_across_engine_blocks():
    right_column = [Word("日", (900, 10, 950, 60), 1.0)]
    left_column = [Word("甲", (100, 12, 150, 62), 1.0)]
    next_line = [Word("乙", (100, 100, 150, 150), 1.0)]
    text, _ = reading_text([right_column, next_line, left_column])
    assert text == "甲 日\n乙"


def test_form_text_is_deterministic_and_has_the_identifiers_archivists_search():
    text = form_text(3)
    assert text == form_text(3) != form_text(4)
    assert re.search(r"户号：\d{10}(?!\d)", text)
    assert re.search(r"GD-\d{4}-\d{6}", text)
    assert "产权分界点" in text and "电能表号" in text
    assert 15 <= len(text.split("\n")) <= 25


def test_rendered_a4_page_has_its_size_and_resolution():
    page = render_page("标题\n正文", variant="clean")
    assert page.size == (2480, 3508)
    assert page.info["dpi"] == (300, 300)
    assert render_page("标题", variant="rot90").size == (3508, 2480)


def test_char_error_rate_ignores_whitespace_and_width_forms():
    assert char_error_rate("产权分界点：10kV", "产 权 分界点:10kV") == 0.0
    assert char_error_rate("户号", "户名") == 0.5
    assert char_error_rate("", "") == 0.0


@pytest.mark.parametrize("variant,expected", [("rot90", 90), ("rot180", 180), ("rot270", 270)])
def test_tesseract_osd_second_opinion_reads_turned_pages(variant: str, expected: int) -> None:
    from docsvc.ocr.orientation import osd_rotation

    assert osd_rotation(render_page(form_text(7), dpi=200, variant=variant)) == expected


def test_tesseract_osd_gives_no_verdict_on_a_blank_page() -> None:
    from docsvc.ocr.orientation import osd_rotation

    assert osd_rotation(Image.new("L", (1654, 2339), 255)) is None
