"""Destruction benchmark: erasing pages with verification, and expunging pages from a large index.

    .venv/bin/python bench/destruction.py [--pages 10000] [--index-pages 100000] [--procs 2]
                                          [--workdir /tmp/docsvc-bench-destroy] [--db sqlite|postgresql]

  erase    a supervised list of documents (10 pages each) executed by disposition.execute, the job
           body: plan, objects (original + image, thumbnail, words per page) deleted, index entries
           deleted, page rows deleted with the stub, index segments rewritten, database vacuumed,
           every removal verified, register written. Baseline in the same run: plain store.delete
           of the same number of objects, nothing else (no index, database or verification).
  expunge  an index of --index-pages synthetic pages (bench/search.py's corpus), then 10,000 pages
           removed physically (SearchIndex.expunge_pages: delete + rewrite the segments that held
           them): the oldest 10,000 (contiguous, as a yearly list is) and 10,000 scattered. Baseline:
           Whoosh's logical deletion of 10,000 other scattered pages (delete_pages: marks only).
The issue asks for a 1,000,000-page index; building one takes ~40 min on this machine, so the
default is 100,000 (the expunge cost follows the segments touched, not the index size: see
docs/benchmarks.md). Nothing here asserts.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
from datetime import date
from zoneinfo import ZoneInfo
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import insert  # noqa: E402

from docsvc import db as dbmod  # noqa: E402
from docsvc.config import Settings  # noqa: E402
from docsvc.constants import RetentionStatus  # noqa: E402
from docsvc.governance import disposition  # noqa: E402
from docsvc.governance.accounts import create_user  # noqa: E402
from workers.queues import InProcessJobQueue  # noqa: E402
from docsvc.models import Document, Page  # noqa: E402
from docsvc.pipeline.indexing import page_record  # noqa: E402
from docsvc.runtime import build_runtime  # noqa: E402
from docsvc.search import SearchIndex  # noqa: E402
from scratch import scratch_schema  # noqa: E402
from search import Corpus  # noqa: E402
import workers  # noqa: E402

workers.wire()  # this script is an entry point: it hands runtimes their job queues

PAGES_PER_DOCUMENT = 10
IMAGE, THUMB, WORDS, ORIGINAL = 24_000, 4_000, 2_000, 60_000  # bytes, about a compressed bitonal page
EXPUNGE = 10_000
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _seed_documents(rt, pages: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Filed, due documents with their objects and text, as the pipeline leaves them (faster)."""
    corpus = Corpus(pages, seed=11).pages()
    ids = []
    with rt.sessions() as s:
        for n in range(pages // PAGES_PER_DOCUMENT):
            stored, _ = rt.store.put_original(io.BytesIO(os.urandom(ORIGINAL)), "application/pdf")
            doc = Document(sha256=stored.sha256, original_key=stored.key, media_type="application/pdf",
                           title=f"用电检查单 {n}", customer_account=f"33{n:08d}", doc_type="JC",
                           page_count=PAGES_PER_DOCUMENT, reference_code=f"J001-KH·2005-D10-YX-{n:05d}",
                           doc_date=date(2005, 3, 1), retention="D10", retention_status=RetentionStatus.DUE,
                           due_on=date(2016, 1, 1))
            s.add(doc)
            s.flush()
            rows = []
            for number in range(1, PAGES_PER_DOCUMENT + 1):
                rows.append({"document_id": doc.id, "number": number, "source_index": number - 1, "status": "done",
                             "text": next(corpus).text, "index_state": "done"})
            s.execute(insert(Page), rows)
            for page in s.query(Page).filter(Page.document_id == doc.id):
                page.image_key = rt.store.put_bytes(f"pages/{page.id}/image.png", os.urandom(IMAGE)).key
                page.thumb_key = rt.store.put_bytes(f"pages/{page.id}/thumb.jpg", os.urandom(THUMB)).key
                page.words_key = rt.store.put_bytes(f"pages/{page.id}/words.json", os.urandom(WORDS)).key
            ids.append(doc.id)
            if n % 100 == 99:
                s.commit()
        s.commit()
        for chunk in range(0, len(ids), 100):
            batch = s.query(Page).filter(Page.document_id.in_(ids[chunk:chunk + 100])).all()
            rt.index.add_pages(page_record(p) for p in batch)
    return ids


def _supervised(rt, ids: list[int]) -> int:  # type: ignore[no-untyped-def]
    with rt.sessions() as s:
        people = {name: create_user(s, name, "bench-password-1", [role]) for name, role in (
            ("rm", "records_manager"), ("arch", "archivist"), ("leader", "approver"), ("s1", "supervisor"),
            ("s2", "supervisor"))}
        dlist = disposition.create_list(s, people["rm"], ids, index=rt.index)
        disposition.appraise(s, people["arch"], dlist, [disposition.DecisionInput(i, "destroy") for i in ids])
        disposition.submit(s, people["rm"], dlist)
        disposition.approve(s, people["leader"], dlist, rt.settings)
        disposition.supervise(s, people["s1"], dlist)
        disposition.supervise(s, people["s2"], dlist)
        disposition.start_execution(s, people["rm"], dlist, InProcessJobQueue(1))
        return dlist.id


def bench_erase(args, workdir: Path) -> dict:  # type: ignore[no-untyped-def]
    env = {"DOCSVC_DATA_DIR": str(workdir / "var"), "DOCSVC_SECRET_KEY": "bench"}
    if args.db == "postgresql":  # a schema of its own in db `test`, dropped afterwards
        schema_cm = scratch_schema(os.environ.get("DOCSVC_BENCH_DATABASE_URL", PG_URL))
        env["DOCSVC_DATABASE_URL"] = schema_cm.__enter__()
    rt = build_runtime(Settings.from_env(env))
    try:
        dbmod.upgrade(rt.engine)
        started = time.perf_counter()
        ids = _seed_documents(rt, args.pages)
        seeded = time.perf_counter() - started
        list_id = _supervised(rt, ids)
        objects = len(ids) + 3 * args.pages
        started = time.perf_counter()
        with rt.sessions() as s:
            disposition.execute(s, rt.store, rt.index, list_id, fonds="J001", zone=ZoneInfo("Asia/Shanghai"))
        erase_s = time.perf_counter() - started
        # Baseline: the same number of objects, of the same sizes, deleted and nothing else.
        keys = [rt.store.put_bytes(f"pages/baseline-{i}/image.png", os.urandom(IMAGE)).key for i in range(objects)]
        started = time.perf_counter()
        for key in keys:
            rt.store.delete(key)
        plain_s = time.perf_counter() - started
        with rt.sessions() as s:
            results = disposition.list_json(disposition.get_list(s, list_id))["progress"]
        return {"db": args.db, "pages": args.pages, "documents": len(ids), "objects": objects, "seed_s": round(seeded, 1),
                "erase_s": round(erase_s, 1), "erase_pages_per_s": round(args.pages / erase_s, 1),
                "plain_delete_s": round(plain_s, 2), "plain_pages_per_s": round(args.pages / plain_s, 1),
                "ratio_plain_over_erase": round(erase_s / plain_s, 1), "progress": results}
    finally:
        rt.close()
        if args.db == "postgresql":
            schema_cm.__exit__(None, None, None)


def bench_expunge(args, workdir: Path) -> dict:  # type: ignore[no-untyped-def]
    index_dir = workdir / f"index-{args.index_pages}"
    ix = SearchIndex(index_dir)
    started = time.perf_counter()
    if ix.page_count() < args.index_pages:
        ix.rebuild(Corpus(args.index_pages, seed=7).pages, commit_every=20_000, procs=args.procs)
    built = time.perf_counter() - started
    print(f"index of {args.index_pages} pages ready in {built:.0f} s", flush=True)
    segments_before = ix.segment_count()
    size_before = _dir_mb(ix.current_directory())
    rng = random.Random(3)
    contiguous = list(range(1, EXPUNGE + 1))
    rest = list(range(EXPUNGE + 1, args.index_pages + 1))
    rng.shuffle(rest)
    scattered, logical = rest[:EXPUNGE], rest[EXPUNGE:2 * EXPUNGE]
    timings = {}
    for name, ids in (("contiguous", contiguous), ("scattered", scattered)):
        started = time.perf_counter()
        ix.expunge_pages(ids)
        timings[f"expunge_{name}_s"] = round(time.perf_counter() - started, 1)
        left = ix.pages_in_files(ids[:200])
        timings[f"expunge_{name}_left_in_files"] = len(left)
        print(f"expunge {name}: {timings[f'expunge_{name}_s']} s, {len(left)} of 200 left in the files", flush=True)
    started = time.perf_counter()
    ix.delete_pages(logical)
    timings["logical_delete_s"] = round(time.perf_counter() - started, 1)
    timings["logical_left_in_files_of_200"] = len(ix.pages_in_files(logical[:200]))
    return {"index_pages": args.index_pages, "build_s": round(built, 1), "segments": segments_before,
            "index_mb": size_before, **timings}


def _dir_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--index-pages", type=int, default=100_000)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--only", choices=("erase", "expunge"))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/docsvc-bench-destroy"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"load {os.getloadavg()[0]:.1f}", flush=True)
    if args.only in (None, "erase"):
        run = args.workdir / f"erase-{time.time_ns()}"
        print(json.dumps(bench_erase(args, run), ensure_ascii=False), flush=True)
    if args.only in (None, "expunge"):
        print(json.dumps(bench_expunge(args, args.workdir), ensure_ascii=False), flush=True)
    print(f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
