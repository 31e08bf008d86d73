"""A real server and a real browser: `docsvc serve` in a subprocess on the embedded default, and
Debian's chromium driven by Playwright (never a downloaded browser)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import PASSWORD, ROOT
from tests.processes import free_port, stop

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page

    from docsvc.runtime import Runtime

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SERVER_START_S = 30.0
# Where a failing browser test leaves a screenshot of the page it had open (kept out of git).
FAILURE_SHOTS = Path(os.environ.get("DOCSVC_TEST_ARTIFACTS", str(ROOT / "var" / "test-failures")))


@dataclass(frozen=True)
class Server:
    url: str
    data_dir: Path


def server_env(data_dir: Path) -> dict[str, str]:
    """This machine's environment without any DOCSVC_ setting, so the server runs embedded in `data_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCSVC_")}
    return {**env, "DOCSVC_DATA_DIR": str(data_dir), "DOCSVC_OCR_ENGINE": "rapidocr", "DOCSVC_WORKERS": "2"}


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    done = subprocess.run([sys.executable, "-m", "docsvc.cli", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, (args, done.stdout, done.stderr)


def _wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"docsvc serve exited with {process.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/login", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError(f"docsvc serve did not answer at {url} within {SERVER_START_S}s")


@contextmanager
def serving(root: Path) -> Iterator[Server]:
    """`docsvc db upgrade`, `docsvc user create operator`, then `docsvc serve` on a free port, with its
    data in `root`/var and its log in `root`/server.log; stopped on leaving."""
    data_dir = root / "var"
    env = server_env(data_dir)
    cli(env, "db", "upgrade")
    cli(env, "user", "create", "operator", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
    port = free_port()
    log_path = root / "server.log"
    log = log_path.open("wb")
    # The log goes to a file, not a pipe: a pipe nobody reads would stall the server once full.
    process = subprocess.Popen([sys.executable, "-m", "docsvc.cli", "serve", "--port", str(port)],
                               env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, url, log_path)
        yield Server(url, data_dir)
    finally:
        stop(process)
        log.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Server]:
    with serving(tmp_path) as server:
        yield server


@pytest.fixture
def csp_violations() -> list[str]:
    """What the browser refused under the Content-Security-Policy while the test ran (console
    messages); `browser_page` fails the test when any is left at its end."""
    return []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's outcome on the test, so `browser_page` knows at teardown whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"outcome_{report.when}", report)


def _save_failure_shot(request: pytest.FixtureRequest, page: Page) -> None:
    report = getattr(request.node, "outcome_call", None)
    if report is None or not report.failed or page.is_closed():
        return
    FAILURE_SHOTS.mkdir(parents=True, exist_ok=True)
    shot = FAILURE_SHOTS / (re.sub(r"[^\w.-]+", "_", request.node.nodeid) + ".png")
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot of the failing page: {shot} ({page.url})")


@pytest.fixture
def browser_page(csp_violations: list[str], request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh chromium page, 1280×900, Chinese locale. Any Content-Security-Policy violation
    (an inline script, handler or style the policy blocked) fails the test: the UI would be broken.
    When the test fails, a screenshot of the page is saved under FAILURE_SHOTS and its path printed."""
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM} (apt install chromium); browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:  # how Chromium words every refusal
                csp_violations.append(f"{message.location.get('url', '')}: {message.text}")

        context.on("console", on_console)  # every page of the context, pop-ups included
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
            _save_failure_shot(request, page)
            if not page.is_closed():
                page.evaluate("0")  # a round trip, so console messages still in flight arrive
            assert not csp_violations, "blocked by the Content-Security-Policy:\n" + "\n".join(csp_violations)
        finally:
            context.close()
            browser.close()


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(lambda u: "/login" not in u)


def log_out(page: Page) -> None:
    page.click("header form[action='/logout'] button")
    page.wait_for_url(re.compile(r"/login"))


@pytest.fixture
def served_runtime(served: Server) -> Iterator["Runtime"]:
    """The served instance's own database and store, for arranging what the browser opens."""
    from docsvc.runtime import build_runtime
    from tests.conftest import settings_for

    rt = build_runtime(settings_for(served.data_dir))
    yield rt
    rt.close()


def seed_matching_document(rt: "Runtime", texts: list[str], term: str, box: tuple[int, int, int, int],
                           size: tuple[int, int] = (600, 800)) -> list[int]:
    """A document of len(texts) read and indexed pages on blank scans of `size`; each page whose text holds
    `term` carries it as an OCR word at `box`. Returns the page ids in order."""
    import io
    import json

    from PIL import Image

    from docsvc.constants import IndexState, page_image_key, page_thumb_key, page_words_key
    from docsvc.models import Document, Page as PageRow
    from docsvc.pipeline.indexing import index_pending

    blank = io.BytesIO()
    Image.new("L", size, 255).save(blank, "PNG")
    with rt.sessions() as s:
        stored, _ = rt.store.put_original(io.BytesIO(f"%PDF {term} {len(texts)}".encode()))
        doc = Document(sha256=stored.sha256, original_key=stored.key, media_type="application/pdf",
                       title="供用电合同", page_count=len(texts))
        s.add(doc)
        s.flush()
        pages = [PageRow(document_id=doc.id, number=n, source_index=n - 1, status="done", text=text,
                         index_state=IndexState.PENDING) for n, text in enumerate(texts, start=1)]
        s.add_all(pages)
        s.flush()
        for p in pages:
            words = [{"text": term, "box": list(box)}] if term in (p.text or "") else []
            p.image_key, p.thumb_key, p.words_key = page_image_key(p.id, "png"), page_thumb_key(p.id), page_words_key(p.id)
            rt.store.put_bytes(p.image_key, blank.getvalue())
            rt.store.put_bytes(p.thumb_key, blank.getvalue())
            rt.store.put_bytes(p.words_key, json.dumps({"width": size[0], "height": size[1], "words": words}).encode())
        s.commit()
        index_pending(s, rt.index)
        return [p.id for p in pages]
