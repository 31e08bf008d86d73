"""The full stack: a versioned S3 bucket (moto, every version and delete marker listed with the minio
client) and PostgreSQL keep nothing of a destroyed document."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from minio import Minio
from sqlalchemy import text

from docsvc import db
from docsvc.models import Document
from docsvc.runtime import Runtime, build_runtime, install
from tests.conftest import settings_for
from tests.destruction_setup import due_document, people, shared_stack, supervised
from workers.jobs import execute_destruction

pytestmark = pytest.mark.integration   # executes erasure: register PDFs read tesseract's font, objects, index

SECRET = "窃电嫌疑人李四光住址银杏路九号"


@pytest.fixture
def stack_runtime(pg_schema: str, s3_server: dict[str, str], s3_client: Minio, tmp_path: Path) -> Iterator[Runtime]:
    bucket = f"docsvc-destroy-{uuid.uuid4().hex[:12]}"
    rt = build_runtime(settings_for(
        tmp_path / "var", DOCSVC_DATABASE_URL=pg_schema, DOCSVC_S3_ENDPOINT=s3_server["endpoint"],
        DOCSVC_S3_ACCESS_KEY=s3_server["access_key"], DOCSVC_S3_SECRET_KEY=s3_server["secret_key"],
        DOCSVC_S3_BUCKET=bucket))
    db.upgrade(rt.engine)
    install(rt)
    yield rt
    rt.close()
    for obj in s3_client.list_objects(bucket, recursive=True, include_version=True):
        s3_client.remove_object(bucket, obj.object_name, version_id=obj.version_id)
    s3_client.remove_bucket(bucket)


def _versions(client: Minio, bucket: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for obj in client.list_objects(bucket, recursive=True, include_version=True):
        found[obj.object_name] = found.get(obj.object_name, 0) + 1
    return found


def test_no_version_or_row_of_a_destroyed_document_remains_on_s3_and_postgresql(
        stack_runtime: Runtime, s3_client: Minio, tmp_path: Path) -> None:
    rt = stack_runtime
    bucket = rt.settings.s3_bucket
    who = people(rt)
    doomed, kept = shared_stack(rt, tmp_path, [f"窃电处理记录\n{SECRET}", "计量装置更换记录\n保留"], at=2)
    alone = due_document(rt, tmp_path, "alone.pdf", [f"{SECRET}（另件）"])
    with rt.sessions() as s:
        pages = [p for d in (doomed, alone) for p in s.get(Document, d).pages]  # type: ignore[union-attr]
        page_ids = [p.id for p in pages]
        doomed_keys = {k for p in pages for k in (p.image_key, p.thumb_key, p.words_key) if k}
        doomed_keys |= {s.get(Document, d).original_key for d in (doomed, alone)}  # type: ignore[union-attr]
    # History the bucket keeps: an overwritten page image and a words file with a delete marker on top.
    rt.store.put_bytes(pages[0].image_key, b"an older rendering")  # type: ignore[arg-type]
    s3_client.remove_object(bucket, pages[0].words_key)  # type: ignore[arg-type]
    before = _versions(s3_client, bucket)
    assert before[pages[0].image_key] == 2 and before[pages[0].words_key] == 2  # type: ignore[index]
    with rt.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pages WHERE text LIKE :p"), {"p": f"%{SECRET}%"}).scalar() == 2

    execute_destruction(supervised(rt, who, [doomed, alone]))

    after = _versions(s3_client, bucket)
    assert doomed_keys and doomed_keys.isdisjoint(after)
    assert not [k for k in after for pid in page_ids if k.startswith(f"pages/{pid}/")]
    with rt.sessions() as s:
        kept_doc = s.get(Document, kept)
        assert kept_doc is not None and kept_doc.original_key in after
        assert SECRET.encode() not in rt.store.read_bytes(kept_doc.original_key)
        assert all(rt.store.exists(p.image_key) for p in kept_doc.pages)  # type: ignore[arg-type]
    with rt.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pages WHERE text LIKE :p"), {"p": f"%{SECRET}%"}).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM pages WHERE id = ANY(:ids)"), {"ids": page_ids}).scalar() == 0
        vacuumed = conn.execute(text(
            "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'pages' "
            "AND schemaname = current_schema()")).scalar()
        assert vacuumed
    assert rt.index.search(SECRET[:6]).total_documents == 0
    cache = rt.settings.cache_dir
    assert not [p for p in cache.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
