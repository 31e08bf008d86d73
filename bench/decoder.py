"""What reading files in the decoder process costs: pages read through it against the same pages read
in this process (the baseline), in the same run.

    .venv/bin/python bench/decoder.py [--pages 200]

A text-layer PDF of N pages (the billing export case: the fastest pages the pipeline has, so the
process boundary weighs most) and a bitonal TIFF page rendered for OCR (the scanned case): each page
as the page job reads it (`decoder.read_page`: text layer and 150 dpi view image, or the 300 dpi OCR
image), once with `DOCSVC_JOB_MEMORY_MB=0` (in process) and once through a warm decoder process
(2048 MB). The decoder's one-off start is measured on its own. Nothing here asserts.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from docsvc.constants import VIEW_DPI_TEXT_LAYER  # noqa: E402
from docsvc.formats import decoder  # noqa: E402
from tests.samples import form_text  # noqa: E402
from tests.scans import tiff_bytes  # noqa: E402
from tests.testdata import make_text_pdf  # noqa: E402

IN_PROCESS = decoder.Limits(0, 0)
ISOLATED = decoder.Limits(2048, 600)


def pages_per_second(path: Path, media_type: str, pages: int, limits: decoder.Limits) -> float:
    start = time.perf_counter()
    for index in range(pages):
        decoder.read_page(path, media_type, index, ocr_dpi=300, view_dpi=VIEW_DPI_TEXT_LAYER, limits=limits)
    return pages / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "export.pdf"
        make_text_pdf([form_text(n) for n in range(args.pages)], pdf)
        tif = Path(tmp) / "scan.tif"
        tif.write_bytes(tiff_bytes([1]))

        start = time.perf_counter()
        decoder.start(ISOLATED)
        print(f"decoder process start: {time.perf_counter() - start:.2f} s (once per worker, and after a limit)")
        for label, path, media_type, pages in (("text-layer PDF page", pdf, "application/pdf", args.pages),
                                               ("bitonal TIFF page, OCR image", tif, "image/tiff", 1)):
            repeat = max(1, 40 // pages)
            pages_per_second(path, media_type, pages, IN_PROCESS)  # warm: fonts, caches
            base = pages_per_second(path, media_type, pages, IN_PROCESS) if repeat == 1 else \
                sum(pages_per_second(path, media_type, pages, IN_PROCESS) for _ in range(repeat)) / repeat
            through = pages_per_second(path, media_type, pages, ISOLATED) if repeat == 1 else \
                sum(pages_per_second(path, media_type, pages, ISOLATED) for _ in range(repeat)) / repeat
            print(f"{label}: in process {base:.1f} pages/s, through the decoder {through:.1f} pages/s, "
                  f"ratio {through / base:.2f}")


if __name__ == "__main__":
    main()
