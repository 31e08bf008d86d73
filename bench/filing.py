"""Filing benchmark: importing the customer list, and splitting/filing a stack with cover sheets.

    .venv/bin/python bench/filing.py [--customers 50000] [--pages 500] [--db sqlite|postgresql]

  import  50,000 customers from a GBK CSV (as the marketing system exports it): read + validate +
          upsert in one transaction; then the same file again (every row unchanged) and once as XLSX.
          Target: < 30 s.
  suggest filing suggestions for 200 inbox documents against the imported customers, whose names and addresses
          were read with one wrong character (plus a labelled 户号 on a third of them): approximate matching
          (files.namematch) against the exact-only lookup suggestions used before, in the same run. Target: the
          approximate suggestion stays under 100 ms a document at 20,000 customers (`--customers 20000`).
  split   a 500-page multi-page TIFF (G4, 200 dpi, bitonal scans) of 100 documents, each behind a cover sheet printed
          by the product: the split job end to end (inspect, look for separators on every page,
          create documents and pages, file each one with its 档号), without OCR (page jobs are queued,
          not run). Target: >= 50 pages/s.
`--pages 0` skips the split. PostgreSQL runs in a schema of its own in db `test` (dropped afterwards). Nothing here asserts.
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
from sqlalchemy import select, text  # noqa: E402

from docsvc import db as dbmod  # noqa: E402
from docsvc.config import Settings  # noqa: E402
from docsvc.runtime import build_runtime  # noqa: E402
import workers  # noqa: E402
from tests.samples import form_text, render_page  # noqa: E402
from docsvc.files import customer_import  # noqa: E402
from docsvc.formats.coversheets import cover_image  # noqa: E402
from docsvc.files import suggestions  # noqa: E402
from docsvc.files.customers import AccountRule  # noqa: E402
from docsvc.models import Customer, Document  # noqa: E402
from tests.factories import add_document  # noqa: E402
from docsvc.pipeline.intake import Upload, receive  # noqa: E402
from docsvc.pipeline.jobstate import job_limits  # noqa: E402
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
    suggest_figure(rt, n_customers)
    if n_pages:
        split_figure(rt, settings, n_pages)
    rt.jobs.close()
    rt.engine.dispose()


def misread(name: str, rng: random.Random) -> str:
    """One Chinese character of `name` replaced, as OCR misreads one (never a digit: 户号 digits are exact)."""
    spots = [i for i, c in enumerate(name) if "\u4e00" <= c <= "\u9fff"]
    i = rng.choice(spots)
    return name[:i] + "同" + name[i + 1:]


def exact_only(session, document: Document) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    """The baseline: the lookups suggestions made before approximate matching (户号 and exact names by SQL)."""
    page_text = suggestions._text(document)
    found: dict[str, float] = {}
    accounts = set(suggestions._LABELLED_ACCOUNT.findall(page_text)) | set(suggestions._ACCOUNT.findall(page_text))
    for c in session.scalars(select(Customer).where(Customer.account.in_(accounts))):
        found[c.account] = suggestions.ACCOUNT_LABELLED
    names = set(suggestions._NAME.findall(page_text)) | set(suggestions._ORG_SUFFIX.findall(page_text))
    for c in session.scalars(select(Customer).where(Customer.name.in_(names))):
        found[c.account] = max(found.get(c.account, 0), suggestions.NAME)
    return sorted(found.items(), key=lambda item: -item[1])


def suggest_figure(rt, n_customers: int, n_documents: int = 200) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    picked = [rng.randrange(n_customers) for _ in range(n_documents)]
    with rt.sessions() as s:
        rows = {c.account: c for c in s.scalars(select(Customer).where(
            Customer.account.in_([str(3000000000 + i) for i in picked])))}
        ids = []
        for n, i in enumerate(picked):
            c = rows[str(3000000000 + i)]
            lines = ["用电申请书", f"户名：{misread(c.name, rng)}", f"用电地址：{misread(c.address or '', rng)}"]
            if n % 3 == 0:
                lines.insert(1, f"户号：{c.account}")
            ids.append(add_document(s, key=f"s{n}", texts=["\n".join(lines)]).id)
        s.commit()
    timings: dict[str, float] = {}
    right: dict[str, int] = {}
    for label, how in (("exact-only (before)", exact_only), ("approximate", suggestions.suggest)):
        with rt.sessions() as s:
            documents = [s.get(Document, i) for i in ids]
            for d in documents:   # load the pages outside the timing: both read the same text
                suggestions._text(d)
            started = time.perf_counter()
            answers = [how(s, d) for d in documents]
            timings[label] = (time.perf_counter() - started) / n_documents
        firsts = [(a[0][0] if isinstance(a[0], tuple) else a[0].account) if a else None for a in answers]
        right[label] = sum(first == str(3000000000 + i) for first, i in zip(firsts, picked))
    with rt.sessions() as s:   # the first suggestion of a process (or after CHOICES_TTL_S) reads the customer list
        document = s.get(Document, ids[0])
        suggestions._text(document)
        suggestions._choices.clear()
        started = time.perf_counter()
        suggestions.suggest(s, document)
        cold = time.perf_counter() - started
    print(f"  {'suggest, first (list read)':28} {cold * 1000:7.2f} ms, then reused for "
          f"{suggestions.CHOICES_TTL_S:.0f} s")
    base = timings["exact-only (before)"]
    for label, took in timings.items():
        print(f"  {'suggest, ' + label:28} {took * 1000:7.2f} ms/document ({took / base:5.1f}× exact-only) over "
              f"{n_customers} customers; right customer first: {right[label]}/{n_documents}")


def split_figure(rt, settings: Settings, n_pages: int) -> None:  # type: ignore[no-untyped-def]
    tiff, docs = stack_tiff(n_pages)
    with rt.sessions() as s:
        batch = receive(s, rt.store, rt.jobs, [Upload("stack.tif", io.BytesIO(tiff))], source="cli")
        bf_id = batch.files[0].id
    started = time.perf_counter()
    with rt.sessions() as s:
        split_file(s, rt.store, rt.jobs, bf_id, settings.filing, job_limits(settings))
    took = time.perf_counter() - started
    with rt.sessions() as s:
        filed = s.scalar(text("SELECT count(*) FROM documents WHERE filed_at IS NOT NULL"))
    print(f"  {'split + file (no OCR)':28} {n_pages} pages ({docs} cover sheets) in {took:6.2f} s = "
          f"{n_pages / took:6.1f} pages/s; documents filed: {filed}")


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
