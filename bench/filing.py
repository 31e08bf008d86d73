"""Filing benchmark: importing the customer list, and splitting/filing a stack with cover sheets.

    .venv/bin/python bench/filing.py [--customers 50000] [--pages 500] [--db sqlite|postgresql]

  import  50,000 customers from a GBK CSV (as the marketing system exports it): read + validate +
          upsert in one transaction; then the same file again (every row unchanged) and once as XLSX.
          Target: < 30 s.
  split   a 500-page multi-page TIFF (G4, 200 dpi, bitonal scans) of 100 documents, each behind a cover sheet printed
          by the product: the split job end to end (inspect, look for separators on every page,
          create documents and pages, file each one with its 档号), without OCR (page jobs are queued,
          not run). Target: >= 50 pages/s.
PostgreSQL runs in a schema of its own in db `test` (dropped afterwards). Nothing here asserts.
"""
from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from sqlalchemy import text  # noqa: E402

from docsvc import db as dbmod  # noqa: E402
from docsvc.config import Settings  # noqa: E402
from docsvc.runtime import build_runtime  # noqa: E402
import workers  # noqa: E402
from tests.samples import form_text, render_page  # noqa: E402
from docsvc.files import customer_import  # noqa: E402
from docsvc.formats.coversheets import cover_image  # noqa: E402
from docsvc.files.customers import AccountRule  # noqa: E402
from docsvc.pipeline.intake import Upload, receive  # noqa: E402
from docsvc.pipeline.splitting import split_file  # noqa: E402
from scratch import scratch_schema  # noqa: E402

workers.wire()  # this script is an entry point: it hands runtimes their job queues

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DPI = 200
TYPES = ["SQ", "ZJ", "HT", "SJ", "JL", "JC", "BG"]


def customers_csv(n: int) -> bytes:
    rng = random.Random(5)
    lines = ["户号,户名,用电地址,联系电话,用电类别,电压等级,档案等级,区域,行业,业务环节,状态,销户日期,档案位置"]
    for i in range(n):
        closed = rng.random() < 0.05
        lines.append(f"{3000000000 + i},客户{i}号有限公司,城东区人民路{i % 900}号,1{rng.randrange(10**10):010d},"
                     f"大工业用电,{rng.choice(['10kV', '0.4kV'])},{rng.choice(['一级', '二级', '三级'])},"
                     f"{rng.choice(['城东', '城西', '高新'])},制造业,{rng.choice(['contract', 'operation'])},"
                     f"{'销户' if closed else '在用'},{'2023-06-30' if closed else ''},{i // 400}号柜")
    return ("\n".join(lines) + "\n").encode("gbk")


def as_xlsx(csv_bytes: bytes) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for line in csv_bytes.decode("gbk").splitlines():
        sheet.append(line.split(","))
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def stack_tiff(pages: int) -> tuple[bytes, int]:
    docs = pages // 5
    content = [render_page(form_text(s), dpi=DPI, variant="bitonal", seed=s).convert("1") for s in range(8)]
    frames: list[Image.Image] = []
    for d in range(docs):
        frames.append(cover_image(str(3000000000 + d), TYPES[d % len(TYPES)], dpi=DPI).convert("1"))
        frames.extend(content[(d + k) % len(content)] for k in range(4))
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:], compression="group4", dpi=(DPI, DPI))
    return buf.getvalue(), docs


def run(database_url: str, data_dir: Path, n_customers: int, n_pages: int) -> None:
    settings = Settings.from_env({"DOCSVC_DATA_DIR": str(data_dir), "DOCSVC_DATABASE_URL": database_url,
                                  "DOCSVC_SECRET_KEY": "bench"})
    rt = build_runtime(settings)
    dbmod.upgrade(rt.engine)
    rule = AccountRule(settings.filing.account_pattern)
    data = customers_csv(n_customers)
    for label, payload, name in (("import (new)", data, "list.csv"), ("import (again, unchanged)", data, "list.csv"),
                                 ("import (XLSX, unchanged)", as_xlsx(data), "list.xlsx")):
        started = time.perf_counter()
        with rt.sessions() as s:
            table = customer_import.read_table(payload, name)
            report = customer_import.run_import(s, None, table, customer_import.guess_mapping(table.headers), rule,
                                                dry_run=False, source_name=name)
        took = time.perf_counter() - started
        print(f"  {label:28} {n_customers} rows in {took:6.2f} s  (created {report.created}, "
              f"unchanged {report.unchanged}, rejected {report.rejected})")
    tiff, docs = stack_tiff(n_pages)
    with rt.sessions() as s:
        batch = receive(s, rt.store, rt.jobs, [Upload("stack.tif", io.BytesIO(tiff))], source="cli")
        bf_id = batch.files[0].id
    started = time.perf_counter()
    with rt.sessions() as s:
        split_file(s, rt.store, rt.jobs, bf_id, settings.filing)
    took = time.perf_counter() - started
    with rt.sessions() as s:
        filed = s.scalar(text("SELECT count(*) FROM documents WHERE filed_at IS NOT NULL"))
    print(f"  {'split + file (no OCR)':28} {n_pages} pages ({docs} cover sheets) in {took:6.2f} s = "
          f"{n_pages / took:6.1f} pages/s; documents filed: {filed}")
    rt.jobs.close()
    rt.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    for kind in args.db.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{kind}:")
            if kind == "sqlite":
                run(f"sqlite:///{tmp}/bench.sqlite3", Path(tmp) / "var", args.customers, args.pages)
                continue
            with scratch_schema(PG) as url:
                run(url, Path(tmp) / "var", args.customers, args.pages)


if __name__ == "__main__":
    main()
