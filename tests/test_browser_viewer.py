"""The page viewer in a real browser (issue 14, point 6): zoom, fit, a view-only rotation, Ctrl+wheel and
drag; the hit box stays over the hit word through all of them (its box on screen is compared with the
word's, mapped through the image's own box); the text panel marks the hit's line; keys walk hits and
pages. One served docsvc for the whole walk (each browser test starts its own)."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page as BrowserPage, expect
from sqlalchemy import select

from docsvc.models import Page
from docsvc.runtime import Runtime
from tests.browser import Server, log_in, seed_matching_document

TERM = "产权分界点"
WIDTH, HEIGHT = 600, 800
WORD = (160, 100, 300, 130)            # the term's box on the scan, in image pixels
TEXTS = [f"供用电合同\n本合同{TERM}位于配电房\n供电方（盖章）", "签字页", f"附图\n{TERM}示意"]  # pages 1 and 3 match


def seed(rt: Runtime) -> list[int]:
    """A three-page contract, read and indexed; the matching pages carry the term as an OCR word."""
    return seed_matching_document(rt, TEXTS, TERM, WORD, (WIDTH, HEIGHT))


# On screen: the image's box, the hit box's, the total turn and the zoom label, read in one go.
GEOMETRY = """() => {
  const b = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const m = /rotate\\((\\d+)deg\\)/.exec(document.getElementById('viewer').style.transform);
  return {image: b(document.getElementById('page-image')), hit: b(document.querySelector('#boxes .hit-box')),
          turn: m ? Number(m[1]) : 0, zoom: document.getElementById('zoom-level').textContent,
          viewport: [document.getElementById('viewport').clientWidth, document.getElementById('viewport').clientHeight]};
}"""


def _on_screen(image: list[float], turn: int, x: float, y: float) -> tuple[float, float]:
    """Where the image point (x, y) is drawn, for an image drawn in box `image` turned by `turn`°."""
    left, top, right, _ = image
    s = (right - left) / (HEIGHT if turn % 180 else WIDTH)
    return {0: (left + x * s, top + y * s), 90: (left + (HEIGHT - y) * s, top + x * s),
            180: (left + (WIDTH - x) * s, top + (HEIGHT - y) * s), 270: (left + y * s, top + (WIDTH - x) * s)}[turn]


def assert_box_over_word(g: dict) -> float:
    """The hit box covers the word's drawn box and exceeds it by no more than its padding; returns the scale."""
    corners = [_on_screen(g["image"], g["turn"], x, y) for x in (WORD[0], WORD[2]) for y in (WORD[1], WORD[3])]
    word = [min(c[0] for c in corners), min(c[1] for c in corners), max(c[0] for c in corners), max(c[1] for c in corners)]
    scale = (g["image"][2] - g["image"][0]) / (HEIGHT if g["turn"] % 180 else WIDTH)
    slack = 6 * scale + 1.5         # the box's 4-pixel padding and its stroke, in screen pixels
    hit = g["hit"]
    assert hit[0] <= word[0] + 1 and hit[1] <= word[1] + 1 and hit[2] >= word[2] - 1 and hit[3] >= word[3] - 1, (hit, word)
    assert all(abs(h - w) <= slack for h, w in zip(hit, word)), (hit, word, slack)
    return scale


def test_zoom_fit_rotate_keep_the_hit_box_on_the_word_and_keys_walk_hits_and_pages(
        browser_page: BrowserPage, served: Server, served_runtime: Runtime) -> None:
    first, second, third = seed(served_runtime)
    page, url = browser_page, served.url
    log_in(page, url, "operator")
    page.goto(f"{url}/pages/{first}?q={TERM}")
    expect(page.locator("#boxes .hit-box")).to_have_count(1)
    expect(page.locator("#viewer.laid-out")).to_have_count(1)
    expect(page.locator("#viewer-keys")).to_contain_text("Ctrl")
    # download and print: the operator's duty allows both
    expect(page.locator("#download-page")).to_have_count(1)
    expect(page.locator("#print-document")).to_have_count(1)

    # the text panel: the hit's line (the second) is marked current, the others not
    expect(page.locator("#page-text .line.current")).to_have_text(f"本合同{TERM}位于配电房")
    expect(page.locator("#page-text .line.hit-line")).to_have_count(1)

    g = page.evaluate(GEOMETRY)                                   # fit width on arrival
    fitted = assert_box_over_word(g)
    assert g["turn"] == 0 and abs((g["image"][2] - g["image"][0]) - (g["viewport"][0] - 1)) < 2

    page.locator("body").press("+")                               # zoom in by the key
    g = page.evaluate(GEOMETRY)
    assert assert_box_over_word(g) == pytest.approx(fitted * 1.25, rel=0.01) and g["zoom"] != "100%"

    page.click("#rotate-view")                                    # the view turns; the boxes with it
    g = page.evaluate(GEOMETRY)
    assert g["turn"] == 90
    assert_box_over_word(g)
    assert g["image"][2] - g["image"][0] > g["image"][3] - g["image"][1]   # upright A4 now lies on its side

    page.click("#fit-height")
    g = page.evaluate(GEOMETRY)
    assert_box_over_word(g)
    assert abs((g["image"][3] - g["image"][1]) - g["viewport"][1]) < 2

    page.keyboard.press("r")
    page.keyboard.press("r")                                      # 270°
    page.click("#fit-width")
    g = page.evaluate(GEOMETRY)
    assert g["turn"] == 270
    assert_box_over_word(g)
    assert abs((g["image"][2] - g["image"][0]) - (g["viewport"][0] - 1)) < 2

    before = page.evaluate(GEOMETRY)                              # Ctrl+wheel zooms in
    box = page.locator("#viewport").bounding_box()
    assert box
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    page.wait_for_function(f"() => document.getElementById('zoom-level').textContent !== {json.dumps(before['zoom'])}")
    g = page.evaluate(GEOMETRY)
    assert g["image"][2] - g["image"][0] > before["image"][2] - before["image"][0]
    assert_box_over_word(g)

    scroll = "() => document.getElementById('viewport').scrollLeft"
    at = page.evaluate(scroll)                                    # dragging left pans right
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 - 120, box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    assert page.evaluate(scroll) > at
    assert_box_over_word(page.evaluate(GEOMETRY))

    # the view's turn is not saved: the page opens upright again, and no rotation was stored
    with served_runtime.sessions() as s:
        assert s.scalars(select(Page.view_rotation).where(Page.id == first)).one() == 0

    page.keyboard.press("n")                                      # past the only hit: page 3
    page.wait_for_url(re.compile(rf"/pages/{third}\b"))
    expect(page.locator("#boxes .hit-box")).to_have_count(1)
    expect(page.locator("#page-text .line.current")).to_have_text(f"{TERM}示意")
    assert page.evaluate(GEOMETRY)["turn"] == 0
    page.keyboard.press("p")
    page.wait_for_url(re.compile(rf"/pages/{first}\b"))
    page.keyboard.press("ArrowRight")                             # next page of the document
    page.wait_for_url(re.compile(rf"/pages/{second}\b"))
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(re.compile(rf"/pages/{first}\b"))
