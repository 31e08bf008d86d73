"""The batch list: each batch's progress, read with a fixed number of queries however many batches."""
from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import event

from docsvc.constants import FileState, JobState
from docsvc.models import Batch, BatchFile, Document, Page
from docsvc.runtime import Runtime
from tests.conftest import AuthActions


def _add_batches(runtime: Runtime, count: int, pages_done: int, pages_failed: int) -> list[int]:
    ids = []
    with runtime.sessions() as session:
        for n in range(count):
            batch = Batch(source="web")
            session.add(batch)
            session.flush()
            bf = BatchFile(batch_id=batch.id, position=0, filename=f"扫描{n}.pdf", status=JobState.DONE)
            session.add(bf)
            session.flush()
            doc = Document(sha256=f"{batch.id:064x}", original_key=f"k/{batch.id}", media_type="application/pdf",
                           batch_file_id=bf.id, page_count=pages_done + pages_failed)
            session.add(doc)
            session.flush()
            statuses = [JobState.DONE] * pages_done + [JobState.FAILED] * pages_failed
            session.add_all(Page(document_id=doc.id, number=i + 1, source_index=i, status=status)
                            for i, status in enumerate(statuses))
            ids.append(batch.id)
        session.commit()
    return ids


def _statements_for_list(client: FlaskClient, runtime: Runtime) -> tuple[int, str]:
    seen: list[str] = []

    def count(*_args: object) -> None:
        seen.append("")

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        html = client.get("/batches").get_data(as_text=True)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    return len(seen), html


def test_batch_list_shows_each_batchs_progress_with_the_same_queries_for_3_or_30_batches(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    auth.login("operator", "operator")
    first = _add_batches(embedded_runtime, 3, pages_done=2, pages_failed=1)
    few, html = _statements_for_list(client, embedded_runtime)
    for batch_id in first:
        row = re.search(rf">#{batch_id}</a>.*?</tr>", html, re.S)
        assert row and "2/3" in row.group(0) and f"status-{FileState.PARTIAL}" in row.group(0)
    _add_batches(embedded_runtime, 27, pages_done=4, pages_failed=0)
    many, html = _statements_for_list(client, embedded_runtime)
    assert many == few
    assert html.count("4/4") == 27 and html.count(f"status-{FileState.DONE}") == 27
