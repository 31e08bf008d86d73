"""`docsvc check [--repair]`: database, object store and index compared; what is safe is repaired (pages
regenerated from their originals, the index, stuck work), the rest is listed and the command fails."""
from __future__ import annotations

import time
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from rq import Queue
from sqlalchemy import select

from docsvc import cli, db
from docsvc.constants import IndexState, JobState
from docsvc.models import Batch, BatchFile, Document, Page, utcnow
from docsvc.pipeline import consistency
from docsvc.pipeline.consistency import Kind
from docsvc.pipeline.intake import Upload, receive
from docsvc.runtime import Runtime, build_runtime
from docsvc.search import PageRecord
from storage import S3Store
from tests.conftest import REDIS_URL, docsvc_cli, settings_for
from tests.factories import add_document
from tests.samples import form_text
from tests.scans import text_pdf_bytes


def read_pages(rt: Runtime, timeout_s: float = 120) -> list[Page]:
    """Wait until every page is read, has its objects and is in the index."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with rt.sessions() as session:
            pages = session.scalars(select(Page).order_by(Page.id)).all()
            if pages and all(p.status == JobState.DONE and p.index_state == IndexState.DONE
                             and p.image_key and p.thumb_key and rt.store.exists(p.thumb_key) for p in pages):
                return list(pages)
        time.sleep(0.2)
    raise AssertionError(f"pages not read within {timeout_s}s")


def kinds(report: consistency.ConsistencyReport) -> dict[Kind, list[str]]:
    found: dict[Kind, list[str]] = {}
    for f in report.findings:
        found.setdefault(f.kind, []).append(f.subject)
    return found


@pytest.mark.integration   # reads real scans through the pipeline's threads
def test_check_finds_each_inconsistency_and_repair_fixes_the_safe_ones(embedded_runtime: Runtime,
                                                                       tmp_path: Path) -> None:
    rt = embedded_runtime
    with rt.sessions() as session:
        receive(session, rt.store, rt.jobs, [Upload("contract.pdf", BytesIO(
            text_pdf_bytes([form_text(n) for n in range(1, 5)], tmp_path)))], source="cli")
    rt.jobs.start()
    a, b, c, d = read_pages(rt)
    env = {"DOCSVC_DATA_DIR": str(rt.settings.data_dir), "DOCSVC_SECRET_KEY": "test-secret"}
    assert consistency.check(rt.sessions, rt.store, rt.index).ok
    assert CliRunner().invoke(cli.main, ["check"], env=env).exit_code == 0

    rt.store.delete(a.thumb_key)                                  # a row naming an object that is gone
    with rt.sessions() as session:
        session.get(Page, b.id).image_key = None                  # a page read but without its image
        session.get(Page, d.id).status = JobState.RUNNING         # its worker died an hour ago
        session.get(Page, d.id).claimed_at = utcnow() - timedelta(hours=2)
        lost = add_document(session, key="f" * 64, reference_code="J001-KH·2019-D30-YX-0099",
                            customer_account="3000000005", texts=[])  # its original is not in the store
        session.commit()
    rt.store.put_bytes("pages/987654/image.jpg", b"left behind")  # an object no row names
    stray, _ = rt.store.put_original(BytesIO(b"an original nobody recorded"))
    rt.index.delete_pages([c.id])                                 # a page missing from the index
    rt.index.add_pages([PageRecord(987654, 999, 1, "已不存在的页")])  # an entry for a page that is gone

    report = consistency.check(rt.sessions, rt.store, rt.index)

    assert kinds(report) == {
        Kind.ROW_WITHOUT_OBJECT: [f"page {a.id}"],
        Kind.PAGE_WITHOUT_IMAGE: [f"page {b.id}"],
        Kind.ORPHAN_OBJECT: ["pages/987654/image.jpg"],
        Kind.ORIGINAL_MISSING: [lost.original_key],
        Kind.UNEXPECTED_ORIGINAL: [stray.key],
        Kind.INDEX_MISSING: [f"page {c.id}"],
        Kind.INDEX_STALE: ["page 987654"],
        Kind.STUCK: [f"page {d.id}"],
    }
    assert "J001-KH·2019-D30-YX-0099 户号 3000000005" in next(
        f.detail for f in report.findings if f.kind == Kind.ORIGINAL_MISSING)
    listed = CliRunner().invoke(cli.main, ["check"], env=env)
    assert listed.exit_code == 1 and "docsvc check --repair" in listed.output

    consistency.repair(rt.sessions, rt.index, rt.jobs, report)
    assert {f.kind for f in report.needs_person} == {Kind.ORPHAN_OBJECT, Kind.ORIGINAL_MISSING,
                                                     Kind.UNEXPECTED_ORIGINAL}
    read_pages(rt)
    after = consistency.check(rt.sessions, rt.store, rt.index)
    assert set(kinds(after)) == {Kind.ORPHAN_OBJECT, Kind.ORIGINAL_MISSING, Kind.UNEXPECTED_ORIGINAL}
    assert rt.index.search("已不存在的页").total_pages == 0
    assert sorted(rt.index.indexed_page_ids()) == [a.id, b.id, c.id, d.id]
    left = CliRunner().invoke(cli.main, ["check", "--repair"], env=env)
    assert left.exit_code == 1, "what needs a person keeps the status non-zero"
    assert "orphan_object: 1  [待处理]  没有页面记录引用该对象" in left.output

    rt.store.delete("pages/987654/image.jpg")                     # what the person does
    rt.store.delete(stray.key)
    with rt.sessions() as session:
        session.delete(session.get(Document, lost.id))            # the record made by mistake
        session.commit()
    assert CliRunner().invoke(cli.main, ["check"], env=env).exit_code == 0


def test_a_destroyed_documents_original_and_pages_are_not_reported(embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    with rt.sessions() as session:
        add_document(session, key="e" * 64, reference_code="J001-KH·2001-D10-YX-0001", destroyed_at=utcnow(),
                     texts=[])
        session.commit()
    assert consistency.check(rt.sessions, rt.store, rt.index).ok


def test_stuck_work_is_queued_again_on_redis(pg_schema: str, tmp_path: Path) -> None:
    env = {"DOCSVC_DATA_DIR": str(tmp_path / "var"), "DOCSVC_DATABASE_URL": pg_schema, "DOCSVC_REDIS_URL": REDIS_URL,
           "DOCSVC_SECRET_KEY": "test-secret"}
    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    rt = build_runtime(settings_for(tmp_path / "var", DOCSVC_DATABASE_URL=pg_schema, DOCSVC_REDIS_URL=REDIS_URL))
    db.upgrade(rt.engine)
    long_ago = utcnow() - timedelta(hours=3)
    with rt.sessions() as session:
        stored, _ = rt.store.put_original(BytesIO(b"%PDF-1.4 forgotten"))
        batch = Batch(source="cli")
        session.add(batch)
        session.flush()
        forgotten = BatchFile(batch_id=batch.id, position=1, filename="a.pdf", sha256=stored.sha256,
                              original_key=stored.key, status=JobState.QUEUED, updated_at=long_ago)
        fresh = BatchFile(batch_id=batch.id, position=2, filename="b.pdf", sha256=stored.sha256,
                          original_key=stored.key, status=JobState.QUEUED)
        session.add_all([forgotten, fresh])
        document = add_document(session, sha256=stored.sha256, original_key=stored.key, texts=[None, "已读"],
                                page_status=JobState.QUEUED, index_state=IndexState.NONE)
        dead, waiting = document.pages
        dead.status, dead.claimed_at = JobState.RUNNING, long_ago
        waiting.status, waiting.index_state, waiting.updated_at = JobState.DONE, IndexState.PENDING, long_ago
        waiting.image_key, waiting.thumb_key, waiting.words_key = (
            rt.store.put_bytes(f"pages/{waiting.id}/{name}", b"derived").key
            for name in ("image.jpg", "thumb.jpg", "words.json"))
        session.commit()
        forgotten_id, dead_id = forgotten.id, dead.id

    result = docsvc_cli("check", "--repair", env=env, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "stuck: 3  [已修复]  --repair 重新排队" in result.stdout
    assert [j.args for j in Queue("ingest", connection=connection).get_jobs()] == [(forgotten_id,)]
    assert [j.args for j in Queue("ocr", connection=connection).get_jobs()] == [(dead_id,)]
    assert len(Queue("index", connection=connection).get_jobs()) == 1
    with rt.sessions() as session:
        assert session.get(Page, dead_id).status == JobState.QUEUED
    rt.close()


def test_on_the_s3_protocol_objects_and_rows_are_compared_the_same_way(embedded_runtime: Runtime,
                                                                       s3_store: S3Store) -> None:
    rt = embedded_runtime
    with rt.sessions() as session:
        stored, _ = s3_store.put_original(BytesIO(b"%PDF-1.4 on S3"))
        document = add_document(session, sha256=stored.sha256, original_key=stored.key, texts=[None],
                                reference_code="J001-KH·2019-D30-YX-0031")
        page = document.pages[0]
        page.image_key, page.thumb_key, page.words_key = (
            s3_store.put_bytes(f"pages/{page.id}/{name}", b"derived").key
            for name in ("image.jpg", "thumb.jpg", "words.json"))
        add_document(session, key="d" * 64, reference_code="J001-KH·2019-D30-YX-0032", texts=[])
        session.commit()
        page_id = page.id
    assert set(kinds(consistency.check(rt.sessions, s3_store, rt.index))) == {Kind.ORIGINAL_MISSING}

    s3_store.delete(f"pages/{page_id}/words.json")
    s3_store.put_bytes(f"pages/{page_id + 1000}/thumb.jpg", b"left behind")
    stray, _ = s3_store.put_original(BytesIO(b"nobody's"))
    report = consistency.check(rt.sessions, s3_store, rt.index)

    assert kinds(report) == {
        Kind.ROW_WITHOUT_OBJECT: [f"page {page_id}"],
        Kind.ORPHAN_OBJECT: [f"pages/{page_id + 1000}/thumb.jpg"],
        Kind.ORIGINAL_MISSING: ["originals/" + "d" * 64],
        Kind.UNEXPECTED_ORIGINAL: [stray.key],
    }
    consistency.repair(rt.sessions, rt.index, rt.jobs, report)
    with rt.sessions() as session:
        assert session.get(Page, page_id).status == JobState.QUEUED, "queued to regenerate its objects"
    assert {f.kind for f in report.needs_person} == {Kind.ORPHAN_OBJECT, Kind.ORIGINAL_MISSING,
                                                     Kind.UNEXPECTED_ORIGINAL}
