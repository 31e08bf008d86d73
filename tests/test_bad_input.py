"""Bad input never takes the service down: each bad file fails alone with a message, its original kept."""
from __future__ import annotations

import io
import os
import re
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pypdf
import pytest
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue
from sqlalchemy import select

from docsvc import create_app, db
from docsvc.config import FilingSettings
from docsvc.constants import JobState, QueueName
from docsvc.models import BatchFile, Document, Page
from docsvc.runtime import Runtime, build_runtime, install
from tests.samples import form_text
from docsvc.pipeline.intake import Upload, receive
from tests.testdata import make_text_pdf
from tests.conftest import AuthActions, Users, settings_for, wait_for_batch
from tests.scans import png_bomb_bytes, text_pdf_bytes, tiff_bytes, truncated
from workers import jobs as job_functions

# Its own database number: the test empties it first, and the full-stack tests use another.
EMPTY_REDIS_URL = "redis://127.0.0.1:6379/13"
HUGE_PAGE_COUNT = 5000


def multipart(files: list[tuple[bytes, bytes]]) -> tuple[bytes, str]:
    """A multipart body written byte by byte, so a file name can carry a NUL or non-UTF-8 bytes
    exactly as a scanner's or an old Windows client's request would."""
    boundary = uuid.uuid4().hex.encode()
    body = bytearray()
    for name, content in files:
        body += (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"files\"; filename=\"" + name
                 + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n" + content + b"\r\n")
    body += b"--" + boundary + b"--\r\n"
    return bytes(body), f"multipart/form-data; boundary={boundary.decode()}"


def post_batch(client: FlaskClient, token: str, files: list[tuple[bytes, bytes]]) -> int:
    body, content_type = multipart(files)
    response = client.post("/api/v1/batches", data=body, content_type=content_type,
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["id"]


def batch_report(client: FlaskClient, token: str, batch_id: int, language: str | None = None) -> dict:
    """The finished batch as the API answers a reader of `language` (None: no Accept-Language, Chinese)."""
    headers = {"Authorization": f"Bearer {token}"} | ({"Accept-Language": language} if language else {})
    return wait_for_batch(lambda: client.get(f"/api/v1/batches/{batch_id}", headers=headers).get_json())


def encrypted_pdf(tmp_path: Path) -> bytes:
    plain = tmp_path / "plain.pdf"
    make_text_pdf([form_text(31)], plain)
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(plain))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def word_document() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as docx:
        docx.writestr("[Content_Types].xml", "<Types/>")
        docx.writestr("word/document.xml", "<w:document>用电申请书</w:document>")
    return buf.getvalue()


CJK = re.compile(r"[\u4e00-\u9fff]")


def assert_tells_the_archivist(chinese: str | None, english: str | None, *, names: list[str]) -> None:
    """One message as a Chinese and an English reader see it, each wholly in their language; it names the
    problem (a Chinese name in the Chinese, any other in the English) and says what to do next."""
    assert chinese and english, "a failed file must carry a message"
    assert CJK.search(chinese) and "请" in chinese, chinese
    assert english[:1].isupper() and not CJK.search(english), english
    assert "again" in english, english  # every message ends by saying how to upload it again
    for name in names:
        assert name in (chinese if CJK.search(name) else english), (name, chinese, english)


@pytest.mark.integration   # the good files of the batch go through the real OCR engine
def test_each_bad_file_fails_alone_with_a_message_and_the_rest_of_the_batch_is_read(
        client: FlaskClient, users: Users, embedded_runtime: Runtime, tmp_path: Path) -> None:
    token = users.token("scanner", "operator")
    good = {
        b"scan.tif": tiff_bytes([21]),
        b"../../etc/passwd.pdf": text_pdf_bytes([form_text(22)], tmp_path),
        "合同\x00副本.pdf".encode(): text_pdf_bytes([form_text(23)], tmp_path),
    }
    bad = {
        b"empty.pdf": b"",
        b"broken.tif": truncated(tiff_bytes([24], compression="tiff_lzw", variant="clean")),
        b"corrupt.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 20,
        b"locked.pdf": encrypted_pdf(tmp_path),
        b"bomb.png": png_bomb_bytes(100_000, 100_000),
        "申请书.docx".encode(): word_document(),
        b"notes.pdf": "这不是扫描件，只是改了扩展名的文本。 plain text renamed .pdf\n".encode(),
    }
    batch_id = post_batch(client, token, list(good.items()) + list(bad.items()))

    report = batch_report(client, token, batch_id)
    in_english = {f["name"]: f for f in batch_report(client, token, batch_id, "en")["files"]}

    files = {f["name"]: f for f in report["files"]}
    assert set(files) == {"scan.tif", "passwd.pdf", "合同副本.pdf", "empty.pdf", "broken.tif", "corrupt.pdf",
                          "locked.pdf", "bomb.png", "申请书.docx", "notes.pdf"}
    assert report["status"] == "partial"
    for name in ("scan.tif", "passwd.pdf", "合同副本.pdf"):
        assert files[name]["status"] == "done" and files[name]["error"] is None, files[name]
    assert report["counts"] == {"pages_total": 3, "pages_done": 3, "pages_failed": 0}
    expected = {
        "empty.pdf": ["空文件", "0 bytes"],
        "broken.tif": ["损坏", "TIFF", "damaged"],
        "corrupt.pdf": ["损坏", "PDF", "damaged"],
        "locked.pdf": ["密码", "password"],
        "bomb.png": ["像素过多", "too many pixels"],
        "申请书.docx": ["不支持", "ZIP", "PDF, TIFF, JPEG, PNG"],
        "notes.pdf": ["不支持", "Unsupported", "PDF, TIFF, JPEG, PNG"],
    }
    for name, words in expected.items():
        assert files[name]["status"] == "failed", files[name]
        assert files[name]["document_ids"] == []
        assert_tells_the_archivist(files[name]["error"], in_english[name]["error"], names=words)

    with embedded_runtime.sessions() as session:
        rows = session.scalars(select(BatchFile).where(BatchFile.batch_id == batch_id)).all()
        assert len(rows) == len(good) + len(bad)
        for row in rows:
            assert row.original_key and embedded_runtime.store.exists(row.original_key), row.filename
            assert not set("/\\\x00") & set(row.filename), repr(row.filename)
            if row.filename in expected:
                assert row.attempts == 1, (row.filename, row.attempts)  # a bad file is not retried
    # The name's path went nowhere: originals live under their SHA-256 only.
    assert not any("passwd" in p.name for p in embedded_runtime.settings.data_dir.rglob("*"))

    later = post_batch(client, token, [(b"later.pdf", text_pdf_bytes([form_text(25)], tmp_path))])
    assert batch_report(client, token, later)["status"] == "done"


def test_a_failed_file_is_told_to_each_reader_in_their_language_from_the_one_stored_message(
        client: FlaskClient, auth: AuthActions, users: Users, embedded_runtime: Runtime) -> None:
    """The job keeps the failure once; the batch page and the API show it in the reader's language: Chinese
    unless they ask for English, whoever uploaded it and in whatever language the job ran."""
    auth.login("operator", "operator")
    data = {"files": [(io.BytesIO(b"%PDF-1.7\n" + bytes(range(256)) * 20), "corrupt.pdf")], "csrf_token": auth.csrf()}
    uploaded = client.post("/upload", data=data, content_type="multipart/form-data",
                           headers={"Accept": "application/json", "Accept-Language": "en"})
    assert uploaded.status_code == 202, uploaded.get_data(as_text=True)
    batch_id = uploaded.get_json()["batch_id"]
    assert wait_for_batch(lambda: client.get(f"/batches/{batch_id}/progress").get_json())["status"] == "failed"
    with embedded_runtime.sessions() as session:
        kept = session.scalars(select(BatchFile.error).where(BatchFile.batch_id == batch_id)).one()

    chinese = client.get(f"/batches/{batch_id}").get_data(as_text=True)
    english = client.get(f"/batches/{batch_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert "文件已损坏，无法读取：PDF 结构无法解析或没有任何页面。请重新扫描" in chinese
    assert "damaged" not in chinese
    assert "The file is damaged: the PDF structure cannot be parsed or has no pages. Re-scan" in english
    assert not CJK.search(english.split("<tbody>")[1].split("</tbody>")[0]), english  # the file's row
    token = users.token("reader", "operator")
    api = {"Authorization": f"Bearer {token}"}
    (zh_file,) = client.get(f"/api/v1/batches/{batch_id}", headers=api).get_json()["files"]
    (en_file,) = client.get(f"/api/v1/batches/{batch_id}", headers=api | {"Accept-Language": "en"}).get_json()["files"]
    assert_tells_the_archivist(zh_file["error"], en_file["error"], names=["损坏", "PDF", "damaged"])
    with embedded_runtime.sessions() as session:  # read, never rewritten
        assert session.scalars(select(BatchFile.error).where(BatchFile.batch_id == batch_id)).one() == kept


def test_a_file_named_like_a_stored_message_is_shown_by_its_name(
        client: FlaskClient, auth: AuthActions, tmp_path: Path) -> None:
    """Names are the sender's: one that begins like a stored text is still only a name in a message."""
    auth.login("operator", "operator")
    content = text_pdf_bytes([form_text(27)], tmp_path)
    name = "i18n:{合同}.pdf"
    batch_ids = []
    for _ in range(2):  # the second is a duplicate, and its message names the first by its title
        sent = client.post("/upload", data={"files": [(io.BytesIO(content), name)], "csrf_token": auth.csrf()},
                           content_type="multipart/form-data", headers={"Accept": "application/json"})
        batch_ids.append(sent.get_json()["batch_id"])
        wait_for_batch(lambda: client.get(f"/batches/{batch_ids[-1]}/progress").get_json())

    (duplicate,) = client.get(f"/batches/{batch_ids[1]}/progress").get_json()["files"]
    assert duplicate["status"] == "duplicate"
    assert duplicate["error"].startswith("与已有文档 #") and name in duplicate["error"], duplicate
    assert client.get(f"/batches/{batch_ids[1]}").status_code == 200


def test_upload_whose_part_headers_are_gbk_is_refused_with_a_clear_message(
        client: FlaskClient, users: Users, tmp_path: Path) -> None:
    """werkzeug cannot read multipart headers that are not UTF-8; the client is told so, not "no files"."""
    token = users.token("scanner", "operator")
    body, boundary = b"", "docsvc-boundary"
    for name, content in (("合同扫描.pdf".encode("gbk"), text_pdf_bytes([form_text(26)], tmp_path)),):
        body += (f"--{boundary}\r\n".encode() + b'Content-Disposition: form-data; name="files"; filename="'
                 + name + b'"\r\nContent-Type: application/pdf\r\n\r\n' + content + b"\r\n")
    body += f"--{boundary}--\r\n".encode()

    response = client.post("/api/v1/batches", data=body, headers={"Authorization": f"Bearer {token}"},
                           content_type=f"multipart/form-data; boundary={boundary}")

    assert response.status_code == 400
    assert "UTF-8" in response.get_json()["error"] and "docsvc import" in response.get_json()["error"]


def test_file_named_in_gbk_on_a_share_is_received_with_its_chinese_name(
        embedded_runtime: Runtime, tmp_path: Path) -> None:
    """A scanner share mounted with the wrong charset lists GBK names; Python hands them over as
    surrogate escapes, which `docsvc import` and `docsvc watch` pass on as the file's name."""
    share = tmp_path / "share"
    share.mkdir()
    (Path(os.fsdecode(bytes(share) + b"/" + "合同扫描.pdf".encode("gbk")))
     .write_bytes(text_pdf_bytes([form_text(28)], tmp_path)))
    [path] = share.iterdir()

    with embedded_runtime.sessions() as session, path.open("rb") as stream:
        batch = receive(session, embedded_runtime.store, embedded_runtime.jobs, [Upload(path.name, stream)],
                        source="watch")
        assert [f.filename for f in batch.files] == ["合同扫描.pdf"]


@pytest.fixture
def redis_runtime(tmp_path: Path) -> Iterator[Runtime]:
    """Jobs go to real RQ queues on Redis, and no worker takes them: the test runs the job functions."""
    redis = Redis.from_url(EMPTY_REDIS_URL)
    redis.flushdb()
    settings = settings_for(tmp_path / "var", DOCSVC_REDIS_URL=EMPTY_REDIS_URL)
    # A billing-system export carries no cover sheets; looking for them renders every page in the
    # split job (about 20 ms a page), which is not what this test measures.
    rt = build_runtime(settings.with_(filing=FilingSettings(separators=())))
    db.upgrade(rt.engine)
    install(rt)
    yield rt
    rt.close()
    redis.flushdb()
    redis.close()


@pytest.mark.integration   # Redis
def test_five_thousand_page_pdf_becomes_five_thousand_page_jobs(
        redis_runtime: Runtime, tmp_path: Path) -> None:
    app = create_app(runtime=redis_runtime)
    client = app.test_client()
    token = Users(redis_runtime).token("exporter", "operator")
    export = tmp_path / "billing-export.pdf"
    make_text_pdf([f"电费结算单 第{n}页 户号3100012345" for n in range(1, HUGE_PAGE_COUNT + 1)], export)
    batch_id = post_batch(client, token, [(b"billing-export.pdf", export.read_bytes())])
    queues = {name: Queue(name.value, connection=Redis.from_url(EMPTY_REDIS_URL)) for name in QueueName}
    assert queues[QueueName.INGEST].count == 1

    with redis_runtime.sessions() as session:
        file_id = session.scalars(select(BatchFile.id).where(BatchFile.batch_id == batch_id)).one()
    job_functions.split_file(file_id)

    with redis_runtime.sessions() as session:
        document = session.scalars(select(Document).where(Document.batch_file_id == file_id)).one()
        numbers = session.scalars(select(Page.number).where(Page.document_id == document.id)
                                  .order_by(Page.number)).all()
        last_id = session.scalars(select(Page.id).where(Page.document_id == document.id,
                                                        Page.number == HUGE_PAGE_COUNT)).one()
    assert document.page_count == HUGE_PAGE_COUNT
    assert numbers == list(range(1, HUGE_PAGE_COUNT + 1))
    assert queues[QueueName.OCR].count == HUGE_PAGE_COUNT

    job_functions.process_page(last_id)

    with redis_runtime.sessions() as session:
        last = session.get(Page, last_id)
        assert last is not None
        assert last.status == JobState.DONE and last.source == "text_layer"
        assert "第5000页" in re.sub(r"\s+", "", last.text or "")
        assert redis_runtime.store.exists(last.image_key or "")
    assert queues[QueueName.INDEX].count == 1
