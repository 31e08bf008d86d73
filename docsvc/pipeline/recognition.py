"""The page job: a page's text (from the PDF text layer or by OCR), its image, thumbnail and word boxes."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from docsvc import formats
from docsvc.config import Settings
from docsvc.constants import (
    THUMBNAIL_MAX_PX,
    VIEW_DPI_TEXT_LAYER,
    IndexState,
    JobState,
    TextSource,
    page_image_key,
    page_thumb_key,
    page_words_key,
)
from docsvc.jobs import JobQueue, enqueue_index
from docsvc.models import Page
from docsvc.ocr import get_engine, normalise
from docsvc.pipeline import jobstate
from docsvc.files import suggestions
from sqlalchemy.orm import Session
from storage import ObjectStore


@dataclass(frozen=True)
class PageText:
    text: str
    words: list[dict[str, object]]  # {"text", "box": [x0, y0, x1, y1] in image pixels, "conf"}
    confidence: float | None
    source: TextSource
    rotation: int
    skew: float | None
    engine: str | None
    engine_version: str | None


def process_page(session: Session, settings: Settings, store: ObjectStore, jobs: JobQueue, page_id: int) -> None:
    page = jobstate.claim(session, Page, page_id)
    if page is None:
        return
    document = page.document
    with jobstate.running(session, page, f"第 {page.number} 页（{document.title}）"):
        # A page moved in from another scan reads from its own original.
        with store.local_path(page.source_key) as path:
            image, text = read_page(Path(path), page.source_media_type, page.source_index, settings)
        _save(session, store, page, image, text)
        jobstate.mark_done(session, page)
    if page.status != JobState.DONE:
        return
    # After the job body: the page stays read whatever happens here; a fault leaves the document in the inbox.
    try:
        suggestions.file_when_read(session, page.document_id, settings.filing)
    finally:
        enqueue_index(jobs)


def read_page(path: Path, media_type: str, index: int, settings: Settings) -> tuple[Image.Image, PageText]:
    layer = formats.text_layer(path, index) if media_type == "application/pdf" else None
    if layer is not None:
        image = formats.render_page(path, media_type, index, dpi=VIEW_DPI_TEXT_LAYER)
        w, h = image.size
        words = [{"text": word.text,
                  "box": [round(word.box[0] * w), round(word.box[1] * h),
                          round(word.box[2] * w), round(word.box[3] * h)],
                  "conf": 1.0} for word in layer.words]
        return image, PageText(layer.text, words, None, TextSource.TEXT_LAYER, 0, None, None, None)
    raw = formats.render_page(path, media_type, index, dpi=settings.ocr_dpi)
    upright = normalise(raw)
    engine = get_engine(settings.ocr_engine, detection_side=settings.ocr_detection_side,
                        threads=settings.ocr_threads)
    result = engine.recognise(upright.image)
    words = [{"text": w.text, "box": list(w.box), "conf": round(w.confidence, 4)} for w in result.words]
    return upright.image, PageText(result.text, words, result.confidence, TextSource.OCR,
                                   upright.rotation, upright.skew, result.engine, result.engine_version)


def _save(session: Session, store: ObjectStore, page: Page, image: Image.Image, text: PageText) -> None:
    data, ext, content_type = encode_image(image)
    page.image_key = store.put_bytes(page_image_key(page.id, ext), data, content_type).key
    page.thumb_key = store.put_bytes(page_thumb_key(page.id), encode_thumbnail(image), "image/jpeg").key
    words_doc = {"width": image.width, "height": image.height, "source": text.source.value, "words": text.words}
    page.words_key = store.put_bytes(
        page_words_key(page.id), json.dumps(words_doc, ensure_ascii=False).encode(), "application/json"
    ).key
    page.width, page.height = image.size
    page.dpi = _image_dpi(image)
    page.text = text.text
    page.source = text.source
    page.confidence = text.confidence
    page.rotation = text.rotation
    page.skew = text.skew
    page.engine = text.engine
    page.engine_version = text.engine_version
    page.index_state = IndexState.PENDING


def _image_dpi(image: Image.Image) -> int | None:
    """The resolution the image was rendered at or scanned with (formats sets info["dpi"])."""
    dpi = image.info.get("dpi")
    return round(dpi[0]) if dpi else None


def encode_image(image: Image.Image) -> tuple[bytes, str, str]:
    """Bitonal scans stay lossless PNG (small and sharp); grey and colour go to JPEG."""
    buf = io.BytesIO()
    if image.mode == "1":
        image.save(buf, "PNG", optimize=False)
        return buf.getvalue(), "png", "image/png"
    image.convert("L" if image.mode in ("L", "LA", "I", "I;16") else "RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue(), "jpg", "image/jpeg"


def encode_thumbnail(image: Image.Image) -> bytes:
    thumb = image.convert("L" if image.mode in ("1", "L") else "RGB")
    thumb.thumbnail((THUMBNAIL_MAX_PX, THUMBNAIL_MAX_PX))
    buf = io.BytesIO()
    thumb.save(buf, "JPEG", quality=75)
    return buf.getvalue()
