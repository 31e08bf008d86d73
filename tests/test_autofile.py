"""Automatic filing: once a scan is read, a confident, unambiguous suggestion files it by itself, once."""
from __future__ import annotations

import io
import json
import threading
from datetime import date
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from docsvc import db as dbmod
from docsvc.config import FilingSettings, Settings
from docsvc.constants import IndexState, JobState
from docsvc.db import make_engine, make_sessionmaker
from docsvc.models import AuditEvent, Document, DocumentType, Page
from docsvc.runtime import Runtime
from tests.samples import render_page
from docsvc.files import suggestions
from docsvc.i18n import shown, using
from docsvc.files.customers import AccountRule, create_customer
from tests.conftest import AuthActions, Users, settings_for, wait_for_batch
from tests.scans import TEST_DPI
from tests.factories import add_document

# scans go through the real OCR engine before they can file themselves
pytestmark = pytest.mark.integration

RULE = AccountRule(r"^\d{10}$")
# Small pages with few lines: the OCR is real but quick.
STRONG = "用电申请书\n户号：3100012345\n户名：宏达机械制造有限公司\n申请类别：新装"
WEAK = "用电申请书\n申请人：绿源食品加工厂\n申请类别：新装"


@pytest.fixture
def embedded_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The embedded default, with the environment a test asks for (parametrize it indirectly)."""
    return settings_for(tmp_path / "var", **getattr(request, "param", {}))


def scan(text: str) -> bytes:
    buf = io.BytesIO()
    render_page(text, dpi=TEST_DPI, size="A5").convert("1").save(buf, "TIFF", compression="group4",
                                                                  dpi=(TEST_DPI, TEST_DPI))
    return buf.getvalue()


def add_customers(rt: Runtime) -> None:
    with rt.sessions() as s:
        create_customer(s, None, RULE, "3100012345", {"name": "宏达机械制造有限公司"})
        # Two accounts of one owner under the same name: a name alone cannot tell them apart.
        create_customer(s, None, RULE, "3100000001", {"name": "绿源食品加工厂"})
        create_customer(s, None, RULE, "3100000002", {"name": "绿源食品加工厂"})


def upload_and_read(client: FlaskClient, auth: AuthActions, rt: Runtime, name: str, text: str,
                    doc_type: str = "SQ") -> int:
    """Upload one scan as `doc_type` ("" for none) with no customer named, wait until it is read; its document id."""
    response = client.post("/upload", data={"files": [(io.BytesIO(scan(text)), name)], "doc_type": doc_type,
                                            "csrf_token": auth.csrf()},
                           content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert response.status_code == 202, response.get_data(as_text=True)
    batch_id = response.get_json()["batch_id"]
    report = wait_for_batch(lambda: client.get(f"/batches/{batch_id}/progress").get_json())
    assert report["status"] == "done", report
    assert rt.jobs.wait_idle(120)  # type: ignore[attr-defined]  # the filing hook and the index job
    return int(report["files"][0]["document_ids"][0])


def file_events(rt: Runtime, document_id: int) -> list[AuditEvent]:
    with rt.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == "document.file",
                                                       AuditEvent.object_id == str(document_id))))


def test_a_scan_naming_a_known_customer_files_itself_with_a_code_audit_and_index(
        client: FlaskClient, auth: AuthActions, users: Users, embedded_runtime: Runtime) -> None:
    add_customers(embedded_runtime)
    auth.login("archivist", "archivist")
    doc_id = upload_and_read(client, auth, embedded_runtime, "application.tif", STRONG)

    with embedded_runtime.sessions() as s:
        document = s.get(Document, doc_id)
        assert document is not None and document.customer is not None
        retention = s.get(DocumentType, "SQ").retention  # type: ignore[union-attr]
        assert (document.customer.account, document.doc_type) == ("3100012345", "SQ")
        code = f"J001-KH·{date.today().year}-{retention}-YX-0001"
        assert document.reference_code == code and document.filed_at is not None
    [event] = file_events(embedded_runtime, doc_id)
    detail = json.loads(event.detail or "{}")
    assert event.actor_id is None and detail["how"] == "autofile" and detail["reference_code"] == code
    assert detail["confidence"] >= 0.95 and detail["basis"]["threshold"] == 0.95
    # The trail keeps the evidence in no language: each reader reads it in theirs.
    assert [shown(e) for e in detail["basis"]["evidence"]] == ["户号 3100012345", "户名 宏达机械制造有限公司"]
    with using("en"):
        assert [shown(e) for e in detail["basis"]["evidence"]] == ["account no. 3100012345", "name 宏达机械制造有限公司"]

    # The index job re-read the page after the filing: its hit carries the customer and the 档号.
    api = {"Authorization": f"Bearer {users.token('reader', 'archivist')}"}
    hits = client.get("/api/v1/search?q=3100012345", headers=api).get_json()["results"]
    assert [(h["document_id"], h["customer_account"], h["reference_code"]) for h in hits] == [
        (doc_id, "3100012345", code)]

    inbox = client.get("/inbox").get_data(as_text=True)
    assert "最近系统自动归档" in inbox and f"#{doc_id} application.tif" in inbox and code in inbox
    assert "系统自动归档（置信度 0.97，依据：户号 3100012345" in inbox
    timeline = client.get("/customers/3100012345").get_data(as_text=True)
    assert "系统自动归档（置信度 0.97，依据：户号 3100012345，户名 宏达机械制造有限公司）" in timeline and "filed automatically" not in timeline
    timeline = client.get("/customers/3100012345", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "filed automatically (confidence 0.97; evidence: account no. 3100012345, name 宏达机械制造有限公司)" in timeline


@pytest.mark.parametrize("embedded_settings", [{"DOCSVC_AUTOFILE_CONFIDENCE": "0.5"}], indirect=True)
def test_a_name_shared_by_two_customers_leaves_the_scan_in_the_inbox_with_both_suggested(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    # Even with the threshold lowered under their confidence, a tie is never decided by the system.
    add_customers(embedded_runtime)
    auth.login("operator", "operator")
    doc_id = upload_and_read(client, auth, embedded_runtime, "weak.tif", WEAK)

    with embedded_runtime.sessions() as s:
        document = s.get(Document, doc_id)
        assert document is not None and document.filed_at is None and document.reference_code is None
        ranked = suggestions.suggest(s, document)
        assert sorted(r.account for r in ranked) == ["3100000001", "3100000002"]
        assert ranked[0].confidence == ranked[1].confidence
    assert file_events(embedded_runtime, doc_id) == []
    inbox = client.get(f"/inbox?document={doc_id}").get_data(as_text=True)
    assert 'data-account="3100000001"' in inbox and 'data-account="3100000002"' in inbox
    assert "最近系统自动归档" not in inbox


@pytest.mark.parametrize("embedded_settings", [{"DOCSVC_AUTOFILE": "0"}], indirect=True)
def test_with_autofile_off_nothing_files_itself_and_the_hook_files_once_when_run_twice(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    add_customers(embedded_runtime)
    auth.login("operator", "operator")
    doc_id = upload_and_read(client, auth, embedded_runtime, "application.tif", STRONG)

    with embedded_runtime.sessions() as s:
        document = s.get(Document, doc_id)
        assert document is not None and document.filed_at is None
        assert suggestions.suggest(s, document)[0].confidence >= 0.95  # confident, but filing is off
    assert file_events(embedded_runtime, doc_id) == []
    assert "自动归档已关闭" in client.get(f"/inbox?document={doc_id}").get_data(as_text=True)

    # The same document, the hook switched on and run twice (a retried page job): filed once.
    on = FilingSettings()
    with embedded_runtime.sessions() as s:
        assert suggestions.file_when_read(s, doc_id, on) is True
    with embedded_runtime.sessions() as s:
        assert suggestions.file_when_read(s, doc_id, on) is False
        document = s.get(Document, doc_id)
        assert document is not None and document.customer_account == "3100012345"
        assert document.reference_code is not None and document.reference_code.endswith("-0001")
    assert len(file_events(embedded_runtime, doc_id)) == 1


def test_two_workers_reading_the_last_pages_together_file_the_document_once_on_postgresql(pg_schema: str) -> None:
    engine = make_engine(pg_schema)
    dbmod.upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        create_customer(s, None, RULE, "3100012345", {"name": "宏达机械制造有限公司"})
        document = Document(sha256="a" * 64, original_key="originals/a", media_type="image/tiff", title="two pages",
                            doc_type="SQ", page_count=2)
        s.add(document)
        s.flush()
        s.add_all([Page(document_id=document.id, number=1, source_index=0, status=JobState.DONE,
                        text="户号：3100012345", index_state=IndexState.DONE),
                   Page(document_id=document.id, number=2, source_index=1, status=JobState.RUNNING,
                        text="户名：宏达机械制造有限公司", index_state=IndexState.DONE)])
        s.commit()
        doc_id = document.id
    with sessions() as s:
        assert suggestions.file_when_read(s, doc_id, FilingSettings()) is False  # page 2 is not read yet
        s.execute(Page.__table__.update().where(Page.document_id == doc_id).values(status=JobState.DONE))
        s.commit()

    barrier = threading.Barrier(4)
    results: list[bool] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with sessions() as s:
                barrier.wait()
                results.append(suggestions.file_when_read(s, doc_id, FilingSettings()))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(results) == [False, False, False, True]
    with sessions() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "document.file")).all()
        codes = s.scalars(select(Document.reference_code)).all()
        pending = s.scalars(select(Page.index_state).where(Page.document_id == doc_id)).all()
    engine.dispose()
    assert len(events) == 1 and len(codes) == 1 and codes[0] is not None
    assert pending == [IndexState.PENDING, IndexState.PENDING]  # the index job re-reads the pages


# A contract scanned and uploaded with no type: its title says what it is.
CONTRACT = "高压供用电合同\n合同编号：GD-2019-004512\n户号：3100012345\n用电人：宏达机械制造有限公司"


def test_a_contract_uploaded_without_a_type_files_itself_under_the_guessed_type(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    add_customers(embedded_runtime)
    auth.login("archivist", "archivist")
    doc_id = upload_and_read(client, auth, embedded_runtime, "contract.tif", CONTRACT, doc_type="")

    with embedded_runtime.sessions() as s:
        document = s.get(Document, doc_id)
        assert document is not None and document.customer is not None
        assert (document.customer.account, document.doc_type) == ("3100012345", "HT")
        code = f"J001-KH·{date.today().year}-Y-YX-0001"  # HT is kept permanently (Y)
        assert document.reference_code == code and document.filed_at is not None
    [event] = file_events(embedded_runtime, doc_id)
    detail = json.loads(event.detail or "{}")
    assert detail["how"] == "autofile" and detail["doc_type"] == "HT"
    guess = detail["basis"]["type_guess"]
    assert guess["code"] == "HT" and guess["confidence"] >= 0.95
    assert any("供用电合同" in reason for reason in guess["evidence"]), guess

    timeline = client.get("/customers/3100012345").get_data(as_text=True)
    assert "类型由系统推测：HT 供用电合同及协议" in timeline and "type guessed" not in timeline
    timeline = client.get("/customers/3100012345", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "type guessed: HT 供用电合同及协议, confidence 0.97, from line 1: “供用电合同”" in timeline


def _unfiled(rt: Runtime, text: str) -> int:
    """A read, untyped, never-filed document with this first page (as OCR left it)."""
    with rt.sessions() as s:
        document = add_document(s, sha256=f"{abs(hash(text)):064d}"[-64:], original_key="originals/x",
                                title="scan.tif", texts=[text])
        s.commit()
        return document.id


def test_an_untyped_scan_waits_in_the_inbox_when_its_type_is_unclear_or_not_confident_enough(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    add_customers(embedded_runtime)
    customer = "户号：3100012345\n户名：宏达机械制造有限公司"
    two_titles = _unfiled(embedded_runtime, f"用电申请书\n用电检查单\n{customer}")
    misread = _unfiled(embedded_runtime, f"供用电合问\n{customer}")  # one character misread: 0.82
    no_title = _unfiled(embedded_runtime, f"{customer}\n第二条 供电方式")
    for doc_id in (two_titles, misread, no_title):
        with embedded_runtime.sessions() as s:
            assert suggestions.file_when_read(s, doc_id, FilingSettings()) is False
        assert file_events(embedded_runtime, doc_id) == []
    # A lower threshold takes the misread title; two titles stay the operator's choice whatever the threshold.
    lenient = FilingSettings(autofile_confidence=0.8)
    with embedded_runtime.sessions() as s:
        assert suggestions.file_when_read(s, two_titles, lenient) is False
        assert suggestions.file_when_read(s, misread, lenient) is True
        assert s.get(Document, misread).doc_type == "HT"  # type: ignore[union-attr]

    auth.login("operator", "operator")
    page = client.get(f"/inbox?document={two_titles}").get_data(as_text=True)
    assert "推测类型不确定：用电申请书 或 用电检查单" in page and 'selected>' not in page
