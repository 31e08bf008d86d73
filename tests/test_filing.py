"""Filing: cover-sheet stacks split and file themselves, 档号 are unique and never change silently."""
from __future__ import annotations

import io
import json
import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from docsvc import db as dbmod
from docsvc.config import FilingSettings
from docsvc.db import make_engine, make_sessionmaker
from docsvc.models import AuditEvent, BatchFile, Document, DocumentType, Page
from docsvc.files import filing
from docsvc.files.customers import AccountRule, create_customer
from docsvc.i18n import shown, using
from docsvc.pipeline.intake import Upload, receive
from docsvc.pipeline.jobstate import job_limits
from docsvc.pipeline.splitting import split_file
from tests import filing_stack
from tests.factories import add_document

RULE = AccountRule(r"^\d{10}$")


def _customers(session) -> None:  # type: ignore[no-untyped-def]
    create_customer(session, None, RULE, "3000000001", {"name": "宏达机械制造有限公司", "location": "3号库 A-12"})
    create_customer(session, None, RULE, "3000000002", {"name": "绿源食品加工厂"})


def _split(rt, data: bytes, separators=("cover",)) -> BatchFile:  # type: ignore[no-untyped-def]
    with rt.sessions() as s:
        batch = receive(s, rt.store, rt.jobs, [Upload("stack.tif", io.BytesIO(data))], source="web")
        bf_id = batch.files[0].id
    with rt.sessions() as s:
        split_file(s, rt.store, rt.jobs, bf_id, FilingSettings(separators=separators), job_limits(rt.settings))
    with rt.sessions() as s:
        return s.get(BatchFile, bf_id)


