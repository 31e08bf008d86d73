"""Reading-order benchmark: CER and line order of each engine's stored text on generated pages laid
out in columns and tables, before and after the reading-order work of issue 12 (points 2 and 3).

    .venv/bin/python bench/reading_order.py [--before b1fa6d6] [--engines rapidocr,tesseract]
    (bench/ingest.py --only r runs this script)

Pages (tests/samples.py, rendered here): a two-column Chinese contract page with title and footer,
a linn-style English sheet (long lines across the page, then two columns), a bordered inspection
form (label | value rows), a meter work order (header, four cells a row, a two-line cell, footer)
and an unruled list of readings; then three ordinary single-column pages (a contract, an
application, an inspection sheet: `form_text` rendered clean, noisy and JPEG), which must read as
before. Every page is stood upright as the pipeline does (`normalise`), then read, per engine, by
two engines:
  before  the engine module as it was at --before (docsvc/ocr/<engine>.py with that commit's
          interface.py and layout.py, loaded from git into this process only): for RapidOCR the
          library's defaults (per-line direction classifier, detection on the page capped at
          2000 px with its short side at least 736, recognition 6 lines a batch), one onnxruntime
          thread; tesseract chi_sim+eng as now.
  now     the product's engine as shipped: docsvc.ocr.engines.get_engine with the settings'
          defaults (RapidOCR: detection side 1280, no classifier, batch 1, one thread).
Each engine's output before layout (today's engines return it as OcrResult.pieces; the engine at
--before handed the same list to its reading_text, where it is taken) is laid out by layout.py as
it was at --before and as it is now. So per engine "before" = old engine + old layout (its own
stored text), "after" = the product today (OcrResult.text), and the two rows between show what
each change did.

Figures per page and configuration:
  CER         character error rate against the rendered text (whitespace ignored, NFKC).
  line order  expected lines read whole and in order: each line read is matched to the expected
              line it is most like (≥ 0.85 similar, spaces and tabs ignored); the longest run of
              matched lines in increasing order, over the number of expected lines. A line lost,
              or two lines joined into one (columns mixed), counts against it.
  cells       table pages: table rows read exactly with their cells separated by a tab.
  as before   single-column pages: the new layout's text equals the old one's on the same engine
              output, tabs read as spaces (their rendered lines wrap, so no line order is computed).
Benchmarks are not tests: nothing here asserts; the figures are printed for a human to judge.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
import types
import unicodedata
from bisect import bisect_left
from collections.abc import Callable
from difflib import SequenceMatcher
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from docsvc.ocr import Word, normalise  # noqa: E402
from docsvc.ocr import layout as layout_now  # noqa: E402
from docsvc.ocr.engines import ENGINES, get_engine  # noqa: E402
from tests.samples import (  # noqa: E402
    FORM_ROWS,
    FORM_TITLE,
    char_error_rate,
    form_text,
    render_bordered_form,
    render_page,
    render_product_sheet,
    render_reading_list,
    render_two_column_page,
    render_work_order,
)

Layout = Callable[[list[list[Word]]], tuple[str, list[Word]]]
# Where each engine was defined at --before: module under docsvc/ocr and class.
ENGINE_MODULES = {"rapidocr": ("rapid", "RapidOcrEngine"), "tesseract": ("tesseract", "TesseractEngine")}
# An engine's reading of an upright page: its stored text and what it handed to layout.
Reader = Callable[[Image.Image], tuple[str, list[list[Word]]]]


def pages() -> list[tuple[str, Image.Image, list[str]]]:
    def jpeg(data: bytes) -> Image.Image:
        return Image.open(io.BytesIO(data)).convert("RGB")

    contract, contract_lines = render_two_column_page(seed=3)
    sheet, sheet_lines = render_product_sheet()
    order, order_lines = render_work_order(seed=5)
    readings, reading_lines = render_reading_list(seed=2)
    form_lines = [FORM_TITLE, *(f"{label}\t{value}" for label, value in FORM_ROWS)]
    return [("two-column contract (zh)", contract, contract_lines),
            ("linn-style sheet (en)", sheet, sheet_lines),
            ("bordered form, 2 cells a row", jpeg(render_bordered_form(seed=12)), form_lines),
            ("work order, 4 cells a row", jpeg(order), order_lines),
            ("unruled reading list", jpeg(readings), reading_lines),
            *((f"single column: {form_text(seed).split(chr(10))[0]}, {variant}",
               render_page(form_text(seed), variant=variant, seed=seed), form_text(seed).split("\n"))
              for seed, variant in ((0, "clean"), (1, "noisy"), (5, "jpeg")))]


def modules_at(commit: str, names: list[str]) -> dict[str, types.ModuleType]:
    """The modules `names` (dotted, under docsvc/) as they were at `commit`, loaded from git into this
    process only, in order: each one's imports of an earlier one get the old one."""
    kept = {name: sys.modules.get(name) for name in names}
    loaded: dict[str, types.ModuleType] = {}
    try:
        for name in names:
            path = name.replace(".", "/") + ".py"
            source = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, check=True,
                                    capture_output=True, text=True).stdout
            module = loaded[name] = sys.modules[name] = types.ModuleType(name)
            exec(compile(source, f"{path}@{commit}", "exec"), module.__dict__)
    finally:
        for name, module in kept.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return loaded


