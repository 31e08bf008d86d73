"""Oversized pages (issue 12, point 6): a PDF page above the pixel limit at the OCR resolution (an A0
drawing) is drawn at the highest dpi within the limit, recorded on the page, stored, viewable and
read; only a page too large even at 72 dpi is refused."""
from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from PIL import Image, ImageDraw

from docsvc.config import Settings
from docsvc.formats import MAX_PIXELS, TooLarge, render_page
from docsvc.i18n import using
from tests.conftest import AuthActions, Users, settings_for, wait_for_batch
from tests.samples import _font

A0_MM = (841, 1189)
CAPTIONS = ["产权分界示意图", "户号 3301234567", "10kV城东线第12号杆", "高压计量柜 GD-2019-004512"]


def drawing_pdf(path: Path, size_mm: tuple[float, float] = A0_MM, scan_dpi: float = 100) -> Path:
    """A drawing scanned at `scan_dpi` on a page of `size_mm` (the PDF page has the paper's size)."""
    width, height = (round(mm / 25.4 * scan_dpi) for mm in size_mm)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle([40, 40, width - 40, height - 40], outline=0, width=4)
    font = _font(max(8, round(scan_dpi * 0.6)))
    for n, caption in enumerate(CAPTIONS):
        draw.text((width // 8, height // 8 + n * font.size * 2), caption, font=font, fill=0)
    image.save(path, "PDF", resolution=scan_dpi)
    return path


def _pixels_at(size_mm: tuple[float, float], dpi: int) -> int:
    return round(size_mm[0] / 25.4 * dpi) * round(size_mm[1] / 25.4 * dpi)


def test_an_a0_page_above_the_limit_is_drawn_at_the_highest_dpi_within_it(tmp_path: Path) -> None:
    path = drawing_pdf(tmp_path / "a0.pdf", scan_dpi=20)
    limit = 20_000_000                                   # A0 at 300 dpi is 139 megapixels
    image = render_page(path, "application/pdf", 0, dpi=300, max_pixels=limit)
    used = image.info["dpi"][0]
    assert image.width * image.height <= limit < _pixels_at(A0_MM, used + 1)
    assert 100 < used < 300
    assert render_page(path, "application/pdf", 0, dpi=30, max_pixels=limit).info["dpi"] == (30, 30)


def test_a_page_too_large_even_at_72_dpi_is_refused_for_the_archivist(tmp_path: Path) -> None:
    path = drawing_pdf(tmp_path / "huge.pdf", size_mm=(5080, 5080), scan_dpi=2)   # 200 × 200 inches
    with pytest.raises(TooLarge) as caught:
        render_page(path, "application/pdf", 0, dpi=300)
    chinese = caught.value.message
    with using("en"):
        english = caught.value.message
    assert "72 dpi" in chinese and "72 dpi" in english and f"{MAX_PIXELS / 1e6:.0f}" in english
    assert english[:1].isupper()


@pytest.fixture
def embedded_settings(tmp_path: Path) -> Settings:
    # the case: an A0 drawing read at 400 dpi is 248 megapixels, above the 150 limit
    return settings_for(tmp_path / "var", DOCSVC_OCR_DPI="400")


@pytest.mark.integration   # the real OCR engine on a 150-megapixel page
def test_an_a0_drawing_is_stored_viewable_and_read_at_the_dpi_the_limit_allows(
        client: FlaskClient, auth: AuthActions, users: Users, tmp_path: Path) -> None:
    token = users.token("operator", "operator")
    api = {"Authorization": f"Bearer {token}"}
    pdf = drawing_pdf(tmp_path / "产权分界示意图.pdf")
    response = client.post("/api/v1/batches", headers=api, content_type="multipart/form-data",
                           data={"files": [(io.BytesIO(pdf.read_bytes()), pdf.name)]})
    assert response.status_code == 202, response.get_data(as_text=True)
    report = wait_for_batch(lambda: client.get(f"/api/v1/batches/{response.get_json()['id']}", headers=api).get_json())
    assert report["status"] == "done", report
    document = client.get(f"/api/v1/documents/{report['files'][0]['document_ids'][0]}", headers=api).get_json()
    page = client.get(f"/api/v1/pages/{document['pages'][0]['id']}", headers=api).get_json()
    expected_dpi = max(d for d in range(72, 401) if _pixels_at(A0_MM, d) <= MAX_PIXELS)
    assert page["status"] == "done" and page["dpi"] == expected_dpi < 400
    assert page["width"] * page["height"] <= MAX_PIXELS
    text = re.sub(r"\s+", "", page["text"])
    for caption in CAPTIONS:
        assert caption.replace(" ", "") in text, page["text"]
    image = client.get(f"/api/v1/pages/{page['id']}/image", headers=api)
    with warnings.catch_warnings():     # Pillow warns above 89 MP; this one is ours, within our limit
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        stored = Image.open(io.BytesIO(image.data)).size
    assert image.status_code == 200 and stored == (page["width"], page["height"])
    auth.login("operator", "operator")
    viewer = client.get(f"/pages/{page['id']}").get_data(as_text=True)
    assert f'<span id="page-dpi">{expected_dpi} dpi</span>' in viewer