def test_a_stack_with_cover_sheets_splits_files_and_drops_the_covers(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        _customers(s)
    bf = _split(embedded_runtime, filing_stack.tiff(filing_stack.stack()))
    assert bf.status == "done"
    with embedded_runtime.sessions() as s:
        docs = s.scalars(select(Document).where(Document.batch_file_id == bf.id).order_by(Document.id)).all()
        got = [(d.customer_account, d.doc_type, [p.source_index for p in d.pages], d.filed_at is not None)
               for d in docs]
        assert got == [
            (None, None, [0], False),                      # pages before the first cover: inbox
            ("3000000001", "HT", [2, 3], True),
            ("3000000002", "SQ", [5], True),               # its cover was scanned upside down
            (None, None, [7, 8], False),                   # damaged cover: inbox with a note
            ("3999999999", "HT", [10], False),             # unknown customer: inbox with a note
            ("3000000001", "JC", [12], True),
        ]
        # The notes are kept untranslated and shown in the reader's language.
        assert "二维码无法识别" in shown(docs[3].inbox_note) and "3999999999 不在客户表中" in shown(docs[4].inbox_note)
        with using("en"):
            assert "could not be read" in shown(docs[3].inbox_note)
            assert "account 3999999999 is not in the customer list" in shown(docs[4].inbox_note)
        assert docs[1].location == "3号库 A-12" and docs[1].page_count == 2
        year = date.today().year
        assert docs[1].reference_code == f"J001-KH·{year}-Y-YX-0001"
        assert docs[5].reference_code == f"J001-KH·{year}-D10-YX-0001"
        record = json.loads(bf.separators)
        assert [sep["index"] for sep in record["separators"]] == [1, 4, 6, 9, 11]
        # Every page of the stack is either in a document or recorded as a separator, never both.
        pages = s.scalars(select(Page.source_index).join(Document).where(Document.batch_file_id == bf.id)).all()
        assert sorted(pages + [sep["index"] for sep in record["separators"]]) == list(range(13))


def test_patch_t_and_blank_separators_split_when_enabled(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    blank = Image.new("L", filing_stack.content(1).size, 255)
    sheets = [filing_stack.content(1), filing_stack.scanned(filing_stack.patch_t(), 3), filing_stack.content(2),
              filing_stack.content(3), blank, filing_stack.content(4)]
    bf = _split(embedded_runtime, filing_stack.tiff(sheets), separators=("patch_t", "blank"))
    with embedded_runtime.sessions() as s:
        docs = s.scalars(select(Document).where(Document.batch_file_id == bf.id).order_by(Document.id)).all()
        assert [[p.source_index for p in d.pages] for d in docs] == [[0], [2, 3], [5]]


def test_a_stack_without_separators_stays_one_document(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    bf = _split(embedded_runtime, filing_stack.tiff([filing_stack.content(1), filing_stack.content(2)]))
    assert bf.separators is None
    with embedded_runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Document).where(Document.batch_file_id == bf.id)) == 1


def _doc(session, n: int = 0, doc_date: date | None = None) -> Document:  # type: ignore[no-untyped-def]
    return add_document(session, sha256=f"{n:064d}", original_key=f"originals/{n}", title=f"d{n}", doc_date=doc_date)


def test_codes_count_per_year_and_class_and_follow_a_configured_pattern(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    settings = FilingSettings()
    with embedded_runtime.sessions() as s:
        _customers(s)
        from docsvc.files.customers import get_customer

        c = get_customer(s, "3000000001")
        ht, jc = s.get(DocumentType, "HT"), s.get(DocumentType, "JC")
        codes = [filing.file_document(s, None, _doc(s, i, date(2019, 5, 1)), c, t, settings).reference_code
                 for i, t in enumerate([ht, ht, jc])]
        codes.append(filing.file_document(s, None, _doc(s, 9, date(2020, 1, 2)), c, ht, settings).reference_code)
        s.commit()
        assert codes == ["J001-KH·2019-Y-YX-0001", "J001-KH·2019-Y-YX-0002", "J001-KH·2019-D10-YX-0001",
                         "J001-KH·2020-Y-YX-0001"]
        volume = FilingSettings(archive_code_pattern="{fonds}-{year}-{seq:05d}", fonds="0420")
        code = filing.file_document(s, None, _doc(s, 10, date(2019, 1, 1)), c, ht, volume).reference_code
        assert code == "0420-2019-00001"


def test_a_code_is_corrected_only_with_a_reason_and_the_change_is_audited(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        _customers(s)
        from docsvc.files.customers import get_customer

        c = get_customer(s, "3000000001")
        d = filing.file_document(s, None, _doc(s, 1, date(2019, 5, 1)), c, s.get(DocumentType, "HT"), FilingSettings())
        other = filing.file_document(s, None, _doc(s, 2, date(2019, 5, 1)), c, s.get(DocumentType, "HT"), FilingSettings())
        s.commit()
        with pytest.raises(filing.FilingError, match="原因"):
            filing.correct_code(s, None, d, "J001-KH·2019-Y-YX-0099", "  ", FilingSettings())
        with pytest.raises(filing.FilingError, match="已被文档"):
            filing.correct_code(s, None, d, other.reference_code, "录入错误", FilingSettings())
        s.rollback()
        filing.correct_code(s, None, d, "J001-KH·2019-Y-YX-0099", "纸质档案已按此号装订", FilingSettings())
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "document.reference_code.correct")).one()
        assert json.loads(event.detail) == {"new": "J001-KH·2019-Y-YX-0099", "old": "J001-KH·2019-Y-YX-0001",
                                            "reason": "纸质档案已按此号装订"}
        # Re-linking a filed document keeps its code.
        filing.file_document(s, None, d, get_customer(s, "3000000002"), s.get(DocumentType, "SQ"), FilingSettings())
        assert d.reference_code == "J001-KH·2019-Y-YX-0099"


def test_concurrent_filing_on_postgresql_gives_unique_consecutive_codes(pg_schema: str) -> None:
    engine = make_engine(pg_schema)
    dbmod.upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        _customers(s)
        ids = [_doc(s, i, date(2021, 3, 3)).id for i in range(24)]
        s.commit()
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(chunk: list[int]) -> None:
        try:
            barrier.wait()
            for doc_id in chunk:
                with sessions() as s:
                    from docsvc.files.customers import get_customer

                    filing.file_document(s, None, s.get(Document, doc_id), get_customer(s, "3000000001"),
                                         s.get(DocumentType, "HT"), FilingSettings())
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(ids[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with sessions() as s:
        codes = s.scalars(select(Document.reference_code).where(Document.id.in_(ids))).all()
    engine.dispose()
    assert sorted(codes) == [f"J001-KH·2021-Y-YX-{n:04d}" for n in range(1, 25)]
