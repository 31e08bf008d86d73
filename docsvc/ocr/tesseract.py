"""Tesseract (chi_sim+eng), the selectable second engine.

The tesseract program is run directly rather than through pytesseract: that way each run gets
OMP_THREAD_LIMIT=1 in its own environment (tesseract's OpenMP threads fighting parallel
workers made it five times slower) and the page is piped in as an uncompressed BMP, with no
temporary files and no PNG compression.
"""

from __future__ import annotations

import csv
import io
import subprocess

from PIL import Image

from docsvc.ocr.interface import OcrError, OcrResult
from docsvc.ocr.layout import reading_text, split_word

DEFAULT_LANGUAGES = "chi_sim+eng"
DEFAULT_DPI = 300
# A page that takes longer than this is a stuck process, not a slow page.
TIMEOUT_SECONDS = 300
# `env` sets the variable for the one child process without touching this process's environment.
_SINGLE_THREADED = ("env", "OMP_THREAD_LIMIT=1")


class TesseractEngine:
    name = "tesseract"

    def __init__(self, languages: str = DEFAULT_LANGUAGES, command: str = "tesseract") -> None:
        self._languages = languages
        self._command = command
        self.version = f"{self._program_version()} {languages}"
        missing = set(languages.split("+")) - set(self._installed_languages())
        if missing:
            raise OcrError(
                f"tesseract 缺少语言包 {', '.join(sorted(missing))}，无法识别页面；请安装对应的 "
                f"tesseract-ocr-<语言> 软件包后重试。 / tesseract lacks the language data "
                f"{', '.join(sorted(missing))}; install the tesseract-ocr language packages and retry."
            )

    def recognise(self, image: Image.Image) -> OcrResult:
        grey = image if image.mode == "L" else image.convert("L")
        bitmap = io.BytesIO()
        grey.save(bitmap, "BMP")
        dpi = round(image.info.get("dpi", (DEFAULT_DPI,))[0]) or DEFAULT_DPI
        tsv = self._run(["stdin", "stdout", "-l", self._languages, "--dpi", str(dpi), "tsv"],
                        bitmap.getvalue())
        pieces = []
        for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
            text = (row["text"] or "").strip()
            if row["level"] != "5" or not text or float(row["conf"]) < 0:
                continue
            left, top = int(row["left"]), int(row["top"])
            box = (left, top, left + int(row["width"]), top + int(row["height"]))
            pieces.append(split_word(text, box, min(1.0, float(row["conf"]) / 100)))
        text, words = reading_text(pieces)
        confidence = sum(w.confidence for w in words) / len(words) if words else None
        return OcrResult(text, words, confidence, self.name, self.version)

    def _program_version(self) -> str:
        # First line of `tesseract --version`, e.g. "tesseract 5.3.0".
        return self._run(["--version"]).splitlines()[0].strip()

    def _installed_languages(self) -> list[str]:
        # `--list-langs` prints a header line, then one language per line.
        return [line.strip() for line in self._run(["--list-langs"]).splitlines()[1:]]

    def _run(self, arguments: list[str], stdin: bytes = b"") -> str:
        try:
            done = subprocess.run([*_SINGLE_THREADED, self._command, *arguments], input=stdin,
                                  capture_output=True, timeout=TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired as exc:
            raise OcrError(
                f"tesseract 识别超过 {TIMEOUT_SECONDS} 秒未完成，已中止；请重试该页，若仍失败请检查扫描图像。 / "
                f"tesseract took over {TIMEOUT_SECONDS} s and was stopped; retry the page."
            ) from exc
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip()[-300:]
            raise OcrError(
                f"tesseract 运行失败（退出码 {done.returncode}）：{detail}；请确认已安装 tesseract-ocr "
                f"及中文语言包后重试。 / tesseract failed (exit {done.returncode}): {detail}; check the "
                f"tesseract-ocr installation and retry."
            )
        return done.stdout.decode("utf-8", errors="replace")
