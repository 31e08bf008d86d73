"""Uploads and retries are audited in the same transaction as the rows they create or reset."""
from __future__ import annotations

import io
import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from docsvc.constants import JobState
from workers.queues import InProcessJobQueue
from docsvc.models import AuditEvent, Batch, BatchFile, Document, Page
from docsvc.runtime import Runtime
from docsvc.pipeline import batches
from docsvc.governance.accounts import find_user
from docsvc.pipeline.intake import Upload, receive
from tests.conftest import AuthActions
from tests.test_access_audit import events


class BrokenStream(io.RawIOBase):
    """A file that cannot be read: a pulled USB stick, a network share gone away."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        raise OSError("读取失败 / read error")


def detail(event: AuditEvent) -> dict:
    return json.loads(event.detail or "{}")


def _batch_count(rt: Runtime) -> int:
    with rt.sessions() as session:
        return session.scalar(select(func.count()).select_from(Batch)) or 0


def test_an_upload_commits_its_batch_with_one_audit_event_per_file(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    token = users.token("scanner", "operator")
    sent = client.post("/api/v1/batches", data={"files": [(io.BytesIO(b"%PDF one"), "a.pdf"),
                                                          (io.BytesIO(b"%PDF two"), "b.pdf")],
                                                "customer_account": "3100012345"},
                       headers={"Authorization": f"Bearer {token}"}, environ_base={"REMOTE_ADDR": "10.8.0.7"})
    api_batch = sent.get_json()["id"]
    auth.login("desk", "operator")
    client.post("/upload", data={"files": (io.BytesIO(b"%PDF three"), "c.pdf"), "csrf_token": auth.csrf()})

    uploads = sorted(events(rt, "upload"), key=lambda e: e.seq)
    assert [(e.actor_name, e.object_id, detail(e)["file"], detail(e)["source"]) for e in uploads] == [
        ("scanner", str(api_batch), "a.pdf", "api"), ("scanner", str(api_batch), "b.pdf", "api"),
        ("desk", str(api_batch + 1), "c.pdf", "web")]
    assert uploads[0].ip == "10.8.0.7" and detail(uploads[0])["customer_account"] == "3100012345"
    with rt.sessions() as session:
        files = session.scalars(select(BatchFile).order_by(BatchFile.id)).all()
        assert [(f.batch_id, f.sha256) for f in files] == [(int(e.object_id), detail(e)["sha256"]) for e in uploads]  # type: ignore[arg-type]


def test_an_intake_failing_on_its_first_file_leaves_neither_batch_nor_event(embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    users.make("desk", "operator")
    with rt.sessions() as session:
        desk = find_user(session, "desk")
        with pytest.raises(OSError):
            receive(session, rt.store, InProcessJobQueue(1), [Upload("lost.pdf", BrokenStream())],
                    source="web", user_id=desk.id)  # type: ignore[union-attr]
    assert _batch_count(rt) == 0 and events(rt, "upload") == []


def test_a_later_file_failing_keeps_what_arrived_each_file_with_its_event(embedded_runtime: Runtime) -> None:
    """Files commit one by one so a long upload shows progress: what arrived stays, is audited, and is
    queued for splitting (the queue is not started here, so the job waits in it)."""
    rt = embedded_runtime
    jobs = InProcessJobQueue(1)
    with rt.sessions() as session:
        with pytest.raises(OSError):
            receive(session, rt.store, jobs,
                    [Upload("ok.pdf", io.BytesIO(b"%PDF fine")), Upload("lost.pdf", BrokenStream())], source="cli")
    assert not jobs.idle()
    with rt.sessions() as session:
        (kept,) = session.scalars(select(BatchFile)).all()
    (event,) = events(rt, "upload")
    assert (kept.filename, event.object_id, detail(event)["file"], event.actor_name) == (
        "ok.pdf", str(kept.batch_id), "ok.pdf", None)


def _failed_batch(rt: Runtime) -> tuple[int, list[int]]:
    """A batch whose one file split into a document with two failed pages and one done page."""
    with rt.sessions() as session:
        batch = Batch(source="web")
        session.add(batch)
        session.flush()
        bf = BatchFile(batch_id=batch.id, position=1, filename="scan.tif", status=JobState.DONE)
        session.add(bf)
        session.flush()
        doc = Document(batch_file_id=bf.id, sha256="b" * 64, original_key="originals/b", media_type="image/tiff",
                       title="scan.tif", page_count=3)
        session.add(doc)
        session.flush()
        pages = [Page(document_id=doc.id, number=n, source_index=n - 1, status=status, error=error, attempts=3)
                 for n, status, error in ((1, JobState.FAILED, "OCR 超时"), (2, JobState.DONE, None),
                                          (3, JobState.FAILED, "存储不可用"))]
        session.add_all(pages)
        session.commit()
        return batch.id, [pages[0].id, pages[2].id]


def test_a_batch_retry_resets_its_failed_pages_and_records_them_in_one_event(embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    users.make("desk", "operator")
    batch_id, failed = _failed_batch(rt)
    with rt.sessions() as session:
        queued = batches.retry_failed(session, InProcessJobQueue(1), batch_id, actor=find_user(session, "desk"),
                                      ip="10.8.0.7")
        states = session.scalars(select(Page.status).where(Page.id.in_(failed))).all()
    assert queued == 2 and set(states) == {JobState.QUEUED}
    (event,) = events(rt, "batch.retry")
    assert (event.actor_name, event.object_id, event.ip, detail(event)["pages"]) == (
        "desk", str(batch_id), "10.8.0.7", failed)


def test_a_page_retry_is_audited_with_its_reset_and_a_refused_one_changes_nothing(
        client: FlaskClient, embedded_runtime: Runtime, users) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    _, (page_id, _) = _failed_batch(rt)
    token = {"Authorization": f"Bearer {users.token('desk', 'operator')}"}
    assert client.post(f"/api/v1/pages/{page_id}/retry", headers=token).status_code == 202
    (event,) = events(rt, "page.retry")
    assert (event.actor_name, event.object_id, event.ip) == ("desk", str(page_id), "127.0.0.1")
    with rt.sessions() as session:
        done = session.scalars(select(Page.id).where(Page.status == JobState.DONE)).first()
    assert client.post(f"/api/v1/pages/{done}/retry", headers=token).status_code == 409
    assert len(events(rt, "page.retry")) == 1
