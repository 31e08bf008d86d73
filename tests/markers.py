"""Test classes, given from what a test uses, so a new test is classified without remembering.

- ``browser``: drives Chromium against a served docsvc (fixtures ``served``, ``browser_page``);
- ``integration``: PostgreSQL, Redis, S3 (moto) or processes of its own: a fixture that provides
  one (``pg_schema``, ``s3_server`` and those built on them), or ``@pytest.mark.integration`` on
  a test that starts them itself (tesseract, the docsvc command) or that runs whole scans
  through the real OCR engines (too slow for the quick run);
- ``unit``: everything else: in-process only (SQLite, a local object folder, the Flask test
  client, in-process job threads), so ``scripts/test -m unit`` needs no service and runs fast.

A unit test is held to that: starting a process (tesseract included) or opening a connection,
from the test or from a thread it started, fails it with a sentence saying what it did. So a
test cannot stay "unit" once the code under it starts needing a service, and the full run in
CI keeps the classes true. Registered in pyproject.toml; loaded from tests/conftest.py.
"""
from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

BROWSER_FIXTURES = frozenset({"served", "browser_page"})
INTEGRATION_FIXTURES = frozenset({"pg_schema", "s3_server"})
# audit events (docs.python.org/3/library/audit_events.html) a unit test must not raise
OUTSIDE_THE_PROCESS = frozenset({
    "subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.fork", "socket.connect",
})


class NotAUnitTest(RuntimeError):
    """A test classified unit reached outside its process."""


class _Guard:
    """Which test is running as a unit test, and the threads that were alive before it."""

    def __init__(self) -> None:
        self.test: str | None = None
        self.earlier_threads: frozenset[int] = frozenset()

    def arm(self, test: str) -> None:
        current = threading.get_ident()
        # threads left by earlier tests (pools winding down) are not this test's doing
        self.earlier_threads = frozenset(t.ident for t in threading.enumerate() if t.ident != current)
        self.test = test

    def disarm(self) -> None:
        self.test = None

    def __call__(self, event: str, args: tuple) -> None:
        if self.test is None or event not in OUTSIDE_THE_PROCESS:
            return
        if threading.get_ident() in self.earlier_threads:
            return
        what = args[0] if event in ("subprocess.Popen", "os.system", "os.posix_spawn", "os.exec") else \
            (args[1] if event == "socket.connect" else "a forked process")
        raise NotAUnitTest(
            f"单元测试 {self.test} 启动了进程或连接了网络（{event}: {what}）；请使用提供该服务的夹具，"
            f"或为测试加上 @pytest.mark.integration。 / unit test {self.test} reached outside its process "
            f"({event}: {what}); use the fixture that provides the service, or mark it @pytest.mark.integration."
        )


_guard = _Guard()


def pytest_configure(config: pytest.Config) -> None:
    # an audit hook cannot be removed again; it does nothing while no unit test runs
    if not getattr(sys, "_docsvc_unit_guard", False):
        sys.addaudithook(_guard)
        sys._docsvc_unit_guard = True  # type: ignore[attr-defined]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & BROWSER_FIXTURES or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.browser)
        elif used & INTEGRATION_FIXTURES or item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    if item.get_closest_marker("unit"):
        _guard.arm(item.nodeid)
    try:
        yield
    finally:
        _guard.disarm()
