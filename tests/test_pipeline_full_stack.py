"""The full stack for real: PostgreSQL, Redis with RQ workers in subprocesses, S3 (moto) through the minio SDK."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import update

from docsvc import create_app, db
from docsvc.config import Settings
from docsvc.models import Page
from docsvc.runtime import Runtime, build_runtime, install
from tests.samples import form_text
from tests.conftest import REDIS_URL, ROOT, Users, wait_for_batch
from tests.processes import stop
from tests.scans import text_pdf_bytes, tiff_bytes
from tests.test_pipeline_embedded import account_of, squash


@pytest.fixture
def stack_env(pg_schema: str, s3_server: dict[str, str], tmp_path: Path) -> dict[str, str]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    return {
        "DOCSVC_DATA_DIR": str(tmp_path / "var"),
        "DOCSVC_DATABASE_URL": pg_schema,
        "DOCSVC_REDIS_URL": REDIS_URL,
        "DOCSVC_S3_ENDPOINT": s3_server["endpoint"],
        "DOCSVC_S3_ACCESS_KEY": s3_server["access_key"],
        "DOCSVC_S3_SECRET_KEY": s3_server["secret_key"],
        "DOCSVC_S3_BUCKET": f"docsvc-{uuid.uuid4().hex[:8]}",
        "DOCSVC_SECRET_KEY": "test",
        "DOCSVC_OCR_ENGINE": "tesseract",
    }


@pytest.fixture
def stack(stack_env: dict[str, str]) -> Iterator[Runtime]:
    rt = build_runtime(Settings.from_env(stack_env))
    db.upgrade(rt.engine)
    install(rt)
    env = {**os.environ, **stack_env}
    workers = [
        subprocess.Popen([sys.executable, "-m", "docsvc.cli", "worker", "ingest", "ocr"], env=env, cwd=ROOT)
        for _ in range(2)
    ] + [subprocess.Popen([sys.executable, "-m", "docsvc.cli", "worker", "index"], env=env, cwd=ROOT)]
    yield rt
    for w in workers:
        w.terminate()  # all at once: each finishes its job while the others do too
    for w in workers:
        stop(w, timeout_s=20)
    rt.close()


@pytest.fixture
def stack_app(stack: Runtime) -> Flask:
    return create_app(runtime=stack)


def test_api_upload_is_split_ocred_and_indexed_by_rq_workers_over_s3(
        stack: Runtime, stack_app: Flask, tmp_path: Path) -> None:
    client = stack_app.test_client()
    token = Users(stack).token("scanner", "operator", "archivist")
    api = {"Authorization": f"Bearer {token}"}
    response = client.post("/api/v1/batches", headers=api, content_type="multipart/form-data", data={
        "files": [(io.BytesIO(tiff_bytes([11, 12, 13])), "stack.tif"),
                  (io.BytesIO(text_pdf_bytes([form_text(14)], tmp_path)), "bill.pdf"),
                  (io.BytesIO(b""), "empty.pdf")],
        "customer_account": account_of(11),
    })
    assert response.status_code == 202
    batch_id = response.get_json()["id"]

    report = wait_for_batch(lambda: client.get(f"/api/v1/batches/{batch_id}", headers=api).get_json(), 300)

    files = {f["name"]: f for f in report["files"]}
    assert files["empty.pdf"]["status"] == "failed" and "空文件" in files["empty.pdf"]["error"]
    assert files["stack.tif"]["status"] == "done" and files["bill.pdf"]["status"] == "done"
    assert report["status"] == "partial"
    assert report["counts"]["pages_done"] == 4
    doc = client.get(f"/api/v1/documents/{files['stack.tif']['document_ids'][0]}", headers=api).get_json()
    assert doc["customer_account"] == account_of(11)
    for page, seed in zip(doc["pages"], [11, 12, 13]):
        body = client.get(f"/api/v1/pages/{page['id']}", headers=api).get_json()
        assert body["engine"] == "tesseract"
        assert account_of(seed) in squash(body["text"])
        # tesseract spaces out Chinese characters unless told not to: stored text reads naturally.
        assert "产权分界点" in body["text"] or "检查内容" in body["text"], body["text"]
    # Originals and derived files are in the S3 bucket, not on local disk.
    keys = set(stack.store.list(""))
    assert any(k.startswith("originals/") for k in keys)
    assert f"pages/{doc['pages'][0]['id']}/words.json" in keys

    def indexed() -> dict:  # type: ignore[type-arg]
        return client.get(f"/api/v1/search?q={account_of(14)}", headers=api).get_json()
    deadline_report = wait_for_batch(lambda: {"status": "done" if indexed()["total"] else "running"}, 60)
    assert deadline_report["status"] == "done"
    assert indexed()["results"][0]["document_id"] == files["bill.pdf"]["document_ids"][0]


def test_a_failed_page_can_be_retried_through_the_api(stack: Runtime, stack_app: Flask) -> None:
    client = stack_app.test_client()
    api = {"Authorization": f"Bearer {Users(stack).token('scanner', 'operator')}"}
    batch_id = client.post("/api/v1/batches", headers=api, content_type="multipart/form-data",
                           data={"files": [(io.BytesIO(tiff_bytes([15])), "one.tif")]}).get_json()["id"]
    report = wait_for_batch(lambda: client.get(f"/api/v1/batches/{batch_id}", headers=api).get_json(), 300)
    page_id = client.get(f"/api/v1/documents/{report['files'][0]['document_ids'][0]}",
                         headers=api).get_json()["pages"][0]["id"]
    # A page that failed earlier (say the store was down): its state is all the retry needs.
    with stack.sessions() as session:
        session.execute(update(Page).where(Page.id == page_id).values(status="failed", text=None, error="store down"))
        session.commit()
    assert client.get(f"/api/v1/batches/{batch_id}", headers=api).get_json()["status"] == "failed"

    assert client.post(f"/api/v1/pages/{page_id}/retry", headers=api).status_code == 202
    report = wait_for_batch(lambda: client.get(f"/api/v1/batches/{batch_id}", headers=api).get_json(), 300)
    assert report["status"] == "done"
    assert account_of(15) in squash(client.get(f"/api/v1/pages/{page_id}", headers=api).get_json()["text"])
    assert client.post(f"/api/v1/pages/{page_id}/retry", headers=api).status_code == 409
