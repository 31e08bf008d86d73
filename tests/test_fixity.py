"""Fixity: originals are re-read and re-hashed; altered, missing and unexpected ones are reported with
the documents they serve (档号, 户号), audited, shown to the administrator, and the command fails."""
from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from minio import Minio
from sqlalchemy import select
from sqlalchemy.orm import Session

from docsvc import cli, db
from docsvc.config import Settings
from docsvc.constants import FixityOutcome
from docsvc.governance import fixity
from docsvc.governance.accounts import create_user
from docsvc.models import (
    AuditEvent, Batch, BatchFile, DestroyedOriginal, DestructionList, Document, FixityCheck, utcnow,
)
from docsvc.runtime import Runtime, build_runtime
from storage import LocalStore, ObjectStore, S3Store, StoredObject
from tests.conftest import AuthActions, Users, settings_for
from tests.factories import add_document
from workers import scheduler


def scan(session: Session, store: ObjectStore, data: bytes, *, code: str | None, account: str = "3000000001",
         destroyed: bool = False) -> StoredObject:
    """An uploaded scan as intake leaves it (the original and its intake record) and its document."""
    stored, _ = store.put_original(BytesIO(data), "application/pdf")
    batch = Batch(source="cli")
    session.add(batch)
    session.flush()
    bf = BatchFile(batch_id=batch.id, position=1, filename=f"{code}.pdf", size=stored.size, sha256=stored.sha256,
                   original_key=stored.key, status="done")
    session.add(bf)
    session.flush()
    add_document(session, sha256=stored.sha256, original_key=stored.key, media_type="application/pdf",
                 reference_code=code, customer_account=account, batch_file_id=bf.id, texts=["供用电合同"])
    session.commit()
    return stored


def destroy(session: Session, store: ObjectStore, stored: StoredObject, code: str) -> None:
    """What an executed destruction leaves: the stub, the erased original's SHA-256, no object."""
    compiler = create_user(session, f"rm-{code}", "correct horse battery", ["records_manager"])
    listing = DestructionList(title="2031 年销毁", compiler_id=compiler.id, state="executed")
    session.add(listing)
    session.flush()
    session.add(DestroyedOriginal(sha256=stored.sha256, list_id=listing.id))
    for document in session.scalars(select(Document).where(Document.reference_code == code)):
        document.destroyed_at, document.destruction_list_id = utcnow(), listing.id
    session.commit()
    assert store.delete(stored.key) == 1


def alter_local(store: LocalStore, key: str) -> None:
    path = store.root / "objects" / key
    path.chmod(0o644)  # originals are read-only on disk: an alteration has to get past that first
    path.write_bytes(path.read_bytes()[:-1] + b"X")


def the_four_cases(session: Session, store: ObjectStore, alter: Callable[[str], None]) -> dict[str, StoredObject]:
    scans = {name: scan(session, store, f"%PDF-1.4 {name} scan".encode() * 50, code=code)
             for name, code in (("intact", "J001-KH·2019-D30-YX-0001"), ("altered", "J001-KH·2019-D30-YX-0002"),
                                ("missing", "J001-KH·2019-D30-YX-0003"), ("destroyed", "J001-KH·2019-D30-YX-0004"))}
    alter(scans["altered"].key)
    store.delete(scans["missing"].key)
    destroy(session, store, scans["destroyed"], "J001-KH·2019-D30-YX-0004")
    scans["stray"], _ = store.put_original(BytesIO(b"a scan nobody recorded"))
    return scans


def assert_reported(report: fixity.FixityReport, scans: dict[str, StoredObject]) -> None:
    by_key = {p.key: p for p in report.problems}
    assert set(by_key) == {scans["altered"].key, scans["missing"].key, scans["stray"].key}
    assert by_key[scans["altered"].key].outcome == FixityOutcome.ALTERED
    assert by_key[scans["altered"].key].found_sha256 not in (None, scans["altered"].sha256)
    assert [d.reference_code for d in by_key[scans["altered"].key].documents] == ["J001-KH·2019-D30-YX-0002"]
    assert [d.customer_account for d in by_key[scans["altered"].key].documents] == ["3000000001"]
    assert by_key[scans["missing"].key].outcome == FixityOutcome.MISSING
    assert [d.reference_code for d in by_key[scans["missing"].key].documents] == ["J001-KH·2019-D30-YX-0003"]
    assert by_key[scans["stray"].key].outcome == FixityOutcome.UNEXPECTED
    assert by_key[scans["stray"].key].documents == ()
    assert not report.ok and report.checked == 2 and report.intact == 1


