"""Hostile input (issue 13, point 6): a corpus the tests make — malformed and booby-trapped PDFs, a
PDF that expands to gigabytes, a 10,000-frame TIFF, 1-pixel and 60,000-pixel-wide images, polyglots,
names with paths, NULs, control characters and 300 characters, a 2 GB sparse file — each is read or
refused with a message for the archivist, the rest of its batch is read, and the service and its
workers stay up. Files are read in the decoder process under the job's memory and time limits
(docs/input-limits.md); the job-limit cases also run through a real RQ worker process."""
from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import select

from docsvc import create_app, db
from docsvc.config import Settings
from docsvc.models import Batch, BatchFile, Document, Page
from docsvc.pipeline.hotfolder import FAILED_DIR, HotFolder
from docsvc.runtime import Runtime, build_runtime, install
from tests import hostile_corpus as corpus
from tests.conftest import REDIS_URL, ROOT, Users, settings_for, wait_for_batch
from tests.processes import stop
from tests.samples import form_text
from tests.scans import text_pdf_bytes
from tests.test_bad_input import multipart

pytestmark = pytest.mark.integration   # the decoder process, an RQ worker, the docsvc command

MEMORY_MB = "512"
LIMIT_MB = 1024
# The endless drawing takes pdfium about 700 MB before it is stopped at the time limit.
WORKER_MEMORY_MB = "1024"
SPARSE_SIZE = 2 * 1024**3


@pytest.fixture
def embedded_settings(tmp_path: Path) -> Settings:
    """The embedded default, reading files through the decoder process under a 512 MB limit."""
    return settings_for(tmp_path / "var", DOCSVC_JOB_MEMORY_MB=MEMORY_MB, DOCSVC_JOB_TIMEOUT="120",
                        DOCSVC_OCR_ENGINE="tesseract",
                        DOCSVC_MAX_UPLOAD_MB=str(LIMIT_MB))


CJK = re.compile(r"[\u4e00-\u9fff]")


def assert_tells_the_archivist(chinese: str | None, english: str | None = None, *, names: list[str]) -> None:
    """What happened and what to do (请…), with the words that name it: in Chinese, and in English as a reader
    who asks for English sees the same message (None: written where no reader chooses, a file beside the
    refused one). A Chinese word must be in the Chinese, any other in the English when there is one."""
    assert chinese, "a refused file must carry a message"
    assert CJK.search(chinese) and "请" in chinese, chinese
    if english is not None:
        assert english[:1].isupper() and not CJK.search(english), english
    for name in names:
        assert name in (chinese if CJK.search(name) or english is None else english), (name, chinese, english)


