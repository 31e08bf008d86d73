"""Readers and re-reading: every page records who read it; `docsvc reread` reads pages again with today's
reader (a new layout from the stored words, otherwise OCR), keeps the old text until the new one is
stored, and re-indexes. Pages are read through the real pipeline (upload, split, page job, index job)."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from docsvc.constants import IndexState, JobState, TextSource, page_words_key
from docsvc.models import AuditEvent, Document, Page
from docsvc.ocr.layout import LAYOUT_VERSION
from docsvc.pipeline.indexing import index_pending
from docsvc.pipeline.recognition import process_page
from docsvc.pipeline.reread import Selection, Way, count, older_than, readers_summary, reread, reread_page
from docsvc.runtime import Runtime
from tests.conftest import AuthActions, docsvc_cli, settings_for
from tests.destruction_setup import ingest, text_pdf
from tests.factories import add_document
from tests.samples import render_page
from storage import LocalStore
from workers.queues import InProcessJobQueue

# every page here goes through the real OCR engine (or a CLI process)
pytestmark = pytest.mark.integration

PAGE_TEXT = "供用电合同\n本合同产权分界点位于开关站出线侧\n户号：3000000001"
STALE = "旧版识别的文字"


def scan_jpeg() -> bytes:
    buf = io.BytesIO()
    render_page(PAGE_TEXT, size="A5", variant="clean", skew=0).convert("RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


def squash(text: str | None) -> str:
    return re.sub(r"\s+", "", text or "")


def only_page(rt: Runtime, document_id: int) -> Page:
    with rt.sessions() as session:
        page = session.scalars(select(Page).where(Page.document_id == document_id)).one()
        session.expunge(page)
        return page


def words_of(rt: Runtime, page_id: int) -> dict:
    return json.loads(rt.store.read_bytes(page_words_key(page_id)))


def as_read_by_an_older_reader(rt: Runtime, page_id: int, *, keep_pieces: bool = True) -> None:
    """What a page read before today's reader looks like: another text, an older (or no) reader recorded,
    and without pieces its words.json as the page job wrote it before pieces were kept."""
    with rt.sessions() as session:
        page = session.get(Page, page_id)
        assert page is not None
        page.text, page.index_state = STALE, IndexState.PENDING
        page.reader, page.layout_version = (None, None) if not keep_pieces else ("rapidocr / layout 0", 0)
        session.commit()
        index_pending(session, rt.index)
    if not keep_pieces:
        old = words_of(rt, page_id)
        rt.store.put_bytes(page_words_key(page_id), json.dumps(
            {k: v for k, v in old.items() if k not in ("pieces", "read_by")}, ensure_ascii=False).encode())


def damage_original(rt: Runtime, page: Page) -> None:
    """The scan's original, replaced by junk in the object folder: the page cannot be OCR'd again."""
    with rt.sessions() as session:
        document = session.get(Document, page.document_id)
        assert document is not None
        assert isinstance(rt.store, LocalStore)
        path = rt.store.root / "objects" / document.original_key
    path.chmod(0o644)  # originals are read-only on disk
    path.write_bytes(b"\xff\xd8 not a JPEG any more")


def found(rt: Runtime, query: str) -> set[int]:
    results = rt.index.search(query, mask_sensitive=False)
    return {hit.page_id for d in results.documents for hit in d.pages}


def test_an_ocr_page_records_its_reader_and_keeps_the_engine_pieces(
        embedded_runtime: Runtime, client: FlaskClient, auth: AuthActions) -> None:
    rt = embedded_runtime
    page = only_page(rt, ingest(rt, "contract.jpg", scan_jpeg()))

    assert page.source == TextSource.OCR and "产权分界点" in squash(page.text)
    assert page.layout_version == LAYOUT_VERSION
    assert page.reader is not None and page.reader.startswith("rapidocr_onnxruntime 1.4.4 PP-OCRv4 det1280 / ")
    assert "ch_PP-OCRv4_det_infer" in page.reader and "ch_PP-OCRv4_rec_infer" in page.reader
    assert page.reader.endswith(f" / layout {LAYOUT_VERSION}")
    stored = words_of(rt, page.id)
    assert stored["read_by"]["engine_version"] == "rapidocr_onnxruntime 1.4.4 PP-OCRv4 det1280"
    assert "".join(t for piece in stored["pieces"] for t, _, _ in piece) == "".join(w["text"] for w in stored["words"])
    auth.login("boss", "admin")
    shown = client.get(f"/pages/{page.id}/words").get_json()  # what the viewer gets: the words, not the pieces
    assert shown["words"] == stored["words"] and "pieces" not in shown and "read_by" not in shown


def test_a_text_layer_page_records_its_reader_and_is_never_older(embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    page = only_page(rt, ingest(rt, "contract.pdf", text_pdf(tmp_path, ["供用电合同 产权分界点位于开关站出线侧 GD-2019-004512"])))

    assert page.source == TextSource.TEXT_LAYER
    assert page.reader is not None and page.reader.startswith("pdf-text pypdfium2 ")
    assert page.layout_version is None
    with rt.sessions() as session:
        assert count(session, Selection(before=LAYOUT_VERSION)) == 0
        assert count(session, Selection(before=LAYOUT_VERSION + 1)) == 0  # its text was never laid out by OCR layout


def test_a_tesseract_page_records_its_reader(embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    document_id = ingest(rt, "contract.jpg", scan_jpeg())
    page = only_page(rt, document_id)
    with rt.sessions() as session:
        session.get(Page, page.id).status = JobState.QUEUED  # type: ignore[union-attr]
        session.commit()
    tesseract = settings_for(rt.settings.data_dir, DOCSVC_OCR_ENGINE="tesseract")
    with rt.sessions() as session:
        process_page(session, tesseract, rt.store, InProcessJobQueue(1), page.id)

    page = only_page(rt, document_id)
    assert page.engine == "tesseract" and page.layout_version == LAYOUT_VERSION
    assert page.reader is not None and re.fullmatch(
        rf"tesseract 5\S* chi_sim\+eng / tessdata chi_sim\+eng / layout {LAYOUT_VERSION}", page.reader), page.reader
    assert words_of(rt, page.id)["pieces"]


def test_reread_lays_out_again_from_the_stored_words_without_ocr(embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    document_id = ingest(rt, "contract.jpg", scan_jpeg())
    read = only_page(rt, document_id)
    before = words_of(rt, read.id)
    as_read_by_an_older_reader(rt, read.id)
    assert found(rt, STALE) == {read.id}
    # No OCR can happen now: the page's original is junk. The re-read must come from the stored words.
    damage_original(rt, read)

    report = reread(rt.sessions, rt.settings, rt.store, Selection(before=LAYOUT_VERSION))

    assert report.failed == [] and dict(report.ways) == {Way.LAYOUT: 1}
    page = only_page(rt, document_id)
    assert page.text == read.text and page.reader == read.reader and page.layout_version == LAYOUT_VERSION
    assert page.index_state == IndexState.PENDING and page.image_key == read.image_key
    after = words_of(rt, read.id)
    assert after["words"] == before["words"] and after["pieces"] == before["pieces"]
    with rt.sessions() as session:
        index_pending(session, rt.index)
    assert found(rt, "产权分界点") == {read.id} and found(rt, STALE) == set()
    with rt.sessions() as session:  # nothing older is left
        assert count(session, Selection(before=LAYOUT_VERSION)) == 0
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "pages.reread")).one()
    detail = json.loads(event.detail or "{}")
    assert detail["ways"] == {"layout": 1} and detail["selection"] == {"before": LAYOUT_VERSION}
    assert detail["readers"] == {f"rapidocr / layout 0 → {read.reader}": 1}


def test_reread_reads_the_page_again_when_its_words_were_stored_without_pieces(embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    document_id = ingest(rt, "contract.jpg", scan_jpeg())
    read = only_page(rt, document_id)
    as_read_by_an_older_reader(rt, read.id, keep_pieces=False)
    with rt.sessions() as session:
        assert count(session, Selection(before=1)) == 1  # no reader recorded: older whatever the version

    report = reread(rt.sessions, rt.settings, rt.store, Selection(document_id=document_id))

    assert report.failed == [] and dict(report.ways) == {Way.OCR: 1}
    page = only_page(rt, document_id)
    assert "产权分界点" in squash(page.text) and page.reader == read.reader
    assert words_of(rt, page.id)["pieces"]
    with rt.sessions() as session:
        index_pending(session, rt.index)
    assert found(rt, "产权分界点") == {read.id} and found(rt, STALE) == set()


@pytest.mark.parametrize("keep_pieces", [False, True], ids=["no pieces", "OCR asked for"])
def test_a_page_that_cannot_be_read_again_keeps_its_old_text(embedded_runtime: Runtime, keep_pieces: bool) -> None:
    rt = embedded_runtime
    document_id = ingest(rt, "contract.jpg", scan_jpeg())
    read = only_page(rt, document_id)
    as_read_by_an_older_reader(rt, read.id, keep_pieces=keep_pieces)
    words_before = words_of(rt, read.id)
    damage_original(rt, read)

    report = reread(rt.sessions, rt.settings, rt.store, Selection(document_id=document_id), ocr=True)

    assert report.done == 0 and [page_id for page_id, _ in report.failed] == [read.id]
    assert "原有文字保持不变" in report.failed[0][1] and "keeps its text" not in report.failed[0][1]
    page = only_page(rt, document_id)
    assert page.text == STALE and page.index_state == IndexState.DONE and page.status == JobState.DONE
    assert words_of(rt, read.id) == words_before
    assert found(rt, STALE) == {read.id}
    with rt.sessions() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "pages.reread")).one()
    assert json.loads(event.detail or "{}")["failed"] == 1


def pieces_page(session, *, key: str, account: str | None, layout_version: int | None,  # type: ignore[no-untyped-def]
                reader: str | None = "rapidocr / layout 0", text: str = STALE) -> tuple[int, int]:
    """A read page whose words.json (put by the caller) holds engine pieces: re-read by layout alone."""
    document = add_document(session, key=key, texts=[text], customer_account=account)
    page = document.pages[0]
    page.source, page.reader, page.layout_version = TextSource.OCR, reader, layout_version
    page.words_key = page_words_key(page.id)
    session.commit()
    return document.id, page.id


def put_pieces(rt: Runtime, page_id: int, chars: str = "张建国") -> None:
    pieces = [[[c, [100 + 40 * i, 100, 140 + 40 * i, 140], 0.99] for i, c in enumerate(chars)]]
    rt.store.put_bytes(page_words_key(page_id), json.dumps(
        {"width": 1000, "height": 1000, "source": "ocr", "words": [],
         "read_by": {"engine_version": "rapidocr_onnxruntime 1.4.4", "models": "m"}, "pieces": pieces},
        ensure_ascii=False).encode())


def test_selection_flags_combine(pg_runtime: Runtime) -> None:
    rt = pg_runtime
    with rt.sessions() as session:
        old_a = pieces_page(session, key="a", account="3000000001", layout_version=0)
        unknown_a = pieces_page(session, key="b", account="3000000001", layout_version=None, reader=None)
        current_a = pieces_page(session, key="c", account="3000000001", layout_version=LAYOUT_VERSION,
                                reader=f"x / layout {LAYOUT_VERSION}")
        old_b = pieces_page(session, key="d", account="3000000002", layout_version=0)
        text_layer = add_document(session, key="e", texts=["文字层"], customer_account="3000000001").pages[0]
        text_layer.source, text_layer.reader = TextSource.TEXT_LAYER, "pdf-text pypdfium2 4"
        session.commit()

        def selected(selection: Selection) -> set[int]:
            return set(session.scalars(selection.query()))

        assert selected(Selection(before=LAYOUT_VERSION)) == {old_a[1], unknown_a[1], old_b[1]}
        assert selected(Selection(customer_account="3000000001")) == {old_a[1], unknown_a[1], current_a[1],
                                                                       text_layer.id}
        assert selected(Selection(before=LAYOUT_VERSION, customer_account="3000000001")) == {old_a[1], unknown_a[1]}
        assert selected(Selection(before=LAYOUT_VERSION, document_id=old_b[0])) == {old_b[1]}
        assert selected(Selection(before=LAYOUT_VERSION, document_id=old_b[0], customer_account="3000000001")) == set()
        assert set(session.scalars(select(Page.id).where(older_than(LAYOUT_VERSION)))) == {
            old_a[1], unknown_a[1], old_b[1]}
        summary = readers_summary(session)  # the dashboard's grouped count, on PostgreSQL
        assert summary.older_pages == 3 and summary.command == f"docsvc reread --before {LAYOUT_VERSION}"
        assert {(r.reader, r.pages, r.older) for r in summary.readers} == {
            ("rapidocr / layout 0", 2, True), (None, 1, True), (f"x / layout {LAYOUT_VERSION}", 1, False),
            ("pdf-text pypdfium2 4", 1, False)}

    put_pieces(rt, old_a[1])
    with rt.sessions() as session:  # the row lock and the swap on PostgreSQL
        assert reread_page(session, rt.settings, rt.store, old_a[1]) == (
            Way.LAYOUT, f"rapidocr / layout 0 → rapidocr_onnxruntime 1.4.4 / m / layout {LAYOUT_VERSION}")
        page = session.get(Page, old_a[1])
        assert page is not None and page.text == "张建国" and page.layout_version == LAYOUT_VERSION


def test_the_reread_command_takes_only_the_selected_pages_and_indexes_them(embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    with rt.sessions() as session:
        _, chosen = pieces_page(session, key="a", account="3000000001", layout_version=0)
        _, other_customer = pieces_page(session, key="b", account="3000000002", layout_version=0)
        _, current = pieces_page(session, key="c", account="3000000001", layout_version=LAYOUT_VERSION,
                                 reader=f"x / layout {LAYOUT_VERSION}")
    for page_id in (chosen, other_customer, current):
        put_pieces(rt, page_id)
    env = {"DOCSVC_DATA_DIR": str(rt.settings.data_dir), "DOCSVC_SECRET_KEY": "test-secret",
           "DOCSVC_OCR_ENGINE": "rapidocr"}

    result = docsvc_cli("reread", "--before", str(LAYOUT_VERSION), "--customer", "3000000001", env=env)

    assert result.returncode == 0, result.stderr
    assert "仅重排版 1" in result.stdout and "OCR 0" in result.stdout and "失败 0" in result.stdout
    assert "重新识别" in result.stderr  # the progress bar
    with rt.sessions() as session:
        pages = {p.id: p for p in session.scalars(select(Page))}
        assert pages[chosen].text == "张建国" and pages[chosen].index_state == IndexState.DONE
        assert pages[other_customer].text == STALE and pages[current].text == STALE
    assert found(rt, "张建国") == {chosen}
    nothing = docsvc_cli("reread", "--before", str(LAYOUT_VERSION), "--customer", "3000000001", env=env)
    assert nothing.returncode == 0 and "没有符合条件的页" in nothing.stdout


def test_the_integrity_page_says_how_many_pages_an_older_reader_produced(
        embedded_runtime: Runtime, client: FlaskClient, auth: AuthActions) -> None:
    today = f"rapidocr_onnxruntime 1.4.4 / m / layout {LAYOUT_VERSION}"
    with embedded_runtime.sessions() as session:
        for key, reader, version in (("a", None, None), ("b", None, None), ("c", "rapidocr / layout 0", 0),
                                     ("d", today, LAYOUT_VERSION)):
            pieces_page(session, key=key, account=None, layout_version=version, reader=reader)
    auth.login("boss", "admin")

    html = client.get("/admin/integrity").get_data(as_text=True)

    older = re.search(r'<p id="readers-older">(.*?)</p>', html, re.S)
    assert older and "<strong>3</strong>" in older.group(1)
    assert f"docsvc reread --before {LAYOUT_VERSION}" in older.group(1)
    rows = re.findall(r'<tr data-older="(yes|no)">\s*<td>(.*?)</td>\s*<td>(\d+)</td>', html, re.S)
    table = {(flag, re.sub(r"<.*?>", "", cell).strip(), int(n)) for flag, cell, n in rows}
    assert table == {("yes", "未记录（较早的识别程序）", 2),
                     ("yes", "rapidocr / layout 0", 1), ("no", today, 1)}


def test_an_interrupted_run_is_audited_with_what_it_did(embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    with rt.sessions() as session:
        first = pieces_page(session, key="a", account=None, layout_version=0)[1]
        second = pieces_page(session, key="b", account=None, layout_version=0)[1]
    for page_id in (first, second):
        put_pieces(rt, page_id)

    class Stop(Exception):
        pass

    def stop_after_one(report) -> None:  # type: ignore[no-untyped-def]
        raise Stop  # as Ctrl-C would, once the first page is done

    with pytest.raises(Stop):
        reread(rt.sessions, rt.settings, rt.store, Selection(before=LAYOUT_VERSION), progress=stop_after_one)

    with rt.sessions() as session:
        assert session.get(Page, first).text == "张建国" and session.get(Page, second).text == STALE  # type: ignore[union-attr]
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "pages.reread")).one()
    assert event.outcome == "interrupted" and json.loads(event.detail or "{}")["ways"] == {"layout": 1}
