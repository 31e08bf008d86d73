"""Tests are classified from what they use, and a unit test cannot reach outside its process."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest

from tests.markers import NotAUnitTest

pytest_plugins = ["pytester"]


def test_tests_are_classified_by_the_fixtures_they_use(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest
        pytest_plugins = ["tests.markers"]

        @pytest.fixture
        def pg_schema(): return "schema"

        @pytest.fixture
        def s3_server(): return {}

        @pytest.fixture
        def s3_store(s3_server): return "store"

        @pytest.fixture
        def browser_page(): return "page"
    """)
    pytester.makepyfile(test_sample="""
        import pytest

        def test_plain(tmp_path): pass
        def test_database(pg_schema): pass
        def test_objects(s3_store): pass
        def test_ui(browser_page): pass

        @pytest.mark.integration
        def test_marked(): pass
    """)
    items, _ = pytester.inline_genitems()
    classes = {item.name: {m.name for m in item.iter_markers()} & {"unit", "integration", "browser"}
               for item in items}
    assert classes == {"test_plain": {"unit"}, "test_database": {"integration"}, "test_objects": {"integration"},
                       "test_ui": {"browser"}, "test_marked": {"integration"}}


def test_this_test_is_a_unit_test(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None


def test_a_unit_test_that_starts_a_process_fails_naming_it() -> None:
    with pytest.raises(NotAUnitTest, match=r"subprocess\.Popen: .*python.*mark it @pytest\.mark\.integration"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_a_unit_test_that_connects_to_a_service_fails_naming_the_address() -> None:
    with pytest.raises(NotAUnitTest, match=r"socket\.connect: \('127\.0\.0\.1', 6379\)"), \
            socket.socket() as sock:
        sock.connect(("127.0.0.1", 6379))


def test_a_thread_the_unit_test_started_is_held_to_it_too() -> None:
    caught: list[BaseException] = []

    def work() -> None:
        try:
            subprocess.run(["tesseract", "--version"], capture_output=True)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            caught.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert len(caught) == 1 and isinstance(caught[0], NotAUnitTest) and "tesseract" in str(caught[0])


@pytest.mark.integration
def test_an_integration_test_may_start_processes() -> None:
    assert subprocess.run([sys.executable, "-c", "print('ok')"], capture_output=True, text=True).stdout == "ok\n"
