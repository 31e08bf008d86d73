"""Execution erases every byte of a destroyed document — store, index, database, data directory —
and leaves the kept document of a shared stack whole."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pdfplumber
import pypdfium2 as pdfium
import pytest
from sqlalchemy import select

from docsvc.constants import ItemResult, ListState, RetentionStatus
from docsvc.governance import disposition
from docsvc.models import DestructionList, Document, Operation, Page
from docsvc.runtime import Runtime
from tests.conftest import ROOT
from tests.destruction_setup import people, shared_stack, supervised, due_document
from workers.jobs import execute_destruction

pytestmark = pytest.mark.integration   # executes erasure: register PDFs read tesseract's font, objects, index

# A phrase found only on the destroyed page; the kept pages have their own.
SECRET = "窃电嫌疑人张三丰住址梧桐路十七号"
KEPT = "计量装置更换记录保留"


def _pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    try:
        return "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def _grep(folder: Path, needle: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_destroying_a_document_leaves_no_byte_of_it_in_the_data_directory(
        embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    who = people(rt)
    doomed = due_document(rt, tmp_path, "inspection.pdf", [f"用电检查单\n{SECRET}"], title="用电检查单（张三丰）")
    data_dir = rt.settings.data_dir
    secret = SECRET.encode()
    # Before: the phrase is there (index segments, database), so the grep below can fail.
    assert _grep(rt.settings.index_dir, secret) and _grep(data_dir, secret)
    assert rt.index.search(SECRET[:6]).total_documents == 1
    with rt.sessions() as s:
        original = s.get(Document, doomed).original_key  # type: ignore[union-attr]
        page_ids = [p.id for p in s.get(Document, doomed).pages]  # type: ignore[union-attr]

    list_id = supervised(rt, who, [doomed])
    execute_destruction(list_id)

    assert _grep(data_dir, secret) == []
    assert rt.index.search(SECRET[:6]).total_documents == 0
    assert rt.index.pages_in_files(page_ids) == set()
    assert not rt.store.exists(original)
    assert [k for pid in page_ids for k in rt.store.list(f"pages/{pid}/")] == []
    with rt.sessions() as s:
        stub = s.get(Document, doomed)
        assert stub is not None
        assert (stub.title, stub.retention_status, stub.destruction_list_id) == (
            "已销毁 / destroyed", RetentionStatus.DESTROYED, list_id)
        assert stub.reference_code and stub.customer_account == "3000000001" and stub.page_count == 1
        assert stub.notes is None and stub.contract_no is None and stub.destroyed_at is not None
        assert s.scalars(select(Page).where(Page.id.in_(page_ids))).all() == []
        dlist = s.get(DestructionList, list_id)
        assert dlist.state == ListState.EXECUTED  # type: ignore[union-attr]
        item = dlist.items[0]  # type: ignore[union-attr]
        detail = json.loads(item.result_detail)
        assert item.result == ItemResult.DESTROYED and detail["verified"]["remaining"] == {}
        assert original in detail["removed"] and detail["verified"]["objects_checked"] >= 4


def test_a_kept_document_sharing_the_stack_keeps_its_pages_and_gets_its_own_original(
        embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    who = people(rt)
    doomed, kept = shared_stack(rt, tmp_path, [f"窃电处理记录\n{SECRET}", f"{KEPT}\n第一页", f"{KEPT}\n第二页"], at=2)
    with rt.sessions() as s:
        stack_key = s.get(Document, doomed).original_key  # type: ignore[union-attr]
        assert s.get(Document, kept).original_key == stack_key  # type: ignore[union-attr]
        kept_pages = [(p.id, p.image_key) for p in s.get(Document, kept).pages]  # type: ignore[union-attr]

    execute_destruction(supervised(rt, who, [doomed]))

    assert not rt.store.exists(stack_key)
    with rt.sessions() as s:
        document = s.get(Document, kept)
        assert document is not None and document.original_key != stack_key
        assert [p.source_index for p in document.pages] == [0, 1]
        own = rt.store.read_bytes(document.original_key)
        assert document.sha256 == document.original_key.rsplit("/", 1)[-1]
        assert [(p.id, p.image_key) for p in document.pages] == kept_pages
    text = _pdf_text(own)
    assert text.count(KEPT) == 2 and "窃电" not in text and SECRET not in text
    assert SECRET.encode() not in own
    for key in rt.store.list("originals/"):  # no stored original holds the destroyed page
        assert SECRET not in _pdf_text(rt.store.read_bytes(key))
    assert _grep(rt.settings.data_dir, SECRET.encode()) == []
    assert rt.index.search(KEPT).total_documents == 1  # the kept one is still found


# ---------------------------------------------------------------- crash and resume

CRASH = """
import os, sys
import workers
from docsvc import runtime
from docsvc.config import Settings
from docsvc.governance import disposition
from storage import local

workers.wire()
rt = runtime.build_runtime(Settings.from_env())
runtime.install(rt)
deletes = {"n": 0}
real_delete = local.LocalStore.delete