def test_altered_missing_and_unexpected_originals_are_reported_and_a_destroyed_one_is_not(
        embedded_runtime: Runtime) -> None:
    store = embedded_runtime.store
    assert isinstance(store, LocalStore)
    with embedded_runtime.sessions() as session:
        scans = the_four_cases(session, store, lambda key: alter_local(store, key))
        report = fixity.run(session, store, budget_bytes=None)
    assert_reported(report, scans)


def test_on_the_s3_protocol_too(embedded_runtime: Runtime, s3_store: S3Store, s3_client: Minio) -> None:
    def alter(key: str) -> None:  # a write that went round docsvc: a new version of the object
        data = s3_client.get_object(s3_store.bucket, key).read()[:-1] + b"X"
        s3_client.put_object(s3_store.bucket, key, BytesIO(data), len(data))

    with embedded_runtime.sessions() as session:
        scans = the_four_cases(session, s3_store, alter)
        report = fixity.run(session, s3_store, budget_bytes=None)
    assert_reported(report, scans)


def test_the_budget_is_respected_and_the_next_run_takes_the_least_recently_checked(
        embedded_runtime: Runtime) -> None:
    store = embedded_runtime.store
    with embedded_runtime.sessions() as session:
        keys = [scan(session, store, bytes([n]) * 1000, code=f"J001-KH·2019-D30-YX-000{n}").key for n in range(1, 4)]

        def checked() -> dict[str, object]:
            session.expire_all()
            return {row.key: row.checked_at for row in session.scalars(select(FixityCheck))}

        first = fixity.run(session, store, budget_bytes=2000)
        assert (first.checked, first.bytes_read, first.unchecked) == (2, 2000, 1)
        assert set(checked()) == set(sorted(keys)[:2])
        second = fixity.run(session, store, budget_bytes=1000)
        assert second.checked == 1 and set(checked()) == set(keys), "the never checked one came next"
        before = checked()
        third = fixity.run(session, store, budget_bytes=1000)
        after = checked()
        renewed = [k for k in keys if after[k] != before[k]]
        oldest = min(keys, key=lambda k: (before[k], k))
        assert third.checked == 1 and renewed == [oldest]


def test_the_rate_limit_slows_the_reading(embedded_runtime: Runtime) -> None:
    store = embedded_runtime.store
    with embedded_runtime.sessions() as session:
        scan(session, store, os.urandom(fixity.MB), code="J001-KH·2019-D30-YX-0001")
        started = time.monotonic()
        fixity.run(session, store, budget_bytes=None, rate_bytes_s=4 * fixity.MB)
    assert time.monotonic() - started >= 0.25  # 1 MB at 4 MB/s


def test_each_problem_is_audited_once_with_its_documents_and_each_run_with_its_counts(
        embedded_runtime: Runtime) -> None:
    store = embedded_runtime.store
    with embedded_runtime.sessions() as session:
        stored = scan(session, store, b"%PDF-1.4 contract", code="J001-KH·2019-D30-YX-0007", account="3000000042")
        store.delete(stored.key)
        fixity.run(session, store, budget_bytes=None)
        fixity.run(session, store, budget_bytes=None)
        events = session.scalars(select(AuditEvent).where(AuditEvent.action.like("fixity.%"))
                                 .order_by(AuditEvent.seq)).all()
    assert [e.action for e in events] == ["fixity.problem", "fixity.run", "fixity.run"]
    problem = events[0]
    assert (problem.object_type, problem.object_id, problem.outcome) == ("original", stored.key, "missing")
    assert json.loads(problem.detail)["documents"][0] | {"document_id": 0} == {
        "document_id": 0, "reference_code": "J001-KH·2019-D30-YX-0007", "customer_account": "3000000042",
        "destroyed": False}
    assert json.loads(events[2].detail)["missing"] == 1 and events[2].outcome == "problems"


def test_an_original_that_comes_back_is_re_read_first_and_the_problem_clears(embedded_runtime: Runtime,
                                                                             tmp_path: Path) -> None:
    store = embedded_runtime.store
    with embedded_runtime.sessions() as session:
        data = b"%PDF-1.4 restored from backup"
        stored = scan(session, store, data, code="J001-KH·2019-D30-YX-0009")
        scan(session, store, b"%PDF-1.4 another", code="J001-KH·2019-D30-YX-0010")
        fixity.run(session, store, budget_bytes=None)
        store.delete(stored.key)
        assert not fixity.run(session, store, budget_bytes=None).ok
        store.put_original(BytesIO(data))
        report = fixity.run(session, store, budget_bytes=1)
    assert report.ok and report.checked == 1 and report.intact == 1


