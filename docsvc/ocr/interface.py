"""What every OCR engine gives back, whichever engine read the page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from PIL import Image


@dataclass(frozen=True)
class Word:
    """A Latin/digit word or a single CJK character (or CJK punctuation mark)."""

    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels of the image given to recognise()
    confidence: float  # 0..1


@dataclass(frozen=True)
class OcrResult:
    text: str  # reading text: lines joined by "\n", no spaces between CJK characters
    words: list[Word]  # in reading order
    confidence: float | None  # mean word confidence, None when nothing was read
    engine: str  # "rapidocr" | "tesseract"
    engine_version: str  # e.g. "rapidocr_onnxruntime 1.4.4", "tesseract 5.3.0 chi_sim+eng"
    models: str  # the models that read it, e.g. "ch_PP-OCRv4_det_infer+ch_PP-OCRv4_rec_infer"
    # What the engine handed to layout (docsvc.ocr.layout.reading_text), kept so that a new layout can
    # be run again over the same pieces without reading the image (docsvc.pipeline.reread).
    pieces: list[list[Word]]


class OcrEngine(Protocol):
    name: str
    version: str
    models: str

    def recognise(self, image: Image.Image) -> OcrResult: ...


class OcrError(RuntimeError):
    """The engine itself failed (missing program or language, crash, time-out), not the page."""
