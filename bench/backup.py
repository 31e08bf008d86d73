"""Backup and restore benchmark: `docsvc backup` / `docsvc restore` of 10,000 pages against the floor.

    .venv/bin/python bench/backup.py [--documents 1000] [--pages 10] [--redraw-documents 10]
                                     [--workdir /tmp/docsvc-bench-backup]

  archive  --documents × --pages pages built straight into an embedded instance (SQLite, local folder):
           one small random original per document (48 KB), per page a 20 KB image, a 4 KB thumbnail and
           a 1 KB words file, ~300 characters of Chinese text, indexed; one audit event per document.
  backup   `pipeline.backup.write` (snapshot, every table as JSON Lines, originals copied while hashed, the
           bagit manifest re-hashing every payload file, tag files), by default (page images and thumbnails
           left to the restore) and with `--with-derived` (every object copied);
           floor: the same objects copied with shutil.copyfile from the store's folder + every row of every
           table as one JSON document (json.dumps, default=str) — no snapshot, no hashing, no manifest.
  restore  `pipeline.restore.restore` of the `--with-derived` bag into a new embedded instance (validation
           re-hashing the bag, rows inserted, objects stored, the index rebuilt with 2 processes as
           `docsvc restore` does by default, the audit chain verified);
           floor: the bag's files copied back into a folder + the JSON rows loaded and inserted with one
           executemany per table into a migrated SQLite database.
  redraw   page images and thumbnails are redrawn from the originals by a restore of a default bag; the
           random originals above cannot be drawn, so --redraw-documents real 10-page text-layer PDFs are
           backed up and restored separately and the redraw stage's pages/s reported.

Stages are timed from the progress callback. Nothing here asserts but that the restores succeeded.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import MetaData, select  # noqa: E402

from docsvc import db as dbmod  # noqa: E402
from docsvc.config import Settings  # noqa: E402
from docsvc.constants import IndexState, JobState, page_image_key, page_thumb_key, page_words_key  # noqa: E402
from docsvc.governance import audit  # noqa: E402
from docsvc.models import Document, Page  # noqa: E402
from docsvc.pipeline import backup, reindex, restore  # noqa: E402
from docsvc.pipeline.intake import Upload, receive  # noqa: E402
from docsvc.runtime import Runtime, build_runtime, install  # noqa: E402
import workers  # noqa: E402

workers.wire()  # this script is an entry point: it hands runtimes their job queues

WORDS = "供电合同产权分界点用电申请书电能计量装置客户编号抄表结算变压器容量高压低压居民非居民验收报告"


def runtime(folder: Path) -> Runtime:
    return build_runtime(Settings.from_env({"DOCSVC_DATA_DIR": str(folder), "DOCSVC_SECRET_KEY": "bench",
                                            "DOCSVC_WORKERS": "1"}))


def build_archive(rt: Runtime, documents: int, pages: int) -> None:
    rng = random.Random(7)
    dbmod.upgrade(rt.engine)
    with rt.sessions() as session:
        for n in range(documents):
            stored, _ = rt.store.put_original(BytesIO(os.urandom(48 * 1024)), "application/pdf")
            document = Document(sha256=stored.sha256, original_key=stored.key, media_type="application/pdf",
                                title=f"文档 {n}", page_count=pages, reference_code=f"J001-KH·2020-D30-YX-{n:05d}")
            session.add(document)
            session.flush()
            rows = [Page(document_id=document.id, number=p, source_index=p - 1, status=JobState.DONE,
                         index_state=IndexState.DONE, source="text_layer",
                         text="".join(rng.choice(WORDS) for _ in range(300)) + f" 户号 {3000000000 + n}")
                    for p in range(1, pages + 1)]
            session.add_all(rows)
            session.flush()
            for page in rows:
                page.image_key = rt.store.put_bytes(page_image_key(page.id, "jpg"), os.urandom(20 * 1024),
                                                    "image/jpeg").key
                page.thumb_key = rt.store.put_bytes(page_thumb_key(page.id), os.urandom(4 * 1024), "image/jpeg").key
                page.words_key = rt.store.put_bytes(page_words_key(page.id), os.urandom(1024),
                                                    "application/json").key
            audit.record(session, None, "document.create", object_type="document", object_id=document.id)
            if n % 100 == 99:
                session.commit()
        session.commit()
    reindex.rebuild(rt.sessions, rt.index)


class Stages:
    """Seconds per stage, from the progress callback."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.stage: str | None = None
        self.since = time.perf_counter()

    def __call__(self, stage: str, _done: int, _total: int) -> None:
        now = time.perf_counter()
        if stage != self.stage:
            if self.stage is not None:
                self.seconds[self.stage] = self.seconds.get(self.stage, 0.0) + now - self.since
            self.stage, self.since = stage, now

    def finish(self) -> dict[str, float]:
        self("", 0, 0)
        return {k: v for k, v in self.seconds.items() if k}


def floor_backup(rt: Runtime, target: Path, keys: list[str]) -> float:
    """The same objects copied file to file out of the store's folder, and every row as one JSON document."""
    started = time.perf_counter()
    objects = rt.settings.objects_dir / "objects"
    for key in keys:
        destination = target / "objects" / key
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(objects / key, destination)
    metadata = MetaData()
    with rt.engine.connect() as conn:
        metadata.reflect(conn)
        rows = {name: [list(row) for row in conn.execute(select(table))] for name, table in metadata.tables.items()}
    (target / "rows.json").write_text(json.dumps(rows, ensure_ascii=False, default=str), encoding="utf-8")
    return time.perf_counter() - started


