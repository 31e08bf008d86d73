"""Every job may run twice (a queue re-delivers, a worker dies mid-job) and still leaves one result;
transient faults are retried up to three attempts, a bad file fails at once.

The in-process worker is never started here: the test calls the job functions itself, the way a
queue delivers (and re-delivers) them.
"""
from __future__ import annotations

import io
import random
import re
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select, update

from docsvc.constants import MAX_ATTEMPTS, STALE_CLAIM_S, FileState, JobState
from docsvc.i18n import shown, using
from docsvc.models import BatchFile, Document, Page, utcnow
from docsvc.runtime import Runtime
from tests.samples import form_text
from docsvc.pipeline.batches import batch_report, retry_page
from docsvc.pipeline.intake import Upload, receive
from storage import ObjectNotFound
from tests.scans import page_image, text_pdf_bytes
from workers import jobs as job_functions


def upload(rt: Runtime, name: str, content: bytes) -> int:
    """The file's BatchFile id, stored and with its split queued (no worker takes it)."""
    with rt.sessions() as session:
        batch = receive(session, rt.store, rt.jobs, [Upload(name, io.BytesIO(content))], source="cli")
        return batch.files[0].id


def worker_died_holding(rt: Runtime, model: type[BatchFile] | type[Page], row_id: int) -> None:
    """The row as a worker leaves it when it is killed after its work but before it says done."""
    with rt.sessions() as session:
        session.execute(update(model).where(model.id == row_id).values(
            status=JobState.RUNNING, claimed_at=utcnow() - timedelta(seconds=STALE_CLAIM_S + 60)))
        session.commit()


def pages_of(rt: Runtime, file_id: int) -> list[tuple[int, int, str]]:
    with rt.sessions() as session:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(Page.id, Page.number, Page.status).join(Document)
            .where(Document.batch_file_id == file_id).order_by(Page.number))]


def page_row(rt: Runtime, page_id: int) -> Page:
    with rt.sessions() as session:
        page = session.get(Page, page_id)
        assert page is not None
        session.expunge(page)
        return page


def account_of(seed: int) -> str:
    match = re.search(r"户号：(\d{10})", form_text(seed))
    assert match
    return match.group(1)


def damaged_tiff() -> bytes:
    """A TIFF whose structure is sound (the split counts its page) but whose LZW data is noise."""
    buf = io.BytesIO()
    page_image(51).convert("L").save(buf, "TIFF", compression="tiff_lzw", dpi=(150, 150))
    data = bytearray(buf.getvalue())
    tags = Image.open(io.BytesIO(bytes(data))).tag_v2
    noise = random.Random(51)
    for offset, count in zip(tags[273], tags[279]):
        data[offset:offset + count] = bytes(noise.randrange(256) for _ in range(count))
    return bytes(data)


def test_split_run_twice_leaves_one_document_with_the_same_pages(
        embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    file_id = upload(rt, "contract.pdf", text_pdf_bytes([form_text(s) for s in (41, 42, 43)], tmp_path))

    job_functions.split_file(file_id)
    first = pages_of(rt, file_id)
    job_functions.split_file(file_id)
    worker_died_holding(rt, BatchFile, file_id)
    job_functions.split_file(file_id)

    assert [number for _, number, _ in first] == [1, 2, 3]
    assert pages_of(rt, file_id) == first
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Document)
                              .where(Document.batch_file_id == file_id)) == 1
        bf = session.get(BatchFile, file_id)
        assert bf is not None and bf.status == FileState.DONE and bf.page_count == 3
        assert bf.attempts == 2  # the second delivery was a no-op; the stale claim ran it again


