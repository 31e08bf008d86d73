"""The engines by name, built once per process and shared by every thread."""

from __future__ import annotations

import threading

from docsvc.constants import OCR_DETECTION_SIDE, OCR_ENGINES
from docsvc.i18n import _
from docsvc.ocr.orientation import load_models
from docsvc.ocr.interface import OcrEngine
from docsvc.ocr.rapid import RapidOcrEngine
from docsvc.ocr.tesseract import TesseractEngine

ENGINES = OCR_ENGINES

_engines: dict[tuple[str, int, int], OcrEngine] = {}
_lock = threading.Lock()


def get_engine(name: str, *, detection_side: int = OCR_DETECTION_SIDE, threads: int = 1) -> OcrEngine:
    """The engine called `name`; every call in the process gets the same, thread-safe object.

    detection_side and threads (DOCSVC_OCR_DETECTION_SIDE, DOCSVC_OCR_THREADS) tune RapidOCR;
    tesseract takes neither. The first call also loads the models (the engine's and the
    page-direction model every OCR'd page goes through) for the calling thread, so a worker
    can load them before its first page.
    """
    if name not in ENGINES:
        raise ValueError(_("unknown OCR engine %(name)s; valid engines: %(engines)s", name=repr(name),
                           engines=", ".join(ENGINES)))
    key = (name, detection_side, threads) if name == "rapidocr" else (name, 0, 0)
    with _lock:
        if key not in _engines:
            _engines[key] = (RapidOcrEngine(detection_side, threads) if name == "rapidocr"
                             else TesseractEngine())
            load_models()
        return _engines[key]
