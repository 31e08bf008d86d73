"""Time to first render in headless chromium: the search results page and a 30-document customer file with
its thumbnails, served by docsvc, against the same pages saved as static files (the floor), same run.

    .venv/bin/python bench/ui.py [--rounds 7] [--documents 30]

A real `docsvc serve` (embedded, in a temporary directory; tests/browser.py `serving`) holds twenty matching
contracts, a full first page of results (tests/browser.py `seed_matching_document`), and one customer whose file
holds `--documents` filed documents, each with a real JPEG thumbnail (tests/factories.py
`add_stored_document`). The operator logs in; each page is loaded once and every response it needed
(HTML, CSS, scripts, thumbnails) saved to a folder served by Python's http.server. Each round then opens
the four pages — served search, static search, served file, static file — alternating, each in a fresh
browser context (cold cache, the login cookie only) and reads the page's own Navigation Timing: first
contentful paint and the `load` event (which waits for every thumbnail). Prints each round, the medians
and the ratios, with where the time goes: the wait for the HTML's first byte and the median
wait for an image's first byte. Target: ≤ 2× the floor. Nothing here asserts.
"""
from __future__ import annotations

import argparse
import functools
import io
import statistics
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM, CHROMIUM_ARGS, log_in, seed_matching_document, serving  # noqa: E402
from tests.conftest import settings_for  # noqa: E402
from tests.factories import add_stored_document  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext

    from docsvc.runtime import Runtime

TERM = "产权分界点"
ACCOUNT = "0100000001"
TIMING = """async () => {
  // A fast page may fire `load` before its first frame is painted: wait for the paint entry itself.
  const fcp = await new Promise(resolve => {
    const seen = performance.getEntriesByName('first-contentful-paint');
    if (seen.length) return resolve(seen[0].startTime);
    new PerformanceObserver(list => resolve(list.getEntriesByName('first-contentful-paint')[0].startTime))
      .observe({type: 'paint', buffered: true});
  });
  const nav = performance.getEntriesByType('navigation')[0];
  const images = [...document.images];
  // Where the time goes: the server's wait for the HTML, and for each image (request sent → first byte).
  const waits = performance.getEntriesByType('resource').filter(e => e.initiatorType === 'img')
    .map(e => e.responseStart - e.requestStart).sort((a, b) => a - b);
  return {load: nav.loadEventEnd, fcp, html: nav.responseStart - nav.requestStart,
          img: waits.length ? waits[Math.floor(waits.length / 2)] : 0, text: document.body.innerText.length,
          images: images.length, shown: images.filter(i => i.complete && i.naturalWidth > 0).length};
}"""


def thumbnail_jpeg() -> bytes:
    """A thumbnail the size the pipeline makes (a grey page with some texture, so not a trivial file)."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (200, 280), 250)
    draw = ImageDraw.Draw(image)
    for y in range(20, 260, 9):
        draw.line((16, y, 184 - (y * 7) % 60, y), fill=60, width=2)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def seed(rt: Runtime, documents: int) -> None:
    from docsvc.models import Customer, Document, utcnow

    for size in range(1, 21):  # a full first page of results (20 documents), each a different original
        seed_matching_document(rt, [f"第{n}页 本合同{TERM}位于配电房" for n in range(1, size + 1)], TERM,
                               (160, 100, 300, 130))
    with rt.sessions() as s:
        customer = Customer(account=ACCOUNT, name="宏达机械制造有限公司")
        s.add(customer)
        s.commit()
        customer_id = customer.id
    thumb = thumbnail_jpeg()
    for n in range(1, documents + 1):
        document_id, (page_id,) = add_stored_document(rt, f"%PDF file {n}".encode(), texts=[f"第{n}份"],
                                                      title=f"供用电合同 {n}", customer_id=customer_id,
                                                      doc_type="HT", filed_at=utcnow())
        with rt.sessions() as s:
            rt.store.put_bytes(s.get(Document, document_id).pages[0].thumb_key, thumb)


def save_static(context: BrowserContext, url: str, folder: Path) -> str:
    """Load `url` logged in, write the HTML and every same-origin response it fetched under `folder` at its
    own path (the HTML as index.html of its path, so a plain static server answers it as HTML); returns
    the static path to open."""
    page = context.new_page()
    fetched: list[str] = []
    page.on("requestfinished", lambda request: fetched.append(request.url))
    page.goto(url, wait_until="load")
    page.close()
    origin = urlsplit(url).netloc
    for asset in fetched:
        parts = urlsplit(asset)
        if parts.netloc != origin:
            continue
        response = context.request.get(asset)
        path = parts.path.strip("/")
        target = folder / path / "index.html" if parts.path == urlsplit(url).path else folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(response.body())
    return "/" + urlsplit(url).path.strip("/") + "/"


class QuietHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the served app's browser connections have

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


def timed(browser: Browser, state: dict, url: str) -> dict:
    """One cold load in a fresh context holding only the login cookie."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", storage_state=state)
    page = context.new_page()
    page.goto(url, wait_until="load")
    figures = page.evaluate(TIMING)
    context.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--documents", type=int, default=30)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from docsvc.runtime import build_runtime

    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="docsvc-ui-") as tmp, serving(Path(tmp)) as server:
        rt = build_runtime(settings_for(server.data_dir))
        try:
            seed(rt, args.documents)
        finally:
            rt.close()
        pages = {"search": f"{server.url}/search?q={TERM}", "customer file": f"{server.url}/customers/{ACCOUNT}"}
        folder = Path(tmp) / "static"
        static = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
        threading.Thread(target=static.serve_forever, daemon=True).start()
        static_url = f"http://127.0.0.1:{static.server_address[1]}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
                log_in(context.new_page(), server.url, "operator")
                state = context.storage_state()
                floors = {name: static_url + save_static(context, url, folder) + "?" + urlsplit(url).query
                          for name, url in pages.items()}
                context.close()
                for n in range(1, args.rounds + 1):
                    for name, url in pages.items():
                        for kind, target in (("served", url), ("static", floors[name])):
                            f = timed(browser, state, target)
                            bucket = results.setdefault(f"{name} {kind}", {"fcp": [], "load": [], "html": [], "img": []})
                            for figure, values in bucket.items():
                                values.append(f[figure])
                            print(f"round {n} {name:13} {kind:6}: FCP {f['fcp']:6.0f} ms, load {f['load']:6.0f} ms, "
                                  f"HTML wait {f['html']:5.0f} ms, image wait (median) {f['img']:5.0f} ms, "
                                  f"text {f['text']} chars, images {f['shown']}/{f['images']}")
                browser.close()
        finally:
            static.shutdown()
    print(f"medians over {args.rounds} rounds (cold cache each load):")
    for name in pages:
        served, floor = results[f"{name} served"], results[f"{name} static"]
        for figure in ("fcp", "load"):
            m, f = statistics.median(served[figure]), statistics.median(floor[figure])
            print(f"  {name:13} {figure:4}: served {m:6.0f} ms, static {f:6.0f} ms, ratio {m / f:.2f}× (target ≤ 2×)")
        print(f"  {name:13} waits for the first byte: HTML served {statistics.median(served['html']):.0f} ms, static "
              f"{statistics.median(floor['html']):.0f} ms; image (median of the page's) served "
              f"{statistics.median(served['img']):.0f} ms, static {statistics.median(floor['img']):.0f} ms")


if __name__ == "__main__":
    main()
