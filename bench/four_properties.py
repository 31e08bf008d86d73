"""四性检测 benchmark: the report over N customer files against a plain fixity pass over the same originals.

    .venv/bin/python bench/four_properties.py [--customers 50] [--documents 4] [--workdir /tmp/docsvc-bench-four]

Seeds --customers files of --documents filed documents each, every document a two-page image PDF
(A4 drawn at 200 dpi, greyscale, with text, as a scanner writes it) with its intake record, pages and
page images, in the embedded default (SQLite, local store). Then, in the order baseline, report,
baseline, report (the second pair reported: the page cache is warm for both):

  baseline   fixity.run(budget_bytes=None, rate_bytes_s=None): every original re-read and hashed
  report     four_properties.run(recompute=True): the same hashing plus every other check, each
             original identified and its first page decoded
  report -p  the same with all_pages=True (every page decoded)

Nothing here asserts.
"""
from __future__ import annotations

import argparse
import io
import shutil
import sys
import time
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from docsvc import db as dbmod  # noqa: E402
from docsvc.config import Settings  # noqa: E402
from docsvc.constants import page_image_key, page_thumb_key  # noqa: E402
from docsvc.files import four_properties  # noqa: E402
from docsvc.formats.sheets import cjk_font  # noqa: E402
from docsvc.governance import fixity  # noqa: E402
from docsvc.models import Batch, BatchFile, Customer, Document, Page, utcnow  # noqa: E402
from docsvc.runtime import Runtime, build_runtime  # noqa: E402
import workers  # noqa: E402

workers.wire()  # this script is an entry point: it hands runtimes their job queues


def scan_pdf(n: int) -> bytes:
    pages = []
    for side in range(2):
        page = Image.new("L", (1654, 2339), 250)
        draw = ImageDraw.Draw(page)
        font = cjk_font(40)
        for line in range(30):
            draw.text((120, 150 + line * 70), f"供用电合同 第 {n} 号 第 {side + 1} 页 第 {line + 1} 行 户号 3{n:09d}", font=font, fill=20)
        pages.append(page)
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=200)
    return out.getvalue()


def seed(rt: Runtime, customers: int, documents: int) -> int:
    total = 0
    with rt.sessions() as session:
        batch = Batch(source="cli")
        session.add(batch)
        session.flush()
        for c in range(customers):
            customer = Customer(account=f"3{c:09d}", name=f"客户 {c}")
            session.add(customer)
            session.flush()
            for d in range(documents):
                n = c * documents + d
                stored, _ = rt.store.put_original(io.BytesIO(scan_pdf(n)), "application/pdf")
                bf = BatchFile(batch_id=batch.id, position=n, filename=f"{n}.pdf", size=stored.size,
                               sha256=stored.sha256, original_key=stored.key, status="done")
                session.add(bf)
                session.flush()
                doc = Document(batch_file_id=bf.id, sha256=stored.sha256, original_key=stored.key,
                               media_type="application/pdf", title=f"供用电合同 {n}", customer_id=customer.id,
                               customer_account=customer.account, doc_type="HT", doc_date=date(2020, 1, 1),
                               retention="Y", reference_code=f"J001-KH·2020-Y-YX-{n + 1:04d}", page_count=2,
                               filed_at=utcnow())
                session.add(doc)
                session.flush()
                for number in (1, 2):
                    page = Page(document_id=doc.id, number=number, source_index=number - 1, status="done",
                                text="供用电合同")
                    session.add(page)
                    session.flush()
                    page.image_key, page.thumb_key = page_image_key(page.id, "png"), page_thumb_key(page.id)
                    rt.store.put_bytes(page.image_key, b"x")
                    rt.store.put_bytes(page.thumb_key, b"x")
                total += stored.size
        session.commit()
    return total


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--documents", type=int, default=4)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/docsvc-bench-four"))
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    rt = build_runtime(Settings.from_env({"DOCSVC_SECRET_KEY": "bench", "DOCSVC_WORKERS": "1",
                                          "DOCSVC_DATA_DIR": str(args.workdir)}))
    dbmod.upgrade(rt.engine)
    size = seed(rt, args.customers, args.documents)
    originals = args.customers * args.documents

    def baseline() -> None:
        with rt.sessions() as session:
            fixity.run(session, rt.store, budget_bytes=None, rate_bytes_s=None)

    def report(all_pages: bool) -> None:
        with rt.sessions() as session:
            four_properties.run(session, rt.store, rt.settings.filing, None, recompute=True, all_pages=all_pages)

    for _ in range(2):
        base = timed(baseline)
        first = timed(lambda: report(False))
        every = timed(lambda: report(True))
    print(f"{args.customers} customer files, {originals} originals ({size / fixity.MB:.1f} MB, 2 pages each)")
    print("| run | seconds | originals/s | ÷ fixity |")
    print("|---|---|---|---|")
    for name, took in (("fixity.run (baseline)", base), ("four_properties.run, first page", first),
                       ("four_properties.run, every page", every)):
        print(f"| {name} | {took:.2f} | {originals / took:.0f} | {took / base:.2f}× |")
    rt.close()


if __name__ == "__main__":
    main()
