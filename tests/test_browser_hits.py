"""The page viewer walks every hit of a document (issue 12, point 4): past a page's last hit, ↓ opens
the document's next matching page, skipping pages without one; ↑ goes back the same way."""
from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pytest
from PIL import Image
from playwright.sync_api import Page as BrowserPage, expect

from docsvc.constants import IndexState, page_image_key, page_thumb_key, page_words_key
from docsvc.models import Document, Page
from docsvc.pipeline.indexing import index_pending
from docsvc.runtime import Runtime, build_runtime
from tests.browser import Server, log_in
from tests.conftest import settings_for

TERM = "产权分界点"
TEXTS = [f"本合同{TERM}位于配电房", "签字页", f"附图：{TERM}示意"]     # pages 1 and 3 match


@pytest.fixture
def served_runtime(served: Server) -> Iterator[Runtime]:
    rt = build_runtime(settings_for(served.data_dir))
    yield rt
    rt.close()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (600, 800), 255).save(out, "PNG")
    return out.getvalue()


def seed(rt: Runtime) -> list[int]:
    """A three-page contract, read and indexed, each matching page with the term as an OCR word."""
    with rt.sessions() as s:
        stored, _ = rt.store.put_original(io.BytesIO(b"%PDF hits test"))
        doc = Document(sha256=stored.sha256, original_key=stored.key, media_type="application/pdf",
                       title="供用电合同", page_count=3)
        s.add(doc)
        s.flush()
        pages = [Page(document_id=doc.id, number=n, source_index=n - 1, status="done", text=text,
                      index_state=IndexState.PENDING) for n, text in enumerate(TEXTS, start=1)]
        s.add_all(pages)
        s.flush()
        for p in pages:
            words = [{"text": TERM, "box": [160, 100, 300, 130]}] if TERM in (p.text or "") else []
            p.image_key, p.thumb_key = page_image_key(p.id, "png"), page_thumb_key(p.id)
            p.words_key = page_words_key(p.id)
            rt.store.put_bytes(p.image_key, _png())
            rt.store.put_bytes(p.thumb_key, _png())
            rt.store.put_bytes(p.words_key, json.dumps({"width": 600, "height": 800, "words": words}).encode())
        s.commit()
        index_pending(s, rt.index)
        return [p.id for p in pages]


def test_the_hit_buttons_walk_on_to_the_documents_other_matching_pages(
        browser_page: BrowserPage, served: Server, served_runtime: Runtime) -> None:
    first, _, third = seed(served_runtime)
    page, url = browser_page, served.url
    log_in(page, url, "operator")
    page.goto(f"{url}/pages/{first}?q={TERM}")
    expect(page.locator("#boxes .hit-box")).to_have_count(1)
    page.click("#next-hit")                                   # past page 1's only hit: page 3, not 2
    page.wait_for_url(re.compile(rf"/pages/{third}\b"))
    expect(page.locator("#boxes .hit-box")).to_have_count(1)
    expect(page.locator("#next-hit-page")).to_have_count(0)   # the last matching page
    page.click("#prev-hit")
    page.wait_for_url(re.compile(rf"/pages/{first}\b"))