def object_keys(rt: Runtime, with_derived: bool) -> list[str]:
    """What a backup copies: originals and kept objects, page images and thumbnails only `with_derived`."""
    derived = ("/image.", "/thumb.")
    return [key for key in rt.store.list("") if with_derived or not any(part in key for part in derived)]


def floor_restore(source: Path, folder: Path, bag: Path) -> float:
    """Copy the files back and insert the rows of the bag's tables (as the floor, no checks at all)."""
    target = runtime(folder)
    dbmod.upgrade(target.engine)
    started = time.perf_counter()
    shutil.copytree(source / "objects", folder / "copy")
    json.loads((source / "rows.json").read_text(encoding="utf-8"))
    metadata = MetaData()
    with target.engine.begin() as conn:
        metadata.reflect(conn)
        for name in restore.SEEDED_TABLES:
            conn.execute(metadata.tables[name].delete())
        schema = json.loads((bag / "data" / "tables" / "schema.json").read_text(encoding="utf-8"))
        ordered, _ = restore.insert_order([metadata.tables[name] for name in schema])
        for table in ordered:
            kinds = {c["name"]: c["kind"] for c in schema[table.name]}
            rows = [{k: restore.decode_value(kinds[k], v) for k, v in json.loads(line).items()}
                    for line in (bag / "data" / "tables" / f"{table.name}.jsonl").open(encoding="utf-8")]
            if rows:
                conn.execute(table.insert(), rows)
    took = time.perf_counter() - started
    target.close()
    return took


def timed_backup(rt: Runtime, target: Path, **options: object) -> tuple[float, dict[str, float], backup.BackupReport]:
    stages = Stages()
    started = time.perf_counter()
    report = backup.write(rt.engine, rt.store, target, progress=stages, **options)  # type: ignore[arg-type]
    return time.perf_counter() - started, stages.finish(), report


def timed_restore(bag: Path, folder: Path) -> tuple[float, dict[str, float], restore.RestoreReport]:
    target = runtime(folder)
    stages = Stages()
    started = time.perf_counter()
    report = restore.restore(bag, target.engine, target.sessions, target.store, target.index, target.settings,
                             progress=stages, procs=2)
    took = time.perf_counter() - started
    target.close()
    assert report.ok, report
    return took, stages.finish(), report


def redraw_rate(workdir: Path, documents: int) -> tuple[int, float]:
    from tests.samples import form_text
    from tests.scans import text_pdf_bytes

    rt = runtime(workdir / "real")
    install(rt)  # the in-process job functions use the installed runtime
    dbmod.upgrade(rt.engine)
    with rt.sessions() as session:
        receive(session, rt.store, rt.jobs, [Upload(f"{n}.pdf", BytesIO(text_pdf_bytes(
            [form_text(n * 10 + p) for p in range(10)], workdir))) for n in range(documents)], source="cli")
    rt.jobs.start()
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        with rt.sessions() as session:
            states = session.scalars(select(Page.index_state)).all()
        if len(states) == documents * 10 and all(s == IndexState.DONE for s in states):
            break
        time.sleep(1)
    rt.jobs.close()
    backup.write(rt.engine, rt.store, workdir / "real-bag")
    _took, stages, report = timed_restore(workdir / "real-bag", workdir / "real-restored")
    rt.close()
    return report.redrawn, stages["redraw"]


def fmt(stages: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f}" for name, seconds in stages.items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--redraw-documents", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/docsvc-bench-backup"))
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    rt = runtime(args.workdir / "source")
    started = time.perf_counter()
    build_archive(rt, args.documents, args.pages)
    pages = args.documents * args.pages
    print(f"archive: {args.documents} documents, {pages} pages, built in {time.perf_counter() - started:.0f} s")

    plain = floor_backup(rt, args.workdir / "floor-default", object_keys(rt, with_derived=False))
    took, stages, report = timed_backup(rt, args.workdir / "bag")
    print(f"| backup (default: no page images) | {plain:.1f} s | {took:.1f} s ({fmt(stages)}) | "
          f"{took / plain:.1f}× | {report.originals} originals, {report.objects} objects copied |")
    plain_d = floor_backup(rt, args.workdir / "floor", object_keys(rt, with_derived=True))
    took_d, stages_d, report_d = timed_backup(rt, args.workdir / "bag-derived", with_derived=True)
    print(f"| backup --with-derived | {plain_d:.1f} s | {took_d:.1f} s ({fmt(stages_d)}) | {took_d / plain_d:.1f}× | "
          f"{report_d.objects} objects copied |")
    plain_i = floor_backup(rt, args.workdir / "floor-increment", object_keys(rt, with_derived=False))
    took_i, stages_i, report_i = timed_backup(rt, args.workdir / "bag-increment", since=args.workdir / "bag")
    print(f"| backup --since (nothing new) | {plain_i:.1f} s | {took_i:.1f} s ({fmt(stages_i)}) | "
          f"{took_i / plain_i:.1f}× | {report_i.originals_linked} linked, {report_i.originals_copied} copied |")
    rt.close()

    plain_r = floor_restore(args.workdir / "floor", args.workdir / "floor-restored", args.workdir / "bag-derived")
    took_r, stages_r, report_r = timed_restore(args.workdir / "bag-derived", args.workdir / "restored")
    print(f"| restore of the --with-derived bag | {plain_r:.1f} s | {took_r:.1f} s ({fmt(stages_r)}) | "
          f"{took_r / plain_r:.1f}× | {sum(report_r.rows.values())} rows, {report_r.indexed} pages indexed |")

    redrawn, seconds = redraw_rate(args.workdir, args.redraw_documents)
    print(f"redraw (real text-layer PDFs): {redrawn} pages in {seconds:.1f} s → {redrawn / seconds:.1f} pages/s")


if __name__ == "__main__":
    main()
