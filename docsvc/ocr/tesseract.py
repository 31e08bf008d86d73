"""Tesseract (chi_sim+eng) through pytesseract, the selectable second engine.

The page goes to tesseract as an uncompressed BMP file (pytesseract would otherwise write a PNG,
which costs more to compress than to read), and tesseract runs with OMP_THREAD_LIMIT=1: its
OpenMP threads fighting parallel workers made it five times slower.
"""

from __future__ import annotations

import os
import tempfile

import pytesseract
from PIL import Image

from docsvc.ocr.interface import OcrError, OcrResult
from docsvc.ocr.layout import reading_text, split_word
from docsvc.i18n import _

DEFAULT_LANGUAGES = "chi_sim+eng"
DEFAULT_DPI = 300
# A page that takes longer than this is a stuck process, not a slow page.
TIMEOUT_SECONDS = 300


class TesseractEngine:
    name = "tesseract"

    def __init__(self, languages: str = DEFAULT_LANGUAGES) -> None:
        # pytesseract's child processes inherit this process's environment; one thread each.
        os.environ["OMP_THREAD_LIMIT"] = "1"
        self._languages = languages
        self.models = f"tessdata {languages}"
        try:
            self.version = f"tesseract {pytesseract.get_tesseract_version()} {languages}"
            installed = set(pytesseract.get_languages(config=""))
        except pytesseract.TesseractNotFoundError as exc:
            raise OcrError(_("The tesseract program is not installed; install tesseract-ocr and retry.")) from exc
        missing = set(languages.split("+")) - installed
        if missing:
            raise OcrError(_("tesseract lacks the language data %(languages)s and cannot read pages; install the "
                             "matching tesseract-ocr-<language> packages and retry.",
                             languages=", ".join(sorted(missing))))

    def recognise(self, image: Image.Image) -> OcrResult:
        grey = image if image.mode == "L" else image.convert("L")
        dpi = round(image.info.get("dpi", (DEFAULT_DPI,))[0]) or DEFAULT_DPI
        with tempfile.NamedTemporaryFile(suffix=".bmp") as file:
            grey.save(file, "BMP")
            file.flush()
            try:
                data = pytesseract.image_to_data(
                    file.name, lang=self._languages, output_type=pytesseract.Output.DICT,
                    config=f"--dpi {dpi} -c preserve_interword_spaces=1", timeout=TIMEOUT_SECONDS)
            except RuntimeError as exc:  # pytesseract's time-out
                raise OcrError(_("tesseract took over %(seconds)s s and was stopped; retry the page, and if it fails "
                                 "again check the scanned image.", seconds=TIMEOUT_SECONDS)) from exc
            except pytesseract.TesseractError as exc:
                raise OcrError(_("tesseract failed: %(error)s; check that tesseract-ocr and its Chinese language "
                                 "data are installed, then retry.", error=exc.message)) from exc
        pieces = []
        for level, text, conf, left, top, width, height in zip(
                data["level"], data["text"], data["conf"], data["left"], data["top"], data["width"], data["height"]):
            text = str(text).strip()
            if int(level) != 5 or not text or float(conf) < 0:
                continue
            box = (int(left), int(top), int(left) + int(width), int(top) + int(height))
            pieces.append(split_word(text, box, min(1.0, float(conf) / 100)))
        text, words = reading_text(pieces)
        confidence = sum(w.confidence for w in words) / len(words) if words else None
        return OcrResult(text, words, confidence, self.name, self.version, self.models, pieces)