def post(client: FlaskClient, token: str, files: list[tuple[bytes, bytes]]) -> dict:
    body, content_type = multipart(files)
    response = client.post("/api/v1/batches", data=body, content_type=content_type,
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.get_data(as_text=True)
    batch_id = response.get_json()["id"]
    return wait_for_batch(lambda: client.get(f"/api/v1/batches/{batch_id}",
                                             headers={"Authorization": f"Bearer {token}"}).get_json(), 180)


def in_english(client: FlaskClient, token: str, report: dict) -> dict[str, dict]:
    """The finished batch's files as a reader who asks for English sees them."""
    answer = client.get(f"/api/v1/batches/{report['id']}",
                        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"}).get_json()
    return {f["name"]: f for f in answer["files"]}


def why_failed(client: FlaskClient, token: str, file: dict, language: str = "zh") -> str:
    """A file refused whole says why on its row; a file whose page failed says it on the page."""
    if not file["document_ids"]:
        return file["error"]
    api = {"Authorization": f"Bearer {token}", "Accept-Language": language}
    pages = client.get(f"/api/v1/documents/{file['document_ids'][0]}", headers=api).get_json()["pages"]
    return next(p["error"] for p in pages if p["status"] == "failed")


def assert_says_why(client: FlaskClient, token: str, file: dict, english: dict, *, names: list[str]) -> None:
    """The failed `file` tells a Chinese and an English reader why (`english`: the same file read in English)."""
    assert_tells_the_archivist(why_failed(client, token, file), why_failed(client, token, english, "en"),
                               names=names)


def test_each_hostile_file_is_read_or_refused_alone_and_the_embedded_service_stays_up(
        client: FlaskClient, users: Users, embedded_runtime: Runtime, tmp_path: Path) -> None:
    token = users.token("scanner", "operator")
    long_name = ("客户档案扫描件" * 50)[:296] + ".pdf"
    read = {  # name as sent → (name as stored, what the batch page says besides "done")
        b"../../etc/passwd.pdf": ("passwd.pdf", None),
        "合同\x00副本.pdf".encode(): ("合同副本.pdf", None),
        "\x1b[31m红\x07字\t说明\u202efdp.exe.pdf".encode(): ("[31m红字说明fdp.exe.pdf", None),
        long_name.encode(): (long_name[:156] + ".pdf", None),
        b"broken-xref.pdf": ("broken-xref.pdf", None),
        b"cyclic-xref.pdf": ("cyclic-xref.pdf", None),
        b"self-extending-objstm.pdf": ("self-extending-objstm.pdf", None),
        b"script.pdf": ("script.pdf", "JavaScript"),
        b"attachment.pdf": ("attachment.pdf", "payload.exe"),
        b"pdf-then-zip.pdf": ("pdf-then-zip.pdf", None),
        b"jpeg-then-zip.jpg": ("jpeg-then-zip.jpg", None),
        b"one-pixel.png": ("one-pixel.png", None),
        b"cyclic-ifd.tif": ("cyclic-ifd.tif", None),
    }
    contents = {
        b"../../etc/passwd.pdf": text_pdf_bytes([form_text(71)], tmp_path),
        "合同\x00副本.pdf".encode(): text_pdf_bytes([form_text(72)], tmp_path),
        "\x1b[31m红\x07字\t说明\u202efdp.exe.pdf".encode(): text_pdf_bytes([form_text(73)], tmp_path),
        long_name.encode(): text_pdf_bytes([form_text(74)], tmp_path),
        b"broken-xref.pdf": corpus.broken_xref_pdf(tmp_path),
        b"cyclic-xref.pdf": corpus.cyclic_xref_pdf(tmp_path),
        b"self-extending-objstm.pdf": corpus.self_extending_object_stream_pdf(),
        b"script.pdf": corpus.javascript_pdf(tmp_path),
        b"attachment.pdf": corpus.embedded_file_pdf(tmp_path),
        b"pdf-then-zip.pdf": corpus.pdf_then_zip(tmp_path),
        b"jpeg-then-zip.jpg": corpus.jpeg_then_zip(),
        b"one-pixel.png": corpus.png(1, 1),
        b"cyclic-ifd.tif": corpus.cyclic_tiff(),
    }
    refused = {  # name → words the message must hold
        b"flate-bomb.pdf": (corpus.flate_bomb_pdf(), ["DOCSVC_JOB_MEMORY_MB", f"{MEMORY_MB} MB"]),
        b"million-pages.pdf": (corpus.huge_page_count_pdf(), ["页数过多", "too many pages"]),
        b"200-inch-page.pdf": (corpus.huge_mediabox_pdf(), ["尺寸过大", "72 dpi"]),
        b"cyclic-page-tree.pdf": (corpus.cyclic_page_tree_pdf(), ["损坏", "damaged"]),
        b"10000-frames.tif": (corpus.tiff_frames(10_000), ["10000 页", "too many pages"]),
        b"zip-then-pdf.pdf": (corpus.zip_then_pdf(tmp_path), ["ZIP", "PDF", "one record"]),
        b"wide-60000.png": (corpus.png(60_000, 20), ["形状异常", "60000×20", "odd shape"]),
    }
    files = list(contents.items()) + [(name, data) for name, (data, _) in refused.items()]

    report = post(client, token, files)

    outcome = {f["name"]: f for f in report["files"]}
    english = in_english(client, token, report)
    assert len(outcome) == len(files), sorted(outcome)
    for sent, (stored, warning) in read.items():
        got = outcome[stored]
        assert got["status"] == "done" and got["error"] is None, got
        if warning:
            assert warning in got["warning"] and "不会执行脚本" in got["warning"], got
            assert warning in english[stored]["warning"] and "never run" in english[stored]["warning"]
        else:
            assert got["warning"] is None, got
    for sent, (_, words) in refused.items():
        got = outcome[sent.decode()]
        assert got["status"] == "failed", got
        assert_says_why(client, token, got, english[sent.decode()], names=words)
    with embedded_runtime.sessions() as session:
        rows = session.scalars(select(BatchFile).where(BatchFile.batch_id == report["id"])).all()
        for row in rows:
            # stored as it came (the bombs too: the original is the record), and a bad file was not retried
            assert row.original_key and embedded_runtime.store.exists(row.original_key), row.filename
            assert row.attempts == 1, (row.filename, row.attempts)
            assert not set("/\\\x00\x1b\x07\t\u202e") & set(row.filename), repr(row.filename)
        assert session.scalars(select(Page.attempts).join(Document, Page.document_id == Document.id)
                               .join(BatchFile, Document.batch_file_id == BatchFile.id)
                               .where(BatchFile.batch_id == report["id"], Page.status == "failed")).all() == [1, 1, 1]
    # The limits were the decoder's: the web server process itself runs without one.
    assert resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY

    later = post(client, token, [(b"later.pdf", text_pdf_bytes([form_text(79)], tmp_path))])
    assert later["status"] == "done"


def test_a_two_gigabyte_upload_is_refused_from_its_length_without_being_read(
        client: FlaskClient, users: Users, tmp_path: Path) -> None:
    sparse = tmp_path / "disk-image.pdf"
    subprocess.run(["truncate", "-s", str(SPARSE_SIZE), str(sparse)], check=True)
    token = users.token("scanner", "operator")
    with sparse.open("rb") as body:
        response = client.post("/api/v1/batches", input_stream=body, content_length=SPARSE_SIZE + 200,
                               content_type="multipart/form-data; boundary=x",
                               headers={"Authorization": f"Bearer {token}"})
        assert body.tell() == 0  # refused from the Content-Length: not a byte read
    assert response.status_code == 413
    with sparse.open("rb") as body:  # the same request from a reader of English
        english = client.post("/api/v1/batches", input_stream=body, content_length=SPARSE_SIZE + 200,
                              content_type="multipart/form-data; boundary=x",
                              headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})
    assert english.status_code == 413
    assert_tells_the_archivist(response.get_json()["error"], english.get_json()["error"],
                               names=["过大", f"{LIMIT_MB} MB", "DOCSVC_MAX_UPLOAD_MB", "too large"])


def test_the_hot_folder_refuses_a_two_gigabyte_file_from_its_size_and_takes_the_rest(
        embedded_runtime: Runtime, tmp_path: Path) -> None:
    folder = tmp_path / "hot"
    folder.mkdir()
    subprocess.run(["truncate", "-s", str(SPARSE_SIZE), str(folder / "huge.pdf")], check=True)
    (folder / "scan.pdf").write_bytes(text_pdf_bytes([form_text(81)], tmp_path))
    hot = HotFolder(folder, stable_polls=1, max_upload_mb=LIMIT_MB)

    with embedded_runtime.sessions() as session:
        ingested = hot.poll(session, embedded_runtime.store, embedded_runtime.jobs)
        names = session.scalars(select(BatchFile.filename)).all()

    assert [p.name for p in ingested] == ["scan.pdf"] and names == ["scan.pdf"]
    assert (folder / FAILED_DIR / "huge.pdf").exists()
    assert_tells_the_archivist((folder / FAILED_DIR / "huge.pdf.error.txt").read_text(encoding="utf-8"),
                               names=["huge.pdf", f"{LIMIT_MB} MB", "DOCSVC_MAX_UPLOAD_MB"])
    # nothing of it reached the store: one original, the scan's
    assert len(list(embedded_runtime.store.list("originals/"))) == 1


def test_docsvc_import_refuses_a_two_gigabyte_file_and_imports_the_rest_with_their_gbk_names(
        embedded_runtime: Runtime, tmp_path: Path) -> None:
    share = tmp_path / "share"
    share.mkdir()
    subprocess.run(["truncate", "-s", str(SPARSE_SIZE), str(share / "huge.pdf")], check=True)
    gbk_name = Path(os.fsdecode(bytes(share) + b"/" + "电费结算单.pdf".encode("gbk")))
    gbk_name.write_bytes(text_pdf_bytes([form_text(82)], tmp_path))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DOCSVC_DATA_DIR": str(embedded_runtime.settings.data_dir),
           "DOCSVC_SECRET_KEY": "test-secret", "DOCSVC_MAX_UPLOAD_MB": str(LIMIT_MB), "DOCSVC_JOB_MEMORY_MB": MEMORY_MB}

    done = subprocess.run([sys.executable, "-m", "docsvc.cli", "import", "--no-wait", str(share)], env=env,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "huge.pdf" in done.stderr and "DOCSVC_MAX_UPLOAD_MB" in done.stderr and "过大" in done.stderr
    with embedded_runtime.sessions() as session:
        [batch] = session.scalars(select(Batch)).all()
        assert [f.filename for f in batch.files] == ["电费结算单.pdf"]


# ------------------------------------------------------------------------------- through an RQ worker

@pytest.fixture
def rq_stack(tmp_path: Path) -> Iterator[tuple[Runtime, subprocess.Popen]]:  # type: ignore[type-arg]
    """This process answers HTTP; a `docsvc worker ingest ocr` process does the jobs, with a 1 GB memory
    limit and a 10 s time limit, on Redis (the test's own database number), SQLite and a local folder."""
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {"DOCSVC_DATA_DIR": str(tmp_path / "var"), "DOCSVC_REDIS_URL": REDIS_URL, "DOCSVC_SECRET_KEY": "test",
           "DOCSVC_OCR_ENGINE": "tesseract", "DOCSVC_JOB_MEMORY_MB": WORKER_MEMORY_MB, "DOCSVC_JOB_TIMEOUT": "10"}
    rt = build_runtime(Settings.from_env(env))
    db.upgrade(rt.engine)
    install(rt)
    worker = subprocess.Popen([sys.executable, "-m", "docsvc.cli", "worker", "ingest", "ocr"],
                              env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    yield rt, worker
    stop(worker, timeout_s=20)
    rt.close()
    redis.Redis.from_url(REDIS_URL).flushdb()


def test_an_rq_worker_stops_a_bomb_at_the_memory_limit_and_a_slow_drawing_at_the_time_limit_and_keeps_working(
        rq_stack: tuple[Runtime, subprocess.Popen], tmp_path: Path) -> None:  # type: ignore[type-arg]
    rt, worker = rq_stack
    client = create_app(runtime=rt).test_client()
    token = Users(rt).token("scanner", "operator")

    report = post(client, token, [
        (b"flate-bomb.pdf", corpus.flate_bomb_pdf()),
        (b"endless-drawing.pdf", corpus.endless_drawing_pdf(10)),
        (b"bill.pdf", text_pdf_bytes([form_text(91)], tmp_path)),
    ])

    outcome = {f["name"]: f for f in report["files"]}
    english = in_english(client, token, report)
    assert outcome["bill.pdf"]["status"] == "done", outcome
    assert outcome["flate-bomb.pdf"]["status"] == "failed", outcome
    assert_says_why(client, token, outcome["flate-bomb.pdf"], english["flate-bomb.pdf"],
                    names=["DOCSVC_JOB_MEMORY_MB", "1024 MB"])
    assert outcome["endless-drawing.pdf"]["status"] == "failed", outcome
    assert_says_why(client, token, outcome["endless-drawing.pdf"], english["endless-drawing.pdf"],
                    names=["时间上限", "DOCSVC_JOB_TIMEOUT"])
    assert worker.poll() is None, "the worker process must survive both"

    later = post(client, token, [(b"next.pdf", text_pdf_bytes([form_text(92)], tmp_path))])
    assert later["status"] == "done"
    assert worker.poll() is None
    with rt.sessions() as session:
        failed = session.scalars(select(Page).where(Page.status == "failed")).all()
        assert sorted(p.document.title for p in failed) == ["endless-drawing.pdf", "flate-bomb.pdf"]
        assert [p.attempts for p in failed] == [1, 1]  # a page over a limit is not retried


def test_the_upload_page_knows_the_limit_so_the_browser_can_refuse_before_sending(
        client: FlaskClient, users: Users) -> None:
    """`docsvc serve` (waitress) refuses a request above the limit before docsvc sees it; the page says why."""
    from tests.conftest import AuthActions

    AuthActions(client, users).login("scanner", "operator")
    html = client.get("/upload").get_data(as_text=True)
    assert f'data-max-bytes="{LIMIT_MB * 2**20}"' in html
    assert f"超过单次上传上限 {LIMIT_MB} MB" in html and "DOCSVC_MAX_UPLOAD_MB" in html and "{size} MB" in html
