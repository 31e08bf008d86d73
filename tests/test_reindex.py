"""`docsvc reindex` and `docsvc index check`: rebuilding from the database, resuming, repairing."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from docsvc.constants import IndexState
from docsvc.models import Document, Page
from docsvc.runtime import Runtime
from docsvc.search import PageRecord, SearchIndex
from docsvc.search.index import BUILD_STATE_FILE, VERSION_FILE
from docsvc.pipeline.indexing import index_pending
from tests.conftest import ROOT, docsvc_cli

PLACES = "城东线 江北线 滨海线 南湖支线 工业一线".split()


def add_pages(rt: Runtime, documents: int, pages_each: int) -> list[int]:
    """Documents with text already read, as the OCR job leaves them (waiting for the index)."""
    with rt.sessions() as session:
        for d in range(documents):
            doc = Document(sha256=f"{d:064x}", original_key=f"originals/{d}", media_type="application/pdf",
                           title=f"合同{d}", customer_account=f"33{d:08d}", doc_type="HT")
            session.add(doc)
            session.flush()
            for n in range(1, pages_each + 1):
                session.add(Page(document_id=doc.id, number=n, source_index=n - 1, status="done",
                                 index_state=IndexState.PENDING,
                                 text=f"第{d}号合同第{n}页，产权分界点位于{PLACES[(d + n) % 5]}第{n}号杆。编号GD-{d:06d}-{n:03d}"))
        session.commit()
        return list(session.scalars(select(Page.id).order_by(Page.id)))


def env_of(rt: Runtime) -> dict[str, str]:
    return {"DOCSVC_DATA_DIR": str(rt.settings.data_dir), "DOCSVC_SECRET_KEY": "test-secret",
            "DOCSVC_OCR_ENGINE": "rapidocr"}


@pytest.mark.integration   # runs and kills docsvc reindex
def test_killed_reindex_resumes_and_leaves_a_complete_index_without_duplicates(embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    ids = add_pages(rt, documents=300, pages_each=4)
    rt.index.add_pages([PageRecord(999_999, 999, 1, "旧索引里的页面")])  # the old index, still serving
    state_file = rt.settings.index_dir / BUILD_STATE_FILE
    proc = subprocess.Popen([sys.executable, "-m", "docsvc.cli", "reindex", "--commit-every", "50", "--procs", "2"],
                            env={**os.environ, **env_of(rt)}, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        committed = 0
        while committed < 300 and time.monotonic() < deadline and proc.poll() is None:
            try:
                committed = json.loads(state_file.read_text())["pages"]
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # the command and its indexing processes, as a crash would
    finally:
        proc.wait()
    assert 300 <= committed < len(ids), "reindex must be killed half-way"
    assert rt.index.search("旧索引").total_pages == 1        # the old index kept serving

    done = docsvc_cli("reindex", "--commit-every", "50", env=env_of(rt))
    assert done.returncode == 0, done.stderr

    state = rt.index
    indexed = list(state.indexed_page_ids())
    assert sorted(indexed) == ids and len(indexed) == len(set(indexed))   # complete, nothing twice
    assert state.search("旧索引").total_pages == 0
    assert state.search("GD-000007-002").total_pages == 1
    assert not state_file.exists()


@pytest.mark.integration   # runs the docsvc command
def test_index_check_finds_and_repairs_a_missing_page_and_a_stale_entry(embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    ids = add_pages(rt, documents=5, pages_each=2)
    with rt.sessions() as session:
        index_pending(session, rt.index)
    rt.index.delete_pages([ids[3]])                                  # lost from the index
    rt.index.add_pages([PageRecord(424_242, 4242, 1, "早已删除的页面")])  # its page no longer exists

    found = docsvc_cli("index", "check", env=env_of(rt))
    assert found.returncode == 1
    assert f"索引中缺少的页：1  {ids[3]}" in found.stdout
    assert "已不存在的页的索引条目：1  424242" in found.stdout

    repaired = docsvc_cli("index", "check", "--repair", env=env_of(rt))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert sorted(SearchIndex(rt.settings.index_dir).indexed_page_ids()) == ids
    assert docsvc_cli("index", "check", env=env_of(rt)).returncode == 0


def test_index_worker_rebuilds_an_index_of_an_older_schema_before_writing(embedded_runtime: Runtime) -> None:
    from workers.jobs import index_pending as index_job

    rt = embedded_runtime
    add_pages(rt, documents=3, pages_each=1)
    (rt.index.current_directory() / VERSION_FILE).write_text(json.dumps({"schema_version": 1}))
    assert rt.index.needs_rebuild()
    index_job()
    assert not rt.index.needs_rebuild()
    assert rt.index.search("产权分界点").total_pages == 3
    with rt.sessions() as session:
        assert set(session.scalars(select(Page.index_state))) == {IndexState.DONE}


def test_relinked_document_is_found_under_its_new_customer(embedded_runtime: Runtime) -> None:
    from docsvc.pipeline.reindex import reindex_documents

    rt = embedded_runtime
    add_pages(rt, documents=1, pages_each=2)
    with rt.sessions() as session:
        index_pending(session, rt.index)
        doc = session.scalars(select(Document)).one()
        doc.customer_account = "3309990001"
        session.commit()
        reindex_documents(session, rt.jobs, [doc.id])
        index_pending(session, rt.index)  # what the index worker does when the job runs
    assert rt.index.search("户号:3309990001").total_pages == 2


@pytest.mark.integration   # runs the docsvc command
def test_cli_help_lists_reindex_and_index_check(tmp_path: Path) -> None:
    out = docsvc_cli("--help", env={"DOCSVC_DATA_DIR": str(tmp_path)})
    assert "reindex" in out.stdout and "index" in out.stdout
