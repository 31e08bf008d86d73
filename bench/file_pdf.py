"""Customer-file PDF benchmark: how long one PDF of a whole file takes to build, and its memory.

    .venv/bin/python bench/file_pdf.py [--pages 200] [--pages-per-document 4] [--db sqlite|postgresql]

Builds a customer file of N pages as the page jobs leave it: A4 pages rendered at 300 dpi from the
sample form texts, half bitonal (stored as PNG) and half clean colour scans (JPEG), as `recognition.encode_image`
stores them, each with a words JSON of one box per character (~800 a page, as RapidOCR gives on a
form). Then, in a child process each (so its peak RSS is its own), the export end to end as the
route runs it: `filepdf.plan_export` + `write_pdf` into a temporary file, for a file of N pages and
one of N/4 pages, to show that memory does not grow with the file. Local object store; the database
is SQLite in the data dir, or a scratch PostgreSQL schema in db `test`. Nothing here asserts.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from docsvc import db as dbmod  # noqa: E402
from docsvc.config import FilingSettings, Settings  # noqa: E402
from docsvc.constants import JobState, TextSource, page_image_key, page_words_key  # noqa: E402
from docsvc.models import Document, DocumentType, Page  # noqa: E402
from docsvc.runtime import build_runtime  # noqa: E402
import workers  # noqa: E402
from docsvc.files.customers import AccountRule, create_customer  # noqa: E402
from docsvc.files.filing import file_document  # noqa: E402
from scratch import scratch_schema  # noqa: E402

workers.wire()  # this script is an entry point: it hands runtimes their job queues

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DPI = 300
DISTINCT_PAGES = 8  # rendered once each, stored under every page's own key
TYPES = ["SQ", "HT", "SJ", "JL", "JC", "BG"]


def settings(data_dir: Path, database_url: str) -> Settings:
    return Settings.from_env({"DOCSVC_DATA_DIR": str(data_dir), "DOCSVC_DATABASE_URL": database_url,
                              "DOCSVC_SECRET_KEY": "bench"})


def page_objects() -> list[tuple[bytes, bytes]]:
    """(image, words JSON) of DISTINCT_PAGES pages: one box per character on a grid of lines."""
    # Imported here, not at the top: the child processes that build the PDF should load what the
    # web process loads, not the OCR stack behind the page job.
    from tests.samples import form_text, render_page
    from docsvc.pipeline.recognition import encode_image

    made = []
    for seed in range(DISTINCT_PAGES):
        image = render_page(form_text(seed), dpi=DPI, variant="bitonal" if seed % 2 else "clean", seed=seed)
        data, _ext, _type = encode_image(image)
        chars = [c for c in form_text(seed) if not c.isspace()]
        pitch, line = 40, 60
        words = [{"text": c, "box": [200 + (i % 50) * pitch, 300 + (i // 50) * line,
                                     200 + (i % 50) * pitch + 36, 300 + (i // 50) * line + 40], "conf": 0.98}
                 for i, c in enumerate(chars)]
        doc = {"width": image.width, "height": image.height, "source": "ocr", "words": words}
        made.append((data, json.dumps(doc, ensure_ascii=False).encode()))
    return made


def make_file(rt, account: str, pages: int, per_document: int, objects: list[tuple[bytes, bytes]]) -> None:  # type: ignore[no-untyped-def]
    with rt.sessions() as s:
        customer = create_customer(s, None, AccountRule(r"^\d{10}$"), account, {"name": "宏达机械制造有限公司"})
        n = 0
        while n < pages:
            count = min(per_document, pages - n)
            d = Document(sha256=uuid.uuid4().hex * 2, original_key=f"originals/{uuid.uuid4().hex}",
                         media_type="image/tiff", title=f"{account} 文档 {n // per_document + 1}", page_count=count)
            s.add(d)
            s.flush()
            for number in range(1, count + 1):
                image, words = objects[n % len(objects)]
                page = Page(document_id=d.id, number=number, source_index=number - 1, status=JobState.DONE,
                            source=TextSource.OCR)
                s.add(page)
                s.flush()
                ext = "png" if image.startswith(b"\x89PNG") else "jpg"
                page.image_key = rt.store.put_bytes(page_image_key(page.id, ext), image).key
                page.words_key = rt.store.put_bytes(page_words_key(page.id), words).key
                n += 1
            file_document(s, None, d, customer, s.get(DocumentType, TYPES[n % len(TYPES)]), FilingSettings())
        s.commit()


def build(data_dir: str, database_url: str, account: str) -> dict[str, float]:
    """In a child process: the export as the route runs it, timed; peak RSS of this process."""
    from docsvc.models import User
    from docsvc.files import filepdf
    from docsvc.files.customers import get_customer

    rt = build_runtime(settings(Path(data_dir), database_url))
    rss_before = _vm("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # Linux: the peak (VmHWM) starts again from here
    started, cpu = time.perf_counter(), time.process_time()
    with rt.sessions() as s, tempfile.TemporaryFile() as out:
        archivist = User(username="bench", roles="archivist", grants="", active=True)
        export = filepdf.plan_export(s, archivist, get_customer(s, account))
        pages = filepdf.write_pdf(export, rt.store, out, exported_by="bench", ocr_dpi=DPI)
        size = out.tell()
    seconds = time.perf_counter() - started
    rt.close()
    return {"pages": pages, "seconds": seconds, "cpu": time.process_time() - cpu, "mb": size / 1e6,
            "rss_before_mb": rss_before, "rss_peak_mb": _vm("VmHWM")}


def _vm(field: str) -> float:
    """A memory figure of this process from /proc, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--pages-per-document", type=int, default=4)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as scratch:
        data_dir = Path(tmp) / "var"
        url = (scratch.enter_context(scratch_schema(PG)) if args.db == "postgresql"
               else f"sqlite:///{data_dir / 'docsvc.db'}")
        data_dir.mkdir(parents=True)
        rt = build_runtime(settings(data_dir, url))
        dbmod.upgrade(rt.engine)
        t0 = time.perf_counter()
        objects = page_objects()
        small = max(1, args.pages // 4)
        make_file(rt, "3000000001", args.pages, args.pages_per_document, objects)
        make_file(rt, "3000000002", small, args.pages_per_document, objects)
        rt.close()
        sizes = sorted(len(image) for image, _ in objects)
        print(f"setup {time.perf_counter() - t0:.1f} s; stored page images {sizes[0] // 1000}–{sizes[-1] // 1000} KB")
        spawn = multiprocessing.get_context("spawn")
        for account, pages in (("3000000002", small), ("3000000001", args.pages)):
            with spawn.Pool(1) as pool:
                r = pool.apply(build, (str(data_dir), url, account))
            print(f"{pages:5d} pages → {r['pages']:.0f} PDF pages, {r['mb']:.1f} MB: {r['seconds']:.2f} s "
                  f"({r['pages'] / r['seconds']:.0f} pages/s, CPU {r['cpu']:.2f} s); peak RSS "
                  f"{r['rss_peak_mb']:.0f} MB (RSS before the build {r['rss_before_mb']:.0f} MB)")

if __name__ == "__main__":
    main()