def dying_delete(self, key):
    # the worker is killed between two deletions, as a power cut would
    deletes["n"] += 1
    if deletes["n"] > int(os.environ["DIE_AFTER_DELETES"]):
        os._exit(9)
    return real_delete(self, key)

local.LocalStore.delete = dying_delete
with rt.sessions() as session:  # the job body, one item per batch: the second is not begun yet
    disposition.execute(session, rt.store, rt.index, int(sys.argv[1]), fonds="J001", zone=rt.settings.timezone,
                    batch=1)
"""


def test_a_worker_killed_between_deletions_leaves_items_resumable_and_a_rerun_completes_them(
        embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    who = people(rt)
    first = due_document(rt, tmp_path, "a.pdf", [f"{SECRET}甲", "第二页 甲"])
    second = due_document(rt, tmp_path, "b.pdf", [f"{SECRET}乙"])
    list_id = supervised(rt, who, [first, second])
    env = {**os.environ, "DOCSVC_DATA_DIR": str(rt.settings.data_dir), "DOCSVC_SECRET_KEY": "test-secret",
           "DIE_AFTER_DELETES": "3", "PYTHONPATH": str(ROOT)}
    died = subprocess.run([sys.executable, "-c", CRASH, str(list_id)], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert died.returncode == 9, died.stderr
    with rt.sessions() as s:
        items = s.get(DestructionList, list_id).items  # type: ignore[union-attr]
        # Killed in the first item's object deletions: it is recorded as begun, the second untouched.
        assert [i.result for i in items] == [ItemResult.ERASING, None]
        assert s.get(DestructionList, list_id).state == ListState.EXECUTING  # type: ignore[union-attr]
        assert s.get(Document, second).destroyed_at is None  # type: ignore[union-attr]
    assert rt.index.search(f"{SECRET}乙").total_documents == 1

    execute_destruction(list_id)  # the retry (RQ's, or the records manager's "execute" again)

    with rt.sessions() as s:
        dlist = s.get(DestructionList, list_id)
        assert dlist.state == ListState.EXECUTED  # type: ignore[union-attr]
        assert [i.result for i in dlist.items] == [ItemResult.DESTROYED] * 2  # type: ignore[union-attr]
        assert all(s.get(Document, d).retention_status == RetentionStatus.DESTROYED for d in (first, second))  # type: ignore[union-attr]
    assert _grep(rt.settings.data_dir, SECRET.encode()) == []
    execute_destruction(list_id)  # once more: nothing left to do, nothing changes


def test_the_register_pdf_reads_in_chinese_and_the_csv_neutralises_formulas(
        embedded_runtime: Runtime, tmp_path: Path) -> None:
    from docsvc.governance import register

    rt = embedded_runtime
    who = people(rt)
    doomed = due_document(rt, tmp_path, "c.pdf", ["检查单 丙"], title="=HYPERLINK(\"http://x\")")
    extended = due_document(rt, tmp_path, "d.pdf", ["检查单 丁"], title="用电检查单 丁")
    from datetime import date
    list_id = supervised(rt, who, [doomed, extended], [
        disposition.DecisionInput(doomed, "destroy"),
        disposition.DecisionInput(extended, "extend", date(2031, 1, 1), "涉及未结清电费")])
    execute_destruction(list_id)
    with rt.sessions() as s:
        dlist = s.get(DestructionList, list_id)
        pdf = register.read(rt.store, dlist, "pdf")  # type: ignore[arg-type]
        table = register.read(rt.store, dlist, "csv").decode("utf-8-sig")  # type: ignore[arg-type]
        code = s.get(Document, doomed).reference_code  # type: ignore[union-attr]
        assert s.get(Document, extended).extended_until == date(2031, 1, 1)  # type: ignore[union-attr]
        assert s.get(Document, extended).destroyed_at is None  # type: ignore[union-attr]
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        text = "".join((p.extract_text() or "") for p in doc.pages).replace(" ", "").replace("\n", "")
    for expected in ("档案销毁清册", "全宗号", "J001", "编制人", "rm", "审批人", "leader", "监销人", "sup1", "sup2",
                     "序号", "档号", "应保管期限", "已保管期限", code, "10年", "延期至2031-01-01", "涉及未结清电费", "已销毁"):
        assert expected.replace(" ", "") in text, expected
    assert "'=HYPERLINK" in table and "\n=HYPERLINK" not in table and ",=HYPERLINK" not in table
    assert "延期至 2031-01-01：涉及未结清电费" in table
    with rt.sessions() as s:
        dlist = s.get(DestructionList, list_id)
        rt.store.put_bytes(dlist.register_csv_key, b"tampered")  # type: ignore[union-attr, arg-type]
        with pytest.raises(register.RegisterAltered):
            register.read(rt.store, dlist, "csv")  # type: ignore[arg-type]


def test_frames_cut_from_a_g4_tiff_stack_are_pixel_identical_and_stay_g4() -> None:
    from PIL import Image, ImageChops

    from docsvc.governance.erasure import cut_original
    from tests.scans import tiff_bytes

    stack = tiff_bytes([1, 2, 3])
    cut = cut_original(stack, "image/tiff", [0, 2])
    with Image.open(io.BytesIO(stack)) as whole, Image.open(io.BytesIO(cut.data)) as own:
        assert own.n_frames == 2 and own.info["compression"] == "group4"
        for mine, theirs in ((0, 0), (1, 2)):
            whole.seek(theirs)
            own.seek(mine)
            assert ImageChops.difference(own.convert("L"), whole.convert("L")).getbbox() is None
        whole.seek(1)
        own.seek(1)
        assert ImageChops.difference(own.convert("L"), whole.convert("L")).getbbox() is not None


def test_a_page_cut_from_a_pdf_whose_pages_share_one_resource_dictionary_takes_only_its_own_picture() -> None:
    """Scanner PDFs often give every page one shared resource dictionary naming all the pictures:
    a copied page must not carry the destroyed pages' pictures along."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    from docsvc.governance.erasure import cut_original
    from tests.scans import image_pdf_bytes

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(image_pdf_bytes([1, 2]))))
    pictures = [page["/Resources"]["/XObject"].raw_get("/image") for page in writer.pages]
    shared = writer._add_object(DictionaryObject({NameObject("/XObject"): DictionaryObject(
        {NameObject("/ImA"): pictures[0], NameObject("/ImB"): pictures[1]})}))
    for page, name in zip(writer.pages, (b"/ImA", b"/ImB")):
        contents = DecodedStreamObject()
        contents.set_data(page.get_contents().get_data().replace(b"/image", name))
        page[NameObject("/Contents")] = writer._add_object(contents)
        page[NameObject("/Resources")] = shared
    stack = io.BytesIO()
    writer.write(stack)
    destroyed_picture = pictures[1].get_object()._data
    assert destroyed_picture in stack.getvalue()

    kept = cut_original(stack.getvalue(), "application/pdf", [0]).data

    assert destroyed_picture not in kept
    page = PdfReader(io.BytesIO(kept)).pages[0]
    assert list(page["/Resources"]["/XObject"]) == ["/ImA"] and len(page.images) == 1