def test_page_processed_twice_keeps_one_text_the_same_objects_and_one_index_entry(
        embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    file_id = upload(rt, "contract.pdf", text_pdf_bytes([form_text(44)], tmp_path))
    job_functions.split_file(file_id)
    [(page_id, _, _)] = pages_of(rt, file_id)

    job_functions.process_page(page_id)
    assert job_functions.index_pending() == 1
    first = page_row(rt, page_id)
    first_objects = sorted(rt.store.list(f"pages/{page_id}/"))
    job_functions.process_page(page_id)
    worker_died_holding(rt, Page, page_id)
    job_functions.process_page(page_id)
    assert job_functions.index_pending() == 1  # the page was read again, so it is indexed again
    assert job_functions.index_pending() == 0

    again = page_row(rt, page_id)
    assert again.attempts == 2
    assert again.status == JobState.DONE and again.text == first.text and account_of(44) in (again.text or "")
    assert (again.image_key, again.thumb_key, again.words_key) == (first.image_key, first.thumb_key, first.words_key)
    assert sorted(rt.store.list(f"pages/{page_id}/")) == first_objects and len(first_objects) == 3
    assert list(rt.index.indexed_page_ids()).count(page_id) == 1
    hits = rt.index.search(account_of(44))
    assert hits.total_pages == 1
    assert [[p.page_id for p in d.pages] for d in hits.documents] == [[page_id]]


def read(stored: str | None) -> tuple[str, str]:
    """A message a job kept, as a Chinese and an English reader see it."""
    with using("en"):
        english = shown(stored)
    return shown(stored), english


def test_page_whose_original_is_missing_is_retried_then_failed_after_three_attempts(
        embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    file_id = upload(rt, "contract.pdf", text_pdf_bytes([form_text(45)], tmp_path))
    job_functions.split_file(file_id)
    [(page_id, _, _)] = pages_of(rt, file_id)
    with rt.sessions() as session:
        bf = session.get(BatchFile, file_id)
        assert bf is not None and bf.original_key
        batch_id, key = bf.batch_id, bf.original_key
    with rt.store.local_path(key) as original:
        away = original.with_name(original.name + ".away")
    original.rename(away)  # the store loses the object for a while (a share offline, a replica behind)

    for attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(ObjectNotFound):  # raised, so the queue runs the job again after a back-off
            job_functions.process_page(page_id)
        page = page_row(rt, page_id)
        assert (page.status, page.attempts) == (JobState.QUEUED, attempt)
        chinese, english = read(page.error)  # kept untranslated: each reader sees it in their own language
        assert "暂时性错误" in chinese and f"第 {attempt} 次" in chinese
        assert f"retrying automatically (attempt {attempt})" in english
    job_functions.process_page(page_id)  # the last attempt records the failure and returns

    page = page_row(rt, page_id)
    assert (page.status, page.attempts) == (JobState.FAILED, MAX_ATTEMPTS)
    chinese, english = read(page.error)
    assert "第 1 页" in chinese and "已尝试 3 次" in chinese and key in chinese
    assert "Page 1 (contract.pdf) failed after 3 attempts" in english and key in english
    with rt.sessions() as session:
        report = batch_report(session, batch_id)
    assert report.status == FileState.FAILED and report.pages_failed == 1

    away.rename(original)
    with rt.sessions() as session:
        retry_page(session, rt.jobs, page_id)  # what the retry button and POST /pages/<id>/retry do
    job_functions.process_page(page_id)
    page = page_row(rt, page_id)
    assert page.status == JobState.DONE and page.error is None and account_of(45) in (page.text or "")


def test_damaged_file_fails_at_once_without_retries(embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    broken_pdf = upload(rt, "export.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 20)
    noisy_tiff = upload(rt, "scan.tif", damaged_tiff())

    job_functions.split_file(broken_pdf)  # returns: nothing for the queue to retry
    job_functions.split_file(noisy_tiff)
    [(page_id, _, _)] = pages_of(rt, noisy_tiff)
    job_functions.process_page(page_id)

    with rt.sessions() as session:
        bf = session.get(BatchFile, broken_pdf)
        assert bf is not None
        assert (bf.status, bf.attempts) == (FileState.FAILED, 1)
        chinese, english = read(bf.error)
        assert "损坏" in chinese and "damaged" in english
    page = page_row(rt, page_id)
    assert (page.status, page.attempts) == (JobState.FAILED, 1)
    chinese, english = read(page.error)
    assert "TIFF" in chinese and "损坏" in chinese and "TIFF" in english and "Re-scan" in english
