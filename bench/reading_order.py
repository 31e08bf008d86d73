"""Reading-order benchmark: CER and line order of RapidOCR's stored text on generated pages laid out
in columns and tables, before and after the reading-order work of issue 12 (points 2 and 3).

    .venv/bin/python bench/reading_order.py [--before b1fa6d6]

Pages (tests/samples.py, rendered here): a two-column Chinese contract page with title and footer,
a linn-style English sheet (long lines across the page, then two columns), a bordered inspection
form (label | value rows), a meter work order (header, four cells a row, a two-line cell, footer)
and an unruled list of readings; then three ordinary single-column pages (a contract, an
application, an inspection sheet: `form_text` rendered clean, noisy and JPEG), which must read as
before. Every page is stood upright as the pipeline does (`normalise`), then read by RapidOCR
(one onnxruntime thread) twice: with its per-line direction classifier (as before) and without (as
now). Each reading is laid out twice: by `docsvc/ocr/layout.py` as it was at --before (loaded from
git into this process only) and as it is now. So "before" = classifier + old layout, "after" = the
product today, and the two rows between show what each change did.

Figures per page and configuration:
  CER         character error rate against the rendered text (whitespace ignored, NFKC).
  line order  expected lines read whole and in order: each line read is matched to the expected
              line it is most like (≥ 0.85 similar, spaces and tabs ignored); the longest run of
              matched lines in increasing order, over the number of expected lines. A line lost,
              or two lines joined into one (columns mixed), counts against it.
  cells       table pages: table rows read exactly with their cells separated by a tab.
  as before   single-column pages: the new layout's text equals the old one's, tabs read as spaces
              (their rendered lines wrap, so no line order is computed for them).
Benchmarks are not tests: nothing here asserts; the figures are printed for a human to judge.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
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
from rapidocr_onnxruntime import RapidOCR  # noqa: E402

from docsvc.ocr import Word, normalise  # noqa: E402
from docsvc.ocr import layout as layout_now  # noqa: E402
from docsvc.ocr.rapid import _segment_words  # noqa: E402
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


def layout_at(commit: str) -> Layout:
    """reading_text of docsvc/ocr/layout.py as it was at `commit`, as a module of this process only."""
    source = subprocess.run(["git", "show", f"{commit}:docsvc/ocr/layout.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(f"layout_{commit}")
    exec(compile(source, f"layout.py@{commit}", "exec"), module.__dict__)
    return module.reading_text


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
    parser.add_argument("--before", default="b1fa6d6", help="commit whose layout.py is 'before'")
    args = parser.parse_args()
    layouts = {"old layout": layout_at(args.before), "new layout": layout_now.reading_text}
    model = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
    rows: list[tuple[str, str, float, float, tuple[int, int]]] = []
    for name, scan, expected in pages():
        upright = np.asarray(normalise(scan).image.convert("RGB"))
        reference = "\n".join(expected)
        for classifier in (True, False):
            segments, _ = model(upright, use_cls=classifier, return_word_box=True)
            pieces = [_segment_words(segment) for segment in segments or []]
            texts = {}
            for layout_name, reading_text in layouts.items():
                text, _ = reading_text(pieces)
                texts[layout_name] = text
                config = f"{'classifier' if classifier else 'no classifier'} + {layout_name}"
                if name.startswith("single column"):
                    same = texts["old layout"] == text.replace("\t", " ")
                    print(f"{name:32} {config:30} CER {char_error_rate(reference, text):6.1%}  "
                          f"as before {same}", flush=True)
                    continue
                row = (name, config, char_error_rate(reference, text), line_order(text, expected),
                       cells_apart(text, expected))
                rows.append(row)
                print(f"{name:32} {config:30} CER {row[2]:6.1%}  line order {row[3]:6.1%}  "
                      f"cells {row[4][0]}/{row[4][1]}", flush=True)
    print("\nmean over the column and table pages:")
    for config in dict.fromkeys(config for _, config, *_ in rows):
        mine = [r for r in rows if r[1] == config]
        cells = (sum(r[4][0] for r in mine), sum(r[4][1] for r in mine))
        print(f"{config:30} CER {np.mean([r[2] for r in mine]):6.2%}  line order {np.mean([r[3] for r in mine]):6.1%}"
              f"  table rows with cells apart {cells[0]}/{cells[1]}")


if __name__ == "__main__":
    main()
