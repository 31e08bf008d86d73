"""Faults the service survives, against real servers the tests take away and give back: the object store
unreachable during an upload, Redis down while files arrive, a worker killed with SIGKILL mid-page, the
index folder unwritable, the database dropping every connection. Each waits by polling, never by sleeping
a fixed time."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text

from docsvc import create_app, db
from docsvc.config import Settings
from docsvc.constants import JobState
from docsvc.models import Batch, BatchFile, Document, OutboxEntry, Page
from docsvc.runtime import Runtime, build_runtime, install
from tests.conftest import PG_URL, ROOT, AuthActions, Users
from tests.faultservices import CuttablePath, RedisServer
from tests.processes import stop
from tests.samples import form_text
from tests.scans import text_pdf_bytes, tiff_bytes
from tests.test_pipeline_embedded import account_of, squash

pytestmark = pytest.mark.integration


def wait_until(what: str, check: Callable[[], object], timeout_s: float, every_s: float = 0.1) -> object:
    """Poll `check` until it returns something true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


@dataclass
class Stack:
    """One deployment under test: the web app in this process, workers and the scheduler as processes."""
    rt: Runtime
    app: Flask
    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def client(self) -> FlaskClient:
        return self.app.test_client()

    def api(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {Users(self.rt).token('scanner', 'operator', 'archivist', 'admin')}"}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen([sys.executable, "-m", "docsvc.cli", *args], env=self.env, cwd=ROOT,
                                       stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def upload(self, files: dict[str, bytes], headers: dict[str, str]) -> object:
        return self.client.post("/api/v1/batches", headers=headers, content_type="multipart/form-data",
                                data={"files": [(io.BytesIO(data), name) for name, data in files.items()]})

    def batch(self, batch_id: int, headers: dict[str, str]) -> dict:  # type: ignore[type-arg]
        return self.client.get(f"/api/v1/batches/{batch_id}", headers=headers).get_json()

    def finished(self, batch_id: int, headers: dict[str, str], timeout_s: float) -> dict:  # type: ignore[type-arg]
        return wait_until(f"batch {batch_id} to finish",  # type: ignore[return-value]
                          lambda: (r := self.batch(batch_id, headers))["status"] not in ("queued", "running") and r,
                          timeout_s)

    def hits(self, query: str, headers: dict[str, str]) -> list[int]:
        body = self.client.get(f"/api/v1/search?q={query}", headers=headers).get_json()
        return [page["page_id"] for result in body["results"] for page in result["pages"]]

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            stop(process, timeout_s=20)
        self.rt.close()


@pytest.fixture
def make_stack(pg_schema: str, s3_server: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    made: list[Stack] = []

    def make(*, redis_url: str | None = None, s3_endpoint: str | None = None, database_url: str | None = None,
             **extra: str) -> Stack:
        env = {
            "DOCSVC_DATA_DIR": str(tmp_path / "var"),
            "DOCSVC_DATABASE_URL": database_url or pg_schema,
            "DOCSVC_REDIS_URL": redis_url or "",
            "DOCSVC_S3_ENDPOINT": s3_endpoint or s3_server["endpoint"],
            "DOCSVC_S3_ACCESS_KEY": s3_server["access_key"],
            "DOCSVC_S3_SECRET_KEY": s3_server["secret_key"],
            "DOCSVC_S3_BUCKET": f"docsvc-{uuid.uuid4().hex[:8]}",
            "DOCSVC_SECRET_KEY": "test",
            "DOCSVC_OCR_ENGINE": "tesseract",
            **extra,
        }
        rt = build_runtime(Settings.from_env(env))
        db.upgrade(rt.engine)
        install(rt)
        app = create_app(runtime=rt)
        app.config.update(TESTING=True)
        logs = tmp_path / "logs"
        logs.mkdir(exist_ok=True)
        stack = Stack(rt, app, {**os.environ, **env}, logs)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def count(rt: Runtime, model: type, *where: object) -> int:
    with rt.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


# --- 1. the object store unreachable during an upload ---------------------------------------------------


def test_upload_while_the_object_store_is_unreachable_is_refused_with_503_and_leaves_no_row(
        make_stack: Callable[..., Stack], s3_server: dict[str, str], tmp_path: Path) -> None:
    path = CuttablePath(s3_server["endpoint"])
    path.restore()
    stack = make_stack(s3_endpoint=path.address)
    api = stack.api()
    contract = text_pdf_bytes([form_text(61)], tmp_path)

    path.cut()
    refused = stack.upload({"合同.pdf": contract}, api)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "30"
    message = refused.get_json()["error"]
    assert message.startswith("对象存储暂时无法访问"), message  # Chinese first: what happened
    assert "合同.pdf" in message and "稍后重新上传" in message and "联系系统管理员" in message  # and what to do
    assert "The object store cannot be reached" in message
    # The upload page (its script asks for JSON) is refused the same way.
    browser = stack.app.test_client()
    auth = AuthActions(browser, Users(stack.rt))
    auth.login("clerk", "operator")
    page = browser.post("/upload", content_type="multipart/form-data", headers={"Accept": "application/json"},
                        data={"files": [(io.BytesIO(contract), "合同.pdf")], "csrf_token": auth.csrf()})
    assert page.status_code == 503 and page.get_json()["error"] == message
    # Nothing points to an object that is not there: no batch, no file row, no outbox entry.
    assert count(stack.rt, Batch) == 0 and count(stack.rt, BatchFile) == 0 and count(stack.rt, OutboxEntry) == 0

    path.restore()
    accepted = stack.upload({"合同.pdf": contract}, api)
    assert accepted.status_code == 202, accepted.get_json()
    with stack.rt.sessions() as session:
        keys = session.scalars(select(BatchFile.original_key)).all()
    assert len(keys) == 1 and all(key and stack.rt.store.exists(key) for key in keys)


# --- 2. Redis down while files arrive -------------------------------------------------------------------


def test_uploads_while_redis_is_down_are_recorded_and_their_jobs_run_once_when_it_is_back(
        make_stack: Callable[..., Stack], redis_server: RedisServer, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    stack = make_stack(redis_url=redis_server.url)
    api = stack.api()
    stack.start("worker", "worker", "ingest", "ocr", "index")
    stack.start("scheduler", "scheduler", "--interval", "1")

    redis_server.stop()
    response = stack.upload({"a.pdf": text_pdf_bytes([form_text(62)], tmp_path),
                             "b.pdf": text_pdf_bytes([form_text(63), form_text(64)], tmp_path)}, api)
    assert response.status_code == 202, response.get_json()
    batch_id = response.get_json()["id"]
    # Accepted and recorded, each file with its split job waiting in the outbox.
    report = stack.batch(batch_id, api)
    assert [f["name"] for f in report["files"]] == ["a.pdf", "b.pdf"] and report["status"] == "queued"
    with stack.rt.sessions() as session:
        waiting = session.execute(select(OutboxEntry.stage, OutboxEntry.row_id).order_by(OutboxEntry.id)).all()
    assert waiting == [("split", f["id"]) for f in report["files"]]
    assert "job queue unreachable" in caplog.text and "outbox" in caplog.text

    redis_server.start()  # empty: whatever it held before is gone
    report = stack.finished(batch_id, api, timeout_s=90)
    assert report["status"] == "done" and report["counts"]["pages_done"] == 3
    assert count(stack.rt, OutboxEntry) == 0
    # Every job ran once: no file split twice, no page read twice, one document per file.
    with stack.rt.sessions() as session:
        assert session.scalars(select(BatchFile.attempts)).all() == [1, 1]
        assert session.scalars(select(Page.attempts)).all() == [1, 1, 1]
        assert session.scalar(select(func.count()).select_from(Document)) == 2
    for seed in (62, 63, 64):
        wait_until(f"page {seed} in the index", lambda: stack.hits(account_of(seed), api), 30)