def test_the_command_names_the_document_and_exits_non_zero(embedded_runtime: Runtime,
                                                          embedded_settings: Settings) -> None:
    store = embedded_runtime.store
    with embedded_runtime.sessions() as session:
        stored = scan(session, store, b"%PDF-1.4 the contract", code="J001-KH·2019-D30-YX-0011", account="3000000077")
    env = {"DOCSVC_DATA_DIR": str(embedded_settings.data_dir), "DOCSVC_SECRET_KEY": "test-secret"}
    runner = CliRunner()
    clean = runner.invoke(cli.main, ["fixity"], env=env)
    assert clean.exit_code == 0, clean.output
    assert "完好 1" in clean.output

    alter_local(store, stored.key)
    broken = runner.invoke(cli.main, ["fixity", "--all"], env=env)
    assert broken.exit_code == 1, broken.output
    assert f"[altered] {stored.key}  J001-KH·2019-D30-YX-0011 户号 3000000077" in broken.output
    assert "从备份中恢复" in broken.output


def test_the_scheduler_runs_fixity_daily(embedded_runtime: Runtime) -> None:
    store = embedded_runtime.store
    with embedded_runtime.sessions() as session:
        scan(session, store, b"%PDF-1.4 scheduled", code="J001-KH·2019-D30-YX-0012")
    assert scheduler.check_fixity in [task for _name, task in scheduler.DAILY_TASKS]
    scheduler.run_daily(embedded_runtime)
    with embedded_runtime.sessions() as session:
        run = session.scalars(select(AuditEvent).where(AuditEvent.action == "fixity.run")).one()
        assert json.loads(run.detail)["intact"] == 1


def test_the_embedded_server_runs_fixity_on_its_scheduler_thread(embedded_runtime: Runtime) -> None:
    with embedded_runtime.sessions() as session:
        scan(session, embedded_runtime.store, b"%PDF-1.4 embedded", code="J001-KH·2019-D30-YX-0014")
    assert scheduler.check_fixity not in [task for _name, task in scheduler.quick_tasks()], \
        "re-reading originals must not hold up the server's start"
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run_daily_until, args=(stop, lambda: embedded_runtime, 0.0))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        run = None
        while run is None and time.monotonic() < deadline:
            with embedded_runtime.sessions() as session:
                run = session.scalars(select(AuditEvent).where(AuditEvent.action == "fixity.run")).first()
            time.sleep(0.05)
        assert run is not None and json.loads(run.detail)["intact"] == 1
    finally:
        stop.set()
        thread.join(timeout=30)


def test_a_second_daily_run_on_the_same_day_reads_only_what_is_left_of_the_budget(
        embedded_runtime: Runtime) -> None:
    store = embedded_runtime.store
    with embedded_runtime.sessions() as session:
        for n in range(1, 4):
            scan(session, store, bytes([n]) * 1000, code=f"J001-KH·2019-D30-YX-002{n}")
        assert fixity.run_daily(session, store, daily_bytes=2000, rate_bytes_s=fixity.MB).checked == 2
        again = fixity.run_daily(session, store, daily_bytes=2000, rate_bytes_s=fixity.MB)
    assert again.checked == 0 and again.unchecked == 1


def test_the_administrator_sees_the_last_run_and_each_problem_with_what_to_do(
        embedded_runtime: Runtime, app: Flask, client: FlaskClient, auth: AuthActions, users: Users) -> None:
    store = embedded_runtime.store
    with embedded_runtime.sessions() as session:
        stored = scan(session, store, b"%PDF-1.4 gone", code="J001-KH·2019-D30-YX-0013", account="3000000099")
        store.delete(stored.key)
        fixity.run(session, store, budget_bytes=None)
    auth.login("boss", "admin")
    page = client.get("/admin/integrity")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h2>固定性检查</h2>" in html and 'id="nav-integrity"' in html
    assert "J001-KH·2019-D30-YX-0013" in html and "3000000099" in html and stored.key in html
    assert "从备份中把该对象恢复" in html
    english = client.get("/admin/integrity", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "<h2>Fixity</h2>" in english and "固定性检查" not in english
    other = app.test_client()
    AuthActions(other, users).login("clerk", "operator")
    assert other.get("/admin/integrity").status_code == 403


def test_on_postgresql_too(pg_schema: str, tmp_path: Path) -> None:
    rt = build_runtime(settings_for(tmp_path / "var", DOCSVC_DATABASE_URL=pg_schema))
    db.upgrade(rt.engine)
    try:
        with rt.sessions() as session:
            scans = the_four_cases(session, rt.store, lambda key: alter_local(rt.store, key))  # type: ignore[arg-type]
            assert_reported(fixity.run(session, rt.store, budget_bytes=None), scans)
            again = fixity.run_daily(session, rt.store, daily_bytes=1, rate_bytes_s=fixity.MB)
            assert again.checked == 0, "today's budget was spent by the first run"
            assert {p.outcome for p in fixity.dashboard(session).problems} == set(fixity.PROBLEMS)
    finally:
        rt.close()