def engines_at(commit: str, names: list[str]) -> tuple[Layout, dict[str, Reader]]:
    """layout.py's reading_text and the engines `names` as they were at `commit`. An engine of then
    returned no pieces; it handed them to its module's reading_text, where they are taken here."""
    old: dict[str, Reader] = {}
    layout: Layout | None = None
    for name in names:
        file, class_name = ENGINE_MODULES[name]
        modules = modules_at(commit, ["docsvc.ocr.interface", "docsvc.ocr.layout", f"docsvc.ocr.{file}"])
        layout = modules["docsvc.ocr.layout"].reading_text
        module = modules[f"docsvc.ocr.{file}"]
        old[name] = _taking_pieces(module, getattr(module, class_name)())
    assert layout is not None
    return layout, old


def _taking_pieces(module: types.ModuleType, engine: object) -> Reader:
    handed: list[list[list[Word]]] = []
    laid_out = module.reading_text

    def reading_text(pieces: list[list[Word]]) -> tuple[str, list[Word]]:
        handed.append(pieces)
        return laid_out(pieces)

    module.reading_text = reading_text

    def read(image: Image.Image) -> tuple[str, list[list[Word]]]:
        handed.clear()
        text = engine.recognise(image).text  # type: ignore[attr-defined]
        return text, handed[-1]
    return read


def engine_now(name: str) -> Reader:
    engine = get_engine(name)  # the settings' defaults: DOCSVC_OCR_DETECTION_SIDE, DOCSVC_OCR_THREADS

    def read(image: Image.Image) -> tuple[str, list[list[Word]]]:
        result = engine.recognise(image)
        return result.text, result.pieces
    return read


def _plain(line: str) -> str:
    return unicodedata.normalize("NFKC", line).replace(" ", "").replace("\t", "")


def line_order(text: str, expected: list[str]) -> float:
    wanted = [_plain(line) for line in expected]
    matched = []
    for line in (_plain(line) for line in text.split("\n")):
        if line:
            ratio, index = max((SequenceMatcher(None, line, w).ratio(), i) for i, w in enumerate(wanted))
            if ratio >= 0.85:
                matched.append(index)
    # longest strictly increasing subsequence: expected lines found whole, in order
    tails: list[int] = []
    for index in matched:
        at = bisect_left(tails, index)
        tails[at:at + 1] = [index]
    return len(tails) / len(expected)


def cells_apart(text: str, expected: list[str]) -> tuple[int, int]:
    read = {unicodedata.normalize("NFKC", line) for line in text.split("\n")}
    rows = [unicodedata.normalize("NFKC", line) for line in expected if "\t" in line]
    return sum(row in read for row in rows), len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="b1fa6d6", help="commit whose engines and layout.py are 'before'")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated, of " + ", ".join(ENGINES))
    args = parser.parse_args()
    names = args.engines.split(",")
    print(f"reading order, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    layout_then, engines_then = engines_at(args.before, names)
    layouts = {"old layout": layout_then, "new layout": layout_now.reading_text}
    readers = {name: {f"{name}@{args.before}": engines_then[name], f"{name} now": engine_now(name)} for name in names}
    rows: list[tuple[str, str, float, float, tuple[int, int]]] = []
    for name, scan, expected in pages():
        upright = normalise(scan).image
        reference = "\n".join(expected)
        for engine_name in names:
            for reader_name, read in readers[engine_name].items():
                stored, pieces = read(upright)
                texts = {}
                for layout_name, reading_text in layouts.items():
                    text, _ = reading_text(pieces)
                    texts[layout_name] = text
                    config = f"{reader_name} + {layout_name}"
                    # the engine's own text is its layout of the same pieces: then the old, now the new
                    expected_own = "old layout" if "@" in reader_name else "new layout"
                    if layout_name == expected_own and text != stored:
                        print(f"  ! {config}: the engine stored other text than this layout gives", flush=True)
                    if name.startswith("single column"):
                        same = texts["old layout"] == text.replace("\t", " ")
                        print(f"{name:44} {config:36} CER {char_error_rate(reference, text):6.1%}  "
                              f"as before {same}", flush=True)
                        continue
                    row = (name, config, char_error_rate(reference, text), line_order(text, expected),
                           cells_apart(text, expected))
                    rows.append(row)
                    print(f"{name:44} {config:36} CER {row[2]:6.1%}  line order {row[3]:6.1%}  "
                          f"cells {row[4][0]}/{row[4][1]}", flush=True)
    print("\nmean over the column and table pages:")
    for config in dict.fromkeys(config for _, config, *_ in rows):
        mine = [r for r in rows if r[1] == config]
        cells = (sum(r[4][0] for r in mine), sum(r[4][1] for r in mine))
        print(f"{config:36} CER {np.mean([r[2] for r in mine]):6.2%}  line order {np.mean([r[3] for r in mine]):6.1%}"
              f"  table rows with cells apart {cells[0]}/{cells[1]}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
