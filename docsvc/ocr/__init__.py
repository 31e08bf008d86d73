"""OCR of page images: orientation and skew, then text with a box and confidence per word."""

from docsvc.ocr.engines import ENGINES, get_engine
from docsvc.ocr.interface import OcrEngine, OcrError, OcrResult, Word
from docsvc.ocr.orientation import Normalised, deskew_angle, detect_rotation, normalise, reapply

__all__ = [
    "ENGINES",
    "Normalised",
    "OcrEngine",
    "OcrError",
    "OcrResult",
    "Word",
    "deskew_angle",
    "detect_rotation",
    "get_engine",
    "normalise",
    "reapply",
]
