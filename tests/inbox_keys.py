"""Keyboard-only filing from the inbox, shared by tests/test_browser_inbox.py (does it file right?) and
bench/ui_keys.py (how long do the keystrokes take against the same keystrokes with no waiting?)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from docsvc.constants import page_image_key, page_thumb_key, page_words_key
from docsvc.db import make_engine, make_sessionmaker
from docsvc.files.customers import AccountRule, create_customer
from docsvc.runtime import build_runtime
from tests.factories import add_document

if TYPE_CHECKING:
    from playwright.sync_api import Page

CUSTOMERS = {"3000000001": "宏达机械制造有限公司", "3000000002": "宏达商贸有限公司"}
CHOSEN = "3000000002"     # the second choice for 宏达: typed by name, taken with ↓ ↓ Enter
TYPE_CODE = "HT"


def _image(size: tuple[int, int], number: int, fmt: str) -> bytes:
    """A page-like scan: white with dark lines of "text" and the page number, so images have real bytes."""
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    w, h = size
    for row in range(h // 10, h - h // 10, max(4, h // 40)):
        draw.rectangle([w // 10, row, w - w // 10 - (row * 7 % (w // 3)), row + max(1, h // 160)], fill=40)
    draw.text((w // 2, h // 20), str(number), fill=0)
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def seed_inbox(data_dir: Path, page_counts: tuple[int, ...] = (20,)) -> list[int]:
    """Two customers named 宏达…, and one unfiled document per entry of `page_counts` (in inbox order),
    each page with a stored scan (1240×1754, 150 dpi A4) and thumbnail, as the page job leaves them."""
    from tests.conftest import settings_for

    rt = build_runtime(settings_for(data_dir))
    engine = make_engine(f"sqlite:///{data_dir / 'docsvc.sqlite3'}")
    ids = []
    try:
        with make_sessionmaker(engine)() as s:
            for account, name in CUSTOMERS.items():
                create_customer(s, None, AccountRule(r"^\d{10}$"), account, {"name": name})
            for k, count in enumerate(page_counts):
                texts = [f"供用电合同 户号：3000000001 第{n}页" for n in range(1, count + 1)]
                d = add_document(s, key=chr(ord("a") + k), title=f"扫描件-{k + 1}.tif", texts=texts)
                for p in d.pages:
                    p.image_key, p.thumb_key, p.words_key = page_image_key(p.id, "png"), page_thumb_key(p.id), page_words_key(p.id)
                    rt.store.put_bytes(p.image_key, _image((1240, 1754), p.number, "PNG"))
                    rt.store.put_bytes(p.thumb_key, _image((150, 212), p.number, "JPEG"))
                    rt.store.put_bytes(p.words_key, b'{"width":1240,"height":1754,"words":[]}')
                ids.append(d.id)
            s.commit()
    finally:
        engine.dispose()
        rt.close()
    return ids


def file_with_keyboard(page: Page, pages: int) -> int:
    """File the inbox's current document of `pages` pages with keystrokes only, looking at every page
    (j), taking the customer by name from the choices and the type by its code; waits only where an
    operator would look (the choices, the confirmation). Returns the number of keystrokes sent."""
    from playwright.sync_api import expect

    keys = 0
    expect(page.locator("#pages .page.selected")).to_have_count(1)   # the keys are listened to (inbox.js ran)
    for _ in range(pages - 1):
        page.keyboard.press("j")
        keys += 1
    expect(page.locator(f"#pages .page[data-number='{pages}']")).to_have_class("page selected")
    page.keyboard.press("a")
    page.keyboard.type("宏达")
    expect(page.locator("#customer-choices[data-query='宏达'] li")).to_have_count(2)   # the answer to all of it
    for key in ("ArrowDown", "ArrowDown", "Enter"):    # the second choice; focus moves to the type code
        page.keyboard.press(key)
    page.keyboard.type(TYPE_CODE)
    page.keyboard.press("Enter")                       # the type set; back to the document
    page.keyboard.press("Enter")                       # file
    keys += 1 + len("宏达") + 3 + len(TYPE_CODE) + 2
    expect(page.locator(".flash")).to_contain_text("已归档")
    return keys


def bare_page(page: Page) -> None:
    """A page with nothing behind its keys, for the floor."""
    page.set_content("<input id='sink'>")
    page.focus("#sink")


def keystrokes_without_waiting(page: Page, keys: int) -> None:
    """The floor: the same number of keystrokes sent to a `bare_page`, nothing waited for."""
    for _ in range(keys):
        page.keyboard.press("j")
