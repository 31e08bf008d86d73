"""The engines by name, built once per process and shared by every thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

from docsvc.ocr.orientation import load_models
from docsvc.ocr.interface import OcrEngine
from docsvc.ocr.rapid import RapidOcrEngine
from docsvc.ocr.tesseract import TesseractEngine

_BUILDERS: dict[str, Callable[[], OcrEngine]] = {
    "rapidocr": RapidOcrEngine,
    "tesseract": TesseractEngine,
}
ENGINES = tuple(_BUILDERS)

_engines: dict[str, OcrEngine] = {}
_lock = threading.Lock()


def get_engine(name: str) -> OcrEngine:
    """The engine called `name`; every call in the process gets the same, thread-safe object.

    The first call also loads the models (the engine's and the page-direction model every
    OCR'd page goes through) for the calling thread, so a worker can load them before its
    first page.
    """
    if name not in _BUILDERS:
        raise ValueError(
            f"未知的识别引擎 {name!r}，可用：{', '.join(ENGINES)} / "
            f"unknown OCR engine {name!r}; valid engines: {', '.join(ENGINES)}"
        )
    with _lock:
        if name not in _engines:
            _engines[name] = _BUILDERS[name]()
            load_models()
        return _engines[name]
