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
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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
            # A session of its own, like a container or a machine: the worker and the RQ scheduler process
            # it forks can die together (os.killpg).
            process = subprocess.Popen([sys.executable, "-m", "docsvc.cli", *args], env=self.env, cwd=ROOT,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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
    in_english = stack.upload({"合同.pdf": contract}, api | {"Accept-Language": "en"})
    assert in_english.status_code == 503
    assert in_english.get_json()["error"].startswith("The object store cannot be reached, so 合同.pdf was not stored.")
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

    # Reading a stored page while the store is away is refused the same way, not with a bare 500.
    stack.rt.jobs.start()  # the in-process workers read the page
    assert stack.rt.jobs.wait_idle(60)  # type: ignore[attr-defined]
    with stack.rt.sessions() as session:
        page_id = session.scalar(select(Page.id).where(Page.status == JobState.DONE))
    assert page_id is not None
    assert stack.client.get(f"/api/v1/pages/{page_id}/image", headers=api).status_code == 200
    path.cut()
    image = stack.client.get(f"/api/v1/pages/{page_id}/image", headers=api)
    assert image.status_code == 503 and image.get_json()["error"].startswith("对象存储暂时无法访问")


# --- 2. Redis down while files arrive -------------------------------------------------------------------


def test_uploads_while_redis_is_down_are_recorded_and_their_jobs_run_once_when_it_is_back(
        redis_server: RedisServer, make_stack: Callable[..., Stack], tmp_path: Path,
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


# --- 3. a worker killed mid-page ------------------------------------------------------------------------


def test_a_page_whose_worker_is_killed_mid_page_is_read_again_once(
        redis_server: RedisServer, make_stack: Callable[..., Stack]) -> None:
    # A short lease so the test need not wait the default 5 minutes; running jobs renew it every second.
    stack = make_stack(redis_url=redis_server.url, DOCSVC_CLAIM_LEASE="3", DOCSVC_OCR_DPI="150")
    api = stack.api()
    doomed = stack.start("worker-a", "worker", "ingest", "ocr")
    stack.start("indexer", "worker", "index")
    stack.start("scheduler", "scheduler", "--interval", "1")
    response = stack.upload({"stack.tif": tiff_bytes([65, 66])}, api)
    assert response.status_code == 202
    batch_id = response.get_json()["id"]

    def page_being_read() -> int | None:
        with stack.rt.sessions() as session:
            return session.scalar(select(Page.id).where(Page.status == JobState.RUNNING))
    page_id = wait_until("a page being read", page_being_read, 120, every_s=0.02)
    # A power cut for this worker: SIGKILL to it and to the RQ scheduler process it forked, no clean-up of
    # any kind. (Killed alone, the worker would leave that child holding a copy of its database socket.)
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    with stack.rt.sessions() as session:
        page = session.get(Page, page_id)
        assert page is not None and (page.status, page.attempts) == (JobState.RUNNING, 1)  # killed mid-page

    stack.start("worker-b", "worker", "ingest", "ocr")
    report = stack.finished(batch_id, api, timeout_s=120)

    assert report["status"] == "done" and report["counts"]["pages_done"] == 2
    with stack.rt.sessions() as session:
        pages = session.scalars(select(Page).order_by(Page.number)).all()
        assert {p.id: p.attempts for p in pages} == {p.id: 2 if p.id == page_id else 1 for p in pages}
        killed = next(p for p in pages if p.id == page_id)
        seed = 64 + killed.number
        assert killed.words_key is not None
        assert account_of(seed) in squash(killed.text) and squash(killed.text).count(account_of(seed)) == 1
    words = json.loads(stack.rt.store.read_bytes(killed.words_key))
    boxes = [(w["text"], tuple(w["box"])) for w in words["words"]] if isinstance(words, dict) else \
        [(w["text"], tuple(w["box"])) for w in words]
    assert boxes and len(boxes) == len(set(boxes))  # no word twice
    assert sorted(stack.rt.store.list(f"pages/{page_id}/")) == sorted(
        [killed.image_key, killed.thumb_key, killed.words_key])
    wait_until("the page in the index", lambda: page_id in stack.hits(account_of(seed), api), 30)
    assert stack.hits(account_of(seed), api) == [page_id]
    assert list(stack.rt.index.indexed_page_ids()).count(page_id) == 1


# --- 4. the index folder unwritable ---------------------------------------------------------------------


def immutable(folder: Path, on: bool) -> None:
    """chattr +i: even root can then create no file in the folder (unlike chmod, which root ignores);
    the index writer meets EPERM, as it meets ENOSPC on a full disk or EROFS on a read-only mount."""
    subprocess.run(["chattr", "+i" if on else "-i", str(folder)], check=True, capture_output=True)


def test_with_the_index_folder_unwritable_search_serves_the_last_index_and_the_backlog_catches_up(
        redis_server: RedisServer, make_stack: Callable[..., Stack], tmp_path: Path) -> None:
    stack = make_stack(redis_url=redis_server.url)
    api = stack.api()
    stack.start("worker", "worker", "ingest", "ocr", "index")
    stack.start("scheduler", "scheduler", "--interval", "1")
    first = stack.upload({"a.pdf": text_pdf_bytes([form_text(68)], tmp_path)}, api).get_json()["id"]
    stack.finished(first, api, timeout_s=90)
    [first_page] = wait_until("the first page in the index", lambda: stack.hits(account_of(68), api), 30)
    live = stack.rt.index.current_directory()
    try:
        immutable(live, True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"chattr +i does not work on this filesystem: {exc}")
    try:
        probe = live / "probe"
        with pytest.raises(PermissionError):
            probe.write_bytes(b"")  # as root too: the fault is real
        second = stack.upload({"b.pdf": text_pdf_bytes([form_text(69)], tmp_path)}, api).get_json()["id"]
        assert stack.finished(second, api, timeout_s=90)["status"] == "done"  # read, not yet indexed
        # The index worker fails loudly, with what happened and what to do ...
        wait_until("the index worker's error", lambda: "搜索索引目录" in stack.log("worker"), 60)
        assert "请管理员释放磁盘空间或恢复该目录的写权限" in stack.log("worker")  # the worker's language: Chinese
        # ... the page waits for the index, and the administrator sees it ...
        with stack.rt.sessions() as session:
            assert session.scalar(select(Page.index_state).where(Page.id != first_page)) == "pending"
        admin = stack.app.test_client()
        AuthActions(admin, Users(stack.rt)).login("boss", "admin")
        assert 'id="backlog-index">1 （' in admin.get("/admin/integrity").get_data(as_text=True)
        # ... and search answers from the last good index.
        assert stack.hits(account_of(68), api) == [first_page]
        assert stack.hits(account_of(69), api) == []
    finally:
        immutable(live, False)
    # The fault cleared, the scheduler's rounds queue the index job again and the backlog catches up.
    [second_page] = wait_until("the waiting page in the index", lambda: stack.hits(account_of(69), api), 60)
    assert second_page != first_page and stack.hits(account_of(68), api) == [first_page]
    assert 'id="backlog-index">0<' in admin.get("/admin/integrity").get_data(as_text=True)


# --- 5. the database drops every connection -------------------------------------------------------------


def test_web_and_workers_reconnect_by_themselves_after_the_database_restarts(
        redis_server: RedisServer, make_stack: Callable[..., Stack], pg_schema: str, tmp_path: Path) -> None:
    # The shared PostgreSQL cannot be restarted; what a restart does to clients is drop every connection,
    # so this test's connections (and only them, by application_name) are terminated.
    name = f"docsvc-faults-{uuid.uuid4().hex[:8]}"
    pg = urlsplit(PG_URL)
    path = CuttablePath(f"{pg.hostname}:{pg.port or 5432}")
    path.restore()
    url = f"{pg_schema.replace(pg.netloc, pg.netloc.replace(f'{pg.hostname}:{pg.port or 5432}', path.address))}" \
          f"&application_name={name}"
    stack = make_stack(redis_url=redis_server.url, database_url=url)
    api = stack.api()
    stack.start("worker", "worker", "ingest", "ocr", "index")
    first = stack.upload({"a.pdf": text_pdf_bytes([form_text(70)], tmp_path)}, api).get_json()["id"]
    assert stack.finished(first, api, timeout_s=90)["status"] == "done"

    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        dropped = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND application_name = :name"), {"name": name}).scalar()
    admin.dispose()
    assert dropped >= 2  # the web's pool and the worker's

    # No one restarts anything: the next request and the next job just work.
    assert stack.client.get(f"/api/v1/batches/{first}", headers=api).status_code == 200
    second = stack.upload({"b.pdf": text_pdf_bytes([form_text(71)], tmp_path)}, api).get_json()["id"]
    assert stack.finished(second, api, timeout_s=90)["status"] == "done"
    wait_until("the second file in the index", lambda: stack.hits(account_of(71), api), 30)

    # While the database cannot be reached at all, a request is refused with what to do, not a bare 500.
    path.cut()
    down = stack.client.get(f"/api/v1/batches/{first}", headers=api)
    assert down.status_code == 503 and down.headers["Retry-After"] == "30"
    assert down.get_json()["error"].startswith("数据库暂时无法访问")
    path.restore()
    assert stack.client.get(f"/api/v1/batches/{first}", headers=api).status_code == 200
