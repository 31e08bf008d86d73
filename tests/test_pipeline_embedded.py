"""The embedded default end to end: SQLite, local object folder, in-process worker, web upload to search."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.samples import form_text
from tests.conftest import AuthActions, Users, wait_for_batch
from tests.scans import image_pdf_bytes, jpeg_bytes, text_pdf_bytes, tiff_bytes, truncated

# no service, but every page of every scan goes through the real OCR engine: a minute of the
# quick run on its own
pytestmark = pytest.mark.integration


def account_of(seed: int) -> str:
    match = re.search(r"户号：(\d{10})", form_text(seed))
    assert match
    return match.group(1)


def squash(text: str | None) -> str:
    return re.sub(r"\s+", "", text or "")


def upload(client: FlaskClient, auth: AuthActions, files: dict[str, bytes]) -> int:
    data = {"files": [(io.BytesIO(content), name) for name, content in files.items()],
            "csrf_token": auth.csrf()}
    response = client.post("/upload", data=data, content_type="multipart/form-data",
                           headers={"Accept": "application/json"})
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["batch_id"]


def test_operator_uploads_a_mixed_batch_and_every_good_page_is_read(
        client: FlaskClient, auth: AuthActions, users: Users, tmp_path: Path) -> None:
    auth.login("operator", "operator")
    batch_id = upload(client, auth, {
        "stack.tif": tiff_bytes([1, 2]),
        "scan.pdf": image_pdf_bytes([3]),
        "contract.pdf": text_pdf_bytes([form_text(4), form_text(5)], tmp_path),
        "phone.jpg": jpeg_bytes(6),
        "broken.tif": truncated(tiff_bytes([7], compression="tiff_lzw", variant="clean")),
    })

    report = wait_for_batch(lambda: client.get(f"/batches/{batch_id}/progress").get_json())

    files = {f["name"]: f for f in report["files"]}
    assert report["status"] == "partial"
    assert files["broken.tif"]["status"] == "failed"
    assert "损坏" in files["broken.tif"]["error"] or "damaged" in files["broken.tif"]["error"]
    for name in ("stack.tif", "scan.pdf", "contract.pdf", "phone.jpg"):
        assert files[name]["status"] == "done", files[name]
    assert report["counts"] == {"pages_total": 6, "pages_done": 6, "pages_failed": 0}

    token = users.token("reader", "archivist")
    api = {"Authorization": f"Bearer {token}"}
    expectations = {"stack.tif": [1, 2], "scan.pdf": [3], "contract.pdf": [4, 5], "phone.jpg": [6]}
    for name, seeds in expectations.items():
        document = client.get(f"/api/v1/documents/{files[name]['document_ids'][0]}", headers=api).get_json()
        assert [p["number"] for p in document["pages"]] == list(range(1, len(seeds) + 1))
        for page, seed in zip(document["pages"], seeds):
            body = client.get(f"/api/v1/pages/{page['id']}", headers=api).get_json()
            assert account_of(seed) in squash(body["text"]), (name, body["text"])
            assert "产权分界点" in squash(body["text"]) or "检查" in squash(body["text"])
            assert body["source"] == ("text_layer" if name == "contract.pdf" else "ocr")
            if body["source"] == "ocr":
                assert body["engine"] == "rapidocr" and body["engine_version"]
                assert 0 < body["confidence"] <= 1
            image = client.get(f"/api/v1/pages/{page['id']}/image", headers=api)
            assert image.status_code == 200 and image.mimetype.startswith("image/")
            assert client.get(f"/api/v1/pages/{page['id']}/thumbnail", headers=api).mimetype == "image/jpeg"
            words = client.get(f"/api/v1/pages/{page['id']}/words", headers=api).get_json()
            assert words["words"] and all(0 <= w["box"][0] <= w["box"][2] <= words["width"] for w in words["words"])

    hits = client.get(f"/api/v1/search?q={account_of(2)}", headers=api).get_json()
    assert [r["document_id"] for r in hits["results"]] == files["stack.tif"]["document_ids"]
    assert [p["page_number"] for p in hits["results"][0]["pages"]] == [2]


def test_the_same_file_uploaded_twice_is_stored_once_and_reported_as_duplicate(
        client: FlaskClient, auth: AuthActions, embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    auth.login("operator", "operator")
    scan = image_pdf_bytes([8])
    first = upload(client, auth, {"a.pdf": scan})
    first_report = wait_for_batch(lambda: client.get(f"/batches/{first}/progress").get_json())
    second = upload(client, auth, {"again.pdf": scan})
    second_report = wait_for_batch(lambda: client.get(f"/batches/{second}/progress").get_json())

    dup = second_report["files"][0]
    assert dup["status"] == "duplicate"
    assert dup["document_ids"] == first_report["files"][0]["document_ids"]
    assert "#" in dup["error"]
    originals = list(embedded_runtime.store.list("originals/"))
    assert len(originals) == 1


def test_batch_page_shows_progress_and_file_rows(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("operator", "operator")
    batch_id = upload(client, auth, {"one.pdf": image_pdf_bytes([9]), "junk.docx": b"PK\x03\x04 not a scan"})
    wait_for_batch(lambda: client.get(f"/batches/{batch_id}/progress").get_json())
    progress = client.get(f"/batches/{batch_id}/progress").get_json()
    one = next(f for f in progress["files"] if f["name"] == "one.pdf")
    assert [(t["number"], t["status"]) for t in progress["tiles"][str(one["id"])]] == [(1, "done")]
    html = client.get(f"/batches/{batch_id}").get_data(as_text=True)
    assert "<progress" in html and "one.pdf" in html and "junk.docx" in html
    assert "PDF" in html and "TIFF" in html  # the refusal names the accepted types


def test_operator_retries_a_failed_page_from_the_document_page(
        client: FlaskClient, auth: AuthActions, embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from docsvc.models import Page

    auth.login("operator", "operator")
    batch_id = upload(client, auth, {"one.pdf": image_pdf_bytes([10])})
    report = wait_for_batch(lambda: client.get(f"/batches/{batch_id}/progress").get_json())
    document_id = report["files"][0]["document_ids"][0]
    page_id = report["tiles"][str(report["files"][0]["id"])][0]["id"]
    # The page failed earlier (say the store was unreachable): its row is all a retry needs.
    with embedded_runtime.sessions() as session:
        session.execute(update(Page).where(Page.id == page_id).values(status="failed", text=None, error="store down"))
        session.commit()
    html = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "store down" in html and f"/pages/{page_id}/retry" in html

    response = client.post(f"/pages/{page_id}/retry", data={"csrf_token": auth.csrf()})

    assert response.status_code == 302 and response.headers["Location"].endswith(f"/documents/{document_id}")
    report = wait_for_batch(lambda: client.get(f"/batches/{batch_id}/progress").get_json())
    assert report["status"] == "done"
    text = client.get(f"/pages/{page_id}").get_data(as_text=True)
    assert account_of(10) in squash(text)


def test_operator_retries_everything_that_failed_in_a_batch(
        client: FlaskClient, auth: AuthActions, embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from docsvc.models import Page

    auth.login("operator", "operator")
    batch_id = upload(client, auth, {"two.tif": tiff_bytes([16, 17])})
    report = wait_for_batch(lambda: client.get(f"/batches/{batch_id}/progress").get_json())
    with embedded_runtime.sessions() as session:
        session.execute(update(Page).values(status="failed", error="engine crashed"))
        session.commit()
    assert client.get(f"/batches/{batch_id}/progress").get_json()["status"] == "failed"

    response = client.post(f"/batches/{batch_id}/retry", data={"csrf_token": auth.csrf()})

    assert response.status_code == 302
    report = wait_for_batch(lambda: client.get(f"/batches/{batch_id}/progress").get_json())
    assert report["status"] == "done" and report["counts"]["pages_done"] == 2
