"""A browser test that fails leaves a screenshot of its page behind (tests/browser.py), so a failure in CI
can be looked at, not only read."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import CHROMIUM
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

FAILING_TEST = '''
def test_shows_a_broken_page(browser_page):
    browser_page.set_content("<h1>broken page</h1>")
    assert browser_page.inner_text("h1") == "the page we wanted"


def test_passes(browser_page):
    browser_page.set_content("<h1>fine</h1>")
'''


def test_a_failing_browser_test_saves_a_screenshot(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM}")
    (tmp_path / "test_page.py").write_text(FAILING_TEST, encoding="utf-8")
    shots = tmp_path / "shots"
    env = {**os.environ, "DOCSVC_TEST_ARTIFACTS": str(shots), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.browser", "-q", "-p", "no:cacheprovider",
                          "test_page.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert "1 failed, 1 passed" in run.stdout, run.stdout + run.stderr
    saved = sorted(p.name for p in shots.glob("*.png"))
    assert saved == ["test_page.py_test_shows_a_broken_page.png"], saved
    assert (shots / saved[0]).read_bytes().startswith(b"\x89PNG")
    assert f"screenshot of the failing page: {shots / saved[0]}" in run.stdout
