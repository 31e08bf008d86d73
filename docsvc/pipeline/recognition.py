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
from docsvc.formats import decoder
from docsvc.jobs import JobQueue, enqueue_index
from docsvc.metrics import OCR_SECONDS, PAGES_FAILED, PAGES_PROCESSED
from docsvc.models import Page
from docsvc.ocr import Word, get_engine, normalise, reapply
from docsvc.ocr.layout import LAYOUT_VERSION, reading_text
from docsvc.ocr.readers import ocr_reader, text_layer_reader
from docsvc.pipeline import jobstate
from docsvc.files import suggestions
from docsvc.i18n import stored
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
    reader: str  # docsvc.ocr.readers: engine, models and layout version
    layout_version: int | None  # None: not laid out by docsvc.ocr.layout (a PDF text layer)
    # OCR only: the engine's models and the pieces it gave layout, stored in words.json so that
    # `docsvc reread` can lay the page out again without OCR (see relaid).
    models: str | None = None
    pieces: list[list[Word]] | None = None


def process_page(session: Session, settings: Settings, store: ObjectStore, jobs: JobQueue, page_id: int) -> None:
    page = jobstate.claim(session, Page, page_id)
    if page is None:
        return
    document = page.document
    what = stored("Page %(number)s (%(title)s)", number=page.number, title=document.title)
    with jobstate.running(session, page, what):
        # A page moved in from another scan reads from its own original.
        with store.local_path(page.source_key) as path:
            image, text = read_page(Path(path), page.source_media_type, page.source_index, settings)
        save_page(session, store, page, image, text)
        jobstate.mark_done(session, page)
    if page.status == JobState.FAILED:
        PAGES_FAILED.inc()
    if page.status != JobState.DONE:
        return
    PAGES_PROCESSED.labels(str(page.source)).inc()
    # After the job body: the page stays read whatever happens here; a fault leaves the document in the inbox.
    try:
        suggestions.file_when_read(session, page.document_id, settings.filing)
    finally:
        enqueue_index(jobs)


def read_page(path: Path, media_type: str, index: int, settings: Settings) -> tuple[Image.Image, PageText]:
    # The file is read in the decoder process, under the job's memory and time limits; OCR runs here,
    # where the models stay loaded, on pixels already within the pixel limit.
    decoded = decoder.read_page(path, media_type, index, ocr_dpi=settings.ocr_dpi, view_dpi=VIEW_DPI_TEXT_LAYER,
                                limits=jobstate.job_limits(settings))
    layer = decoded.layer
    if layer is not None:
        image = decoded.image
        w, h = image.size
        words = [{"text": word.text,
                  "box": [round(word.box[0] * w), round(word.box[1] * h),
                          round(word.box[2] * w), round(word.box[3] * h)],
                  "conf": 1.0} for word in layer.words]
        return image, PageText(layer.text, words, None, TextSource.TEXT_LAYER, 0, None, None, None,
                               text_layer_reader(), None)
    engine = get_engine(settings.ocr_engine, detection_side=settings.ocr_detection_side,
                        threads=settings.ocr_threads)
    with OCR_SECONDS.labels(settings.ocr_engine).time():
        upright = normalise(decoded.image)
        result = engine.recognise(upright.image)
    return upright.image, PageText(result.text, _word_dicts(result.words), result.confidence, TextSource.OCR,
                                   upright.rotation, upright.skew, result.engine, result.engine_version,
                                   ocr_reader(result.engine_version, result.models), LAYOUT_VERSION,
                                   result.models, result.pieces)


@dataclass(frozen=True)
class Relaid:
    """A page's text laid out again from the engine pieces its words.json keeps."""
    text: str
    words_document: dict[str, object]  # the page's words.json with the new words
    confidence: float | None
    reader: str
    layout_version: int


def relaid(words_document: dict[str, object]) -> Relaid | None:
    """The page laid out by today's layout from the pieces its OCR stored; None when its words.json
    has none (a text layer, or read before pieces were kept): only reading it again will do."""
    pieces, read_by = words_document.get("pieces"), words_document.get("read_by")
    if not isinstance(pieces, list) or not isinstance(read_by, dict):
        return None
    text, words = reading_text([[Word(str(t), (int(b[0]), int(b[1]), int(b[2]), int(b[3])), float(c))
                                 for t, b, c in piece] for piece in pieces])
    confidence = sum(w.confidence for w in words) / len(words) if words else None
    return Relaid(text, {**words_document, "words": _word_dicts(words)}, confidence,
                  ocr_reader(str(read_by["engine_version"]), str(read_by["models"])), LAYOUT_VERSION)


def _word_dicts(words: list[Word]) -> list[dict[str, object]]:
    return [{"text": w.text, "box": list(w.box), "conf": round(w.confidence, 4)} for w in words]


def _words_document(image: Image.Image, text: PageText) -> dict[str, object]:
    document: dict[str, object] = {"width": image.width, "height": image.height, "source": text.source.value,
                                   "words": text.words}
    if text.pieces is not None:   # the keys files.documents.WORDS_FOR_RELAYOUT names
        document["read_by"] = {"engine_version": text.engine_version, "models": text.models}
        # compact ([text, box, conf]): a page's pieces are as many as its words
        document["pieces"] = [[[w.text, list(w.box), round(w.confidence, 4)] for w in piece]
                              for piece in text.pieces]
    return document


def redraw_view(store: ObjectStore, page: Page, settings: Settings) -> None:
    """Write a read page's image and thumbnail again from its original, as its page job left them, without
    reading it again: the recorded turn and skew are applied, so the kept word boxes still fit (a restore
    regenerates derived objects this way; the text and words come from the backup)."""
    with store.local_path(page.source_key) as path:
        if page.source == TextSource.TEXT_LAYER:
            image = formats.render_page(Path(path), page.source_media_type, page.source_index, dpi=VIEW_DPI_TEXT_LAYER)
        else:
            raw = formats.render_page(Path(path), page.source_media_type, page.source_index,
                                      dpi=page.dpi or settings.ocr_dpi)
            image = reapply(raw, page.rotation, page.skew)
    data, ext, content_type = encode_image(image)
    store.put_bytes(page.image_key or page_image_key(page.id, ext), data, content_type)
    store.put_bytes(page.thumb_key or page_thumb_key(page.id), encode_thumbnail(image), "image/jpeg")


def save_page(session: Session, store: ObjectStore, page: Page, image: Image.Image, text: PageText) -> None:
    data, ext, content_type = encode_image(image)
    page.image_key = store.put_bytes(page_image_key(page.id, ext), data, content_type).key
    page.thumb_key = store.put_bytes(page_thumb_key(page.id), encode_thumbnail(image), "image/jpeg").key
    page.words_key = store_words(store, page.id, _words_document(image, text))
    page.width, page.height = image.size
    page.dpi = _image_dpi(image)
    page.text = text.text
    page.source = text.source
    page.confidence = text.confidence
    page.rotation = text.rotation
    page.skew = text.skew
    page.engine = text.engine
    page.engine_version = text.engine_version
    page.reader = text.reader
    page.layout_version = text.layout_version
    page.index_state = IndexState.PENDING


def store_words(store: ObjectStore, page_id: int, words_document: dict[str, object]) -> str:
    return store.put_bytes(page_words_key(page_id), json.dumps(words_document, ensure_ascii=False).encode(),
                           "application/json").key


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