STOP_AFTER_FIRST_ITEM = CRASH.replace("local.LocalStore.delete = dying_delete", """
real_erase = disposition._erase
erased = {"n": 0}

def dying_erase(*args, **kwargs):
    # killed as the second item's erasure starts: the first is through, the list not yet verified
    erased["n"] += 1
    if erased["n"] > 1:
        os._exit(9)
    return real_erase(*args, **kwargs)

disposition._erase = dying_erase""")


def test_execution_progress_moves_item_by_item_and_is_read_back_after_a_reload(
        embedded_runtime: Runtime, tmp_path: Path) -> None:
    """The bar counts an item once its erasure has run, not only when the whole list is verified at the
    end; the count is read from the items, so a reload (or another browser) shows the same."""
    rt = embedded_runtime
    who = people(rt)
    first = due_document(rt, tmp_path, "a.pdf", [f"{SECRET}甲"])
    second = due_document(rt, tmp_path, "b.pdf", [f"{SECRET}乙"])
    list_id = supervised(rt, who, [first, second])
    env = {**os.environ, "DOCSVC_DATA_DIR": str(rt.settings.data_dir), "DOCSVC_SECRET_KEY": "test-secret",
           "DIE_AFTER_DELETES": "1000", "PYTHONPATH": str(ROOT)}
    died = subprocess.run([sys.executable, "-c", STOP_AFTER_FIRST_ITEM, str(list_id)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert died.returncode == 9, died.stderr
    with rt.sessions() as s:
        dlist = s.get(DestructionList, list_id)
        assert dlist.state == ListState.EXECUTING  # type: ignore[union-attr]
        assert disposition.list_json(dlist)["progress"] == {  # type: ignore[arg-type]
            "total": 2, "done": 1, "destroyed": 0, "held": 0, "failed": 0}


def test_executing_a_list_removes_exported_copies_of_pages_and_keeps_other_files(
        embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    who = people(rt)
    doomed = due_document(rt, tmp_path, "a.pdf", [f"{SECRET}甲"])
    list_id = supervised(rt, who, [doomed])
    files = {"file_pdf": "operations/1/file.pdf", "four_properties": "operations/2/report.pdf"}
    with rt.sessions() as s:
        for kind, key in files.items():
            rt.store.put_bytes(key, f"{SECRET} exported".encode())
            s.add(Operation(kind=kind, status="done", result_key=key, result_name=key.rsplit("/", 1)[-1]))
        s.commit()

    execute_destruction(list_id)

    assert not rt.store.exists(files["file_pdf"]) and rt.store.exists(files["four_properties"])
    with rt.sessions() as s:
        kept = {o.kind: o.result_key for o in s.scalars(select(Operation))}
    assert kept == {"file_pdf": None, "four_properties": files["four_properties"]}
