"""Shared fixtures. Tests read like users: `auth.login("operator")`, `api.post(...)`."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

import workers
from docsvc import create_app, db
from docsvc.config import Settings
from docsvc.runtime import Runtime, build_runtime, install
from docsvc.governance.accounts import create_user, issue_token

pytest_plugins = ["tests.s3server", "tests.browser", "tests.markers"]

workers.wire()  # like the CLI and WSGI entry points: runtimes get their job queues from workers/

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("DOCSVC_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("DOCSVC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "correct horse battery"


# argon2 at its cheapest: at the default cost, hashing for the users the tests make and log in was most
# of the unit run's time. The default cost has its own test (test_account_self_service); bench/unit_run.py
# sets DOCSVC_TEST_DEFAULT_PASSWORD_COST=1 to measure the run as it was.
CHEAP_PASSWORD_HASHES = {} if os.environ.get("DOCSVC_TEST_DEFAULT_PASSWORD_COST") else {
    "DOCSVC_PASSWORD_HASH_MEMORY_KIB": "64", "DOCSVC_PASSWORD_HASH_ITERATIONS": "1"}


def settings_for(data_dir: Path, **overrides: str) -> Settings:
    # Files are read in the test's own process (DOCSVC_JOB_MEMORY_MB=0): a unit test may not start the
    # decoder process. tests/test_hostile_input.py and the full-stack tests read through it, under limits.
    env = {"DOCSVC_DATA_DIR": str(data_dir), "DOCSVC_SECRET_KEY": "test-secret", "DOCSVC_WORKERS": "2",
           "DOCSVC_OCR_ENGINE": "rapidocr", "DOCSVC_JOB_MEMORY_MB": "0", **CHEAP_PASSWORD_HASHES, **overrides}
    return Settings.from_env(env)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema per test: real database, no cross-test leftovers."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{name}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


@pytest.fixture
def pg_runtime(tmp_path: Path, pg_schema: str) -> Iterator[Runtime]:
    """A runtime on its own PostgreSQL schema, migrated (not installed: no jobs run through it)."""
    rt = build_runtime(settings_for(tmp_path / "var", DOCSVC_DATABASE_URL=pg_schema))
    db.upgrade(rt.engine)
    yield rt
    rt.close()


@pytest.fixture
def embedded_settings(tmp_path: Path) -> Settings:
    """The embedded default: SQLite, local object folder, in-process jobs."""
    return settings_for(tmp_path / "var")


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database migrated once per run; each embedded test starts from a copy of it (migrating
    takes longer than most tests). Migrating from nothing is still what the PostgreSQL and CLI tests do."""
    path = tmp_path_factory.mktemp("template") / "docsvc.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def embedded_runtime(embedded_settings: Settings, migrated_sqlite: Path) -> Iterator[Runtime]:
    embedded_settings.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_sqlite, embedded_settings.data_dir / "docsvc.sqlite3")
    rt = build_runtime(embedded_settings)
    db.upgrade(rt.engine)  # at head already: only checks
    install(rt)
    yield rt
    rt.close()


@pytest.fixture
def app(embedded_runtime: Runtime) -> Flask:
    app = create_app(runtime=embedded_runtime)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def users(embedded_runtime: Runtime) -> "Users":
    return Users(embedded_runtime)


@dataclass
class Users:
    runtime: Runtime

    def make(self, username: str, *roles: str) -> str:
        with self.runtime.sessions() as session:
            create_user(session, username, PASSWORD, list(roles))
        return username

    def token(self, username: str, *roles: str) -> str:
        with self.runtime.sessions() as session:
            from docsvc.governance.accounts import find_user

            user = find_user(session, username) or create_user(session, username, PASSWORD, list(roles))
            return issue_token(session, user, "test")


class AuthActions:
    def __init__(self, client: FlaskClient, users: Users) -> None:
        self.client, self.users = client, users

    def login(self, username: str = "operator", *roles: str) -> None:
        from docsvc.governance.accounts import find_user

        with self.users.runtime.sessions() as session:
            if find_user(session, username) is None:
                create_user(session, username, PASSWORD, list(roles or ("operator",)))
        page = self.client.get("/login")
        token = _csrf_from(page.get_data(as_text=True))
        response = self.client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)

    def csrf(self, path: str = "/upload") -> str:
        return _csrf_from(self.client.get(path).get_data(as_text=True))


def _csrf_from(html: str) -> str:
    marker = 'name="csrf_token" type="hidden" value="'
    if marker not in html:
        marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


@pytest.fixture
def auth(client: FlaskClient, users: Users) -> AuthActions:
    return AuthActions(client, users)


def wait_for_batch(get_report, timeout_s: float = 240.0) -> dict:  # type: ignore[no-untyped-def]
    """Poll until the batch has finished; returns the last report."""
    deadline = time.monotonic() + timeout_s
    report: dict = {}
    while time.monotonic() < deadline:
        report = get_report()
        if report["status"] not in ("queued", "running"):
            return report
        time.sleep(0.3)
    raise AssertionError(f"batch did not finish in {timeout_s}s: {report}")


def docsvc_cli(*args: str, env: dict[str, str], input: str | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "docsvc.cli", *args], env={**os.environ, **env},
                          input=input, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
