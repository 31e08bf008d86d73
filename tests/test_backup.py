"""`docsvc backup` / `docsvc restore`: a BagIt package of the whole archive, restored into an empty instance of
either engine — the same rows, object bytes, search answers and audit chain; a damaged bag, a non-empty target
and an incremental chain of bags."""
from __future__ import annotations

import json
import os
import time
from datetime import date, datetime, timezone
from io import BytesIO
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Engine, Float, LargeBinary, MetaData, Text, select

from docsvc import cli, db
from docsvc.constants import IndexState, JobState
from docsvc.errors import Corrupted
from docsvc.files.searching import search_for_user
from docsvc.governance import audit
from docsvc.governance.accounts import create_user
from docsvc.models import Document, Page, User, as_utc
from docsvc.pipeline import backup, consistency, restore
from docsvc.pipeline.intake import Upload, receive
from docsvc.runtime import Runtime, build_runtime
from storage import S3Store
from tests.conftest import settings_for
from tests.factories import add_stored_document
from tests.samples import form_text
from tests.scans import text_pdf_bytes, tiff_bytes

pytestmark = pytest.mark.integration  # real pipeline threads, PostgreSQL and an S3 server

QUERIES = ("供电", "合同", "户号", "电能表")


def read_everything(rt: Runtime, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with rt.sessions() as session:
            pages = session.scalars(select(Page)).all()
            if pages and all(p.status == JobState.DONE and p.index_state == IndexState.DONE for p in pages):
                return
        time.sleep(0.2)
    raise AssertionError(f"pages not read within {timeout_s}s")


def fill(rt: Runtime, tmp_path: Path, *, scanned: bool = False) -> None:
    """An archive as a user leaves it: accounts, read scans (text-layer PDF; a scanned TIFF read by OCR when
    `scanned`), described documents, searches in the audit trail, an audit anchor."""
    with rt.sessions() as session:
        create_user(session, "admin", "correct horse battery", ["admin", "archivist"])
        uploads = [Upload("合同.pdf", BytesIO(text_pdf_bytes([form_text(n) for n in range(1, 4)], tmp_path)))]
        if scanned:
            uploads.append(Upload("scan.tif", BytesIO(tiff_bytes([7]))))
        receive(session, rt.store, rt.jobs, uploads, source="cli")
    rt.jobs.start()
    read_everything(rt)
    with rt.sessions() as session:
        document = session.scalars(select(Document).order_by(Document.id)).first()
        assert document is not None
        document.doc_date, document.notes, document.keep_permanently = date(2019, 5, 1), "备注：产权分界点", True
        session.commit()
        admin = session.scalars(select(User)).one()
        for q in QUERIES:
            audit.record(session, admin, "search", detail={"q": q})
        session.commit()
        audit.write_anchor(session, rt.store)


def rows_of(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows in primary-key order, times as aware UTC (SQLite hands them back naive)."""
    metadata = MetaData()
    with engine.connect() as conn:
        metadata.reflect(conn)
        return {name: [tuple(as_utc(v) if isinstance(v, datetime) else v for v in row)
                       for row in conn.execute(select(table).order_by(*(table.primary_key.columns or table.columns)))]
                for name, table in metadata.tables.items() if name != "alembic_version"}


def objects_of(rt: Runtime) -> dict[str, bytes]:
    return {key: rt.store.read_bytes(key) for key in rt.store.list("")}


def answers(rt: Runtime) -> dict[str, list[tuple[int, list[int]]]]:
    with rt.sessions() as session:
        admin = session.scalars(select(User).where(User.username == "admin")).one()
        return {q: [(d.document_id, [p.page_id for p in d.pages])
                    for d in search_for_user(session, rt.index, admin, q).documents] for q in QUERIES}


def assert_same_archive(source_rows: dict, source_objects: dict[str, bytes], source_answers: dict,
                        restored: Runtime) -> None:
    rows = rows_of(restored.engine)
    for name, expected in source_rows.items():
        if name in ("audit_events", "audit_chain_head"):
            continue
        if name == "operations":  # `docsvc backup` records its own run, caught mid-way: ended by the restore
            assert all(row[2] == "failed" for row in rows[name]), rows[name]
            continue
        assert rows[name] == expected, name
    # The restored chain is the source's, then the restore's own event.
    events = rows["audit_events"]
    assert events[:len(source_rows["audit_events"])] == source_rows["audit_events"]
    assert [e[5] for e in events[len(source_rows["audit_events"]):]] == ["backup.restore"]
    objects = objects_of(restored)
    assert objects.keys() == source_objects.keys()
    for key, data in source_objects.items():
        assert objects[key] == data, key
    assert answers(restored) == source_answers
    assert all(hits for hits in source_answers.values())
    with restored.sessions() as session:
        assert audit.verify(session, audit.load_anchors(restored.store)).ok
    # Database, store and index agree (`docsvc check` would exit 0).
    assert consistency.check(restored.sessions, restored.store, restored.index).findings == []


def test_round_trip_embedded_to_embedded(embedded_runtime: Runtime, tmp_path: Path) -> None:
    source = embedded_runtime
    fill(source, tmp_path, scanned=True)
    expected = rows_of(source.engine), objects_of(source), answers(source)
    bag = tmp_path / "bag"

    report = backup.write(source.engine, source.store, bag)

    assert report.ok and report.originals == 2 and report.originals_linked == 0
    for name in ("manifest-sha256.txt", "tagmanifest-sha256.txt", "bag-info.txt", "bagit.txt"):
        assert (bag / name).is_file()
    info = (bag / "bag-info.txt").read_text(encoding="utf-8")
    assert f"Docsvc-Schema-Revision: {db.head_revision()}" in info
    assert "Docsvc-Source-Database: sqlite" in info and "Docsvc-Source-Store: local" in info
    assert f"Docsvc-Rows-pages: {len(expected[0]['pages'])}" in info
    # Originals by content, page images left to the restore to redraw.
    assert sorted(p.name for p in (bag / "data" / "originals").iterdir()) == sorted(
        k.removeprefix("originals/") for k in expected[1] if k.startswith("originals/"))
    assert not list((bag / "data" / "objects" / "pages").glob("*/image.*"))
    first = json.loads((bag / "data" / "tables" / "documents.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["doc_date"] == "2019-05-01" and first["created_at"].endswith("+00:00")

    target = build_runtime(settings_for(tmp_path / "restored"))
    try:
        result = restore.restore(bag, target.engine, target.sessions, target.store, target.index, target.settings)
        assert result.ok and result.redrawn == len(expected[0]["pages"])
        assert_same_archive(*expected, target)
    finally:
        target.close()


def test_embedded_moves_up_to_postgresql_and_s3(embedded_runtime: Runtime, tmp_path: Path, pg_schema: str,
                                                s3_server: dict[str, str], s3_store: S3Store) -> None:
    source = embedded_runtime
    fill(source, tmp_path)
    expected = rows_of(source.engine), objects_of(source), answers(source)
    bag = tmp_path / "bag"
    env = {"DOCSVC_DATA_DIR": str(source.settings.data_dir), "DOCSVC_SECRET_KEY": "test-secret"}
    written = CliRunner().invoke(cli.main, ["backup", str(bag)], env=env)
    assert written.exit_code == 0, written.output

    full = {"DOCSVC_DATABASE_URL": pg_schema, "DOCSVC_S3_ENDPOINT": s3_server["endpoint"],
            "DOCSVC_S3_ACCESS_KEY": s3_server["access_key"], "DOCSVC_S3_SECRET_KEY": s3_server["secret_key"],
            "DOCSVC_S3_BUCKET": s3_store.bucket, "DOCSVC_DATA_DIR": str(tmp_path / "full"),
            "DOCSVC_SECRET_KEY": "test-secret"}
    restored = CliRunner().invoke(cli.main, ["restore", str(bag)], env=full)
    assert restored.exit_code == 0, restored.output
    assert "审计日志完整" in restored.output

    target = build_runtime(settings_for(tmp_path / "full", DOCSVC_DATABASE_URL=pg_schema,
                                        DOCSVC_S3_ENDPOINT=s3_server["endpoint"],
                                        DOCSVC_S3_ACCESS_KEY=s3_server["access_key"],
                                        DOCSVC_S3_SECRET_KEY=s3_server["secret_key"], DOCSVC_S3_BUCKET=s3_store.bucket))
    try:
        assert_same_archive(*expected, target)
        # Sequences moved past the restored ids: new rows get new ids.
        with target.sessions() as session:
            user = create_user(session, "newcomer", "correct horse battery", ["viewer"])
            assert user.id > max(row[0] for row in expected[0]["users"])
            document_id, _ = add_stored_document(target, b"%PDF-1.4 new", texts=["新"], title="new")
            assert document_id > max(row[0] for row in expected[0]["documents"])
    finally:
        target.close()


def test_a_damaged_bag_is_refused_naming_the_file(embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    with rt.sessions() as session:
        create_user(session, "admin", "correct horse battery", ["admin"])
    add_stored_document(rt, b"%PDF-1.4 one", texts=["一"], title="one")
    bag = tmp_path / "bag"
    backup.write(rt.engine, rt.store, bag, with_derived=True)
    target = build_runtime(settings_for(tmp_path / "target"))
    try:
        documents = bag / "data" / "tables" / "documents.jsonl"
        original = documents.read_bytes()
        documents.write_bytes(original.replace(b"one", b"eno", 1))   # one changed byte
        with pytest.raises(Corrupted, match="data/tables/documents.jsonl"):
            restore.restore(bag, target.engine, target.sessions, target.store, target.index, target.settings)
        documents.write_bytes(original)
        (original_file,) = (bag / "data" / "originals").iterdir()
        kept = original_file.read_bytes()
        original_file.unlink()                                        # a missing file
        refused = CliRunner().invoke(cli.main, ["restore", str(bag)],
                                     env={"DOCSVC_DATA_DIR": str(tmp_path / "target"), "DOCSVC_SECRET_KEY": "x"})
        assert refused.exit_code != 0
        assert f"data/originals/{original_file.name}" in refused.output and "缺失" in refused.output
        # Nothing was restored: once the bag is whole again, the same target takes it.
        original_file.write_bytes(kept)
        assert db.current_revision(target.engine) is None and not list(target.store.list(""))
        assert restore.restore(bag, target.engine, target.sessions, target.store, target.index, target.settings).ok
    finally:
        target.close()


def test_restore_refuses_an_instance_that_is_not_empty(embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    add_stored_document(rt, b"%PDF-1.4 one", texts=["一"], title="one")
    bag = tmp_path / "bag"
    backup.write(rt.engine, rt.store, bag, with_derived=True)
    with rt.sessions() as session:
        before = session.scalar(select(Document.id).order_by(Document.id.desc()))
    with pytest.raises(restore.RestoreRefused, match="不是空的.*documents \\(1\\).*对象存储"):
        restore.restore(bag, rt.engine, rt.sessions, rt.store, rt.index, rt.settings)
    with rt.sessions() as session:
        assert session.scalar(select(Document.id).order_by(Document.id.desc())) == before
    # An account alone makes an instance non-empty too: restore never merges.
    target = build_runtime(settings_for(tmp_path / "target"))
    try:
        db.upgrade(target.engine)
        with target.sessions() as session:
            create_user(session, "admin", "correct horse battery", ["admin"])
        with pytest.raises(restore.RestoreRefused, match="users \\(1\\)"):
            restore.restore(bag, target.engine, target.sessions, target.store, target.index, target.settings)
    finally:
        target.close()


def test_incremental_backup_links_known_originals_and_restores_alone(embedded_runtime: Runtime,
                                                                     tmp_path: Path) -> None:
    rt = embedded_runtime
    with rt.sessions() as session:
        create_user(session, "admin", "correct horse battery", ["admin"])
    add_stored_document(rt, b"%PDF-1.4 first", texts=["第一份 供电"], title="first")
    add_stored_document(rt, b"%PDF-1.4 second", texts=["第二份 合同"], title="second")
    full = tmp_path / "full"
    assert backup.write(rt.engine, rt.store, full, with_derived=True).originals_copied == 2
    add_stored_document(rt, b"%PDF-1.4 third", texts=["第三份 户号"], title="third")
    expected = rows_of(rt.engine), objects_of(rt)

    increment = tmp_path / "increment"
    report = backup.write(rt.engine, rt.store, increment, since=full, with_derived=True)

    assert (report.originals, report.originals_copied, report.originals_linked) == (3, 1, 2)
    for linked in (full / "data" / "originals").iterdir():
        assert os.path.samefile(linked, increment / "data" / "originals" / linked.name)
    assert f"Docsvc-Previous-Bag: {full.resolve()}" in (increment / "bag-info.txt").read_text(encoding="utf-8")
    # The increment is a whole bag: the previous one may go.
    for path in sorted(full.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    full.rmdir()
    target = build_runtime(settings_for(tmp_path / "target"))
    try:
        result = restore.restore(increment, target.engine, target.sessions, target.store, target.index,
                                 target.settings)
        assert result.ok and result.originals == 3
        rows = rows_of(target.engine)
        assert rows["documents"] == expected[0]["documents"] and rows["pages"] == expected[0]["pages"]
        assert objects_of(target) == expected[1]
    finally:
        target.close()


def test_backup_reads_one_snapshot_while_the_service_writes(embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    add_stored_document(rt, b"%PDF-1.4 one", texts=["一"], title="one")
    with backup.snapshot(rt.engine) as conn:
        add_stored_document(rt, b"%PDF-1.4 two", texts=["二"], title="two")   # committed by another connection
        assert conn.execute(select(Document.title)).scalars().all() == ["one"]
    with rt.sessions() as session:
        assert session.scalars(select(Document.title).order_by(Document.id)).all() == ["one", "two"]


def test_snapshot_on_postgresql_is_repeatable_read(pg_runtime: Runtime) -> None:
    rt = pg_runtime
    add_stored_document(rt, b"%PDF-1.4 one", texts=["一"], title="one")
    with backup.snapshot(rt.engine) as conn:
        add_stored_document(rt, b"%PDF-1.4 two", texts=["二"], title="two")
        assert conn.execute(select(Document.title)).scalars().all() == ["one"]


def test_an_increment_refuses_a_damaged_original_in_the_previous_bag(embedded_runtime: Runtime,
                                                                      tmp_path: Path) -> None:
    rt = embedded_runtime
    add_stored_document(rt, b"%PDF-1.4 first", texts=["一"], title="first")
    full = tmp_path / "full"
    backup.write(rt.engine, rt.store, full, with_derived=True)
    (damaged,) = (full / "data" / "originals").iterdir()
    damaged.write_bytes(b"%PDF-1.4 rotten")
    with pytest.raises(backup.BackupError, match=f"{damaged.name}.*不带 --since"):
        backup.write(rt.engine, rt.store, tmp_path / "increment", since=full, with_derived=True)


def test_every_kind_of_value_survives_json_lines() -> None:
    values = [(Column("t", DateTime(timezone=True)), datetime(2026, 12, 4, 17, 1, 2, 345678, tzinfo=timezone.utc)),
              (Column("n", DateTime()), datetime(2026, 12, 4, 17, 1, 2, 345678)),  # SQLite's naive UTC
              (Column("d", Date()), date(2019, 5, 1)), (Column("b", LargeBinary()), "原件".encode() + b"\x00\xff"),
              (Column("j", JSON()), {"户号": "3000000001", "pages": [1, 2]}), (Column("f", Float()), 0.1 + 0.2),
              (Column("x", Text()), "产权分界点\n"), (Column("k", Boolean()), True)]
    for column, value in values:
        kind = backup.column_kind(column)
        again = restore.decode_value(kind, json.loads(json.dumps(backup.encode_value(kind, value))))
        assert again == (as_utc(value) if isinstance(value, datetime) else value), column.name
