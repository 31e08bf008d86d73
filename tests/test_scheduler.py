"""Work whose worker died mid-job is found again by the scheduler and re-queued on Redis."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import redis
from rq import Queue


from docsvc import db
from docsvc.models import Batch, BatchFile, Document, Page, utcnow
from docsvc.runtime import build_runtime
from tests.conftest import docsvc_cli, settings_for

REDIS_DB12 = "redis://127.0.0.1:6379/12"


def test_a_page_claimed_by_a_dead_worker_is_requeued(pg_schema: str, tmp_path: Path) -> None:
    env = {"DOCSVC_DATA_DIR": str(tmp_path / "var"), "DOCSVC_DATABASE_URL": pg_schema, "DOCSVC_REDIS_URL": REDIS_DB12}
    connection = redis.Redis.from_url(REDIS_DB12)
    connection.flushdb()
    rt = build_runtime(settings_for(tmp_path / "var", DOCSVC_DATABASE_URL=pg_schema, DOCSVC_REDIS_URL=REDIS_DB12))
    db.upgrade(rt.engine)
    with rt.sessions() as session:
        batch = Batch(source="cli")
        session.add(batch)
        session.flush()
        bf = BatchFile(batch_id=batch.id, position=1, filename="a.pdf", status="done")
        session.add(bf)
        session.flush()
        doc = Document(batch_file_id=bf.id, sha256="0" * 64, original_key="originals/" + "0" * 64,
                       media_type="application/pdf", page_count=2)
        session.add(doc)
        session.flush()
        dead = Page(document_id=doc.id, number=1, source_index=0, status="running",
                    claimed_at=utcnow() - timedelta(hours=2))
        busy = Page(document_id=doc.id, number=2, source_index=1, status="running", claimed_at=utcnow())
        session.add_all([dead, busy])
        session.commit()
        dead_id, busy_id = dead.id, busy.id

    result = docsvc_cli("scheduler", "--once", env=env, timeout=60)

    assert result.returncode == 0, result.stderr
    jobs = Queue("ocr", connection=connection).get_jobs()
    assert [j.args for j in jobs] == [(dead_id,)]
    assert any(k.startswith("audit/anchors/") for k in rt.store.list("audit/"))
    with rt.sessions() as session:
        assert session.get(Page, dead_id).status == "queued"
        assert session.get(Page, busy_id).status == "running"
    rt.close()
