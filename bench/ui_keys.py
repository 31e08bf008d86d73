"""Operator speed: filing a 20-page inbox document with the keyboard only, in headless chromium.

    .venv/bin/python bench/ui_keys.py [--rounds 8] [--pages 20]

A real `docsvc serve` (embedded, in a temporary directory) with `--rounds` unfiled documents of
`--pages` pages (stored scans and thumbnails). Each round files the inbox's current document with the
keystrokes of tests/inbox_keys.py (every page looked at with j, the customer typed by name and taken
from the choices, the type by its code, Enter), timed from the inbox being shown to the confirmation;
the floor is the same number of keystrokes sent to a bare page with nothing waited for, in the same
run. Prints each round and the medians. Target: under 10 s. Nothing here asserts.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM, CHROMIUM_ARGS, log_in, serving  # noqa: E402
from tests.inbox_keys import bare_page, file_with_keyboard, keystrokes_without_waiting, seed_inbox  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory(prefix="docsvc-ui-keys-") as tmp, serving(Path(tmp)) as server:
        ids = seed_inbox(server.data_dir, (args.pages,) * args.rounds)
        url = server.url
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
            floor_page = browser.new_page()
            log_in(page, url, "operator")
            page.goto(f"{url}/inbox")
            filed, floors = [], []
            for document_id in ids:
                expect(page.locator("#current")).to_have_attribute("data-id", str(document_id))
                started = time.perf_counter()
                keys = file_with_keyboard(page, args.pages)
                filed.append(time.perf_counter() - started)
                bare_page(floor_page)
                started = time.perf_counter()
                keystrokes_without_waiting(floor_page, keys)
                floors.append(time.perf_counter() - started)
                print(f"document {document_id}: {keys} keys, filed in {filed[-1]:.2f} s, "
                      f"floor {floors[-1]:.2f} s, ratio {filed[-1] / floors[-1]:.1f}×")
            browser.close()
    m, f = statistics.median(filed), statistics.median(floors)
    print(f"median over {len(filed)} rounds: filed {m:.2f} s, floor {f:.2f} s, ratio {m / f:.1f}× (target < 10 s)")


if __name__ == "__main__":
    main()
