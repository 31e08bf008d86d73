"""Ingest benchmark: OCR throughput against the bare engine, text-layer rate, upload memory, accuracy.

    .venv/bin/python bench/ingest.py [--pages 28] [--round-pages 4] [--text-pages 200] [--upload-mb 1024]
                                     [--only a,b,c,d,p,s,r] [--engines rapidocr,tesseract] [--workdir DIR]
                                     [--study-forms 5] [--study-generated 2] [--layout-rounds 4]
                                     [--rapidocr3-python PY] [--quantize-python PY]

One run measures what docs/benchmarks.md ("Ingest") records:
  a  end-to-end OCR pages/minute with 2 RQ SimpleWorkers (`docsvc worker ingest ocr`, subprocesses)
     against real Redis (db 14, flushed), a PostgreSQL schema of its own in db `test` and the local
     object store, per engine, beside its floor: the bare engine on the same image files with the
     same parallelism (raw `tesseract PAGE out -l chi_sim+eng`, 2 at a time, OMP_THREAD_LIMIT=1;
     docsvc's RapidOcrEngine, tuned as shipped, in a loop in 2 processes, one onnxruntime thread
     each). Models are loaded before the clock starts: workers are started, then warmed up on
     pages that are not counted. Floor and end to end alternate in rounds of --round-pages, so
     both meet the same background load.
  b  text-layer PDF pages/second end to end (one N-page PDF from make_text_pdf, same stack).
  c  peak RSS of `docsvc serve` (waitress) while a 1 GB multipart body streams in: embedded mode,
     and as the web role (Redis set, so no job runs in the web process).
  d  character error rate of the stored text against the rendered text, per engine and variant,
     beside the bare engine on the same images (comes out of the runs of `a`).
  p  where a page job's time goes: its stages timed one by one in this process.
  s  the OCR speed study: each lever (detection input size, recognition batch size, the per-line
     direction classifier, onnxruntime memory arena, int8 dynamic quantisation, the `rapidocr`
     package's PP-OCRv6 models) in a worker process of its own, against today's configuration,
     page by page in turn on upright bench forms and generated two-column and table pages: CPU
     seconds per page (pages/min/core) and median CER; then the shipped engine's thread layouts
     (1 process × 1 thread, 1 × 2, 2 × 1) in interleaved rounds. int8 and PP-OCRv6 need other
     interpreters (see --quantize-python, --rapidocr3-python); without them those levers are left out.
  r  reading order per engine of --engines: CER and line order on generated multi-column and table
     pages, before and after issue 12's layout work (runs bench/reading_order.py, which says how).
Benchmarks are not tests: nothing here asserts; the figures are printed for a human to judge.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from tests.processes import free_port  # noqa: E402
from tests.samples import char_error_rate, form_text, render_page  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# Tests use db 15; the benchmark flushes its own.
REDIS_URL = "redis://127.0.0.1:6379/14"
WORKERS = 2
# Upright variants first: the rotated ones are compared with them.
VARIANTS = ("clean", "noisy", "skewed", "bitonal", "jpeg", "rot90", "rot180")
UPRIGHT = ("clean", "noisy", "skewed", "bitonal", "jpeg")
TESSERACT_LANGS = "chi_sim+eng"
WARM_UP_SEED = 90_000
# Seeds of the text-layer PDF, away from the scanned pages' so nothing is a duplicate.
TEXT_PDF_SEED = 50_000


# -- the pages --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    path: Path
    variant: str
    text: str


def make_samples(count: int, folder: Path, first_seed: int = 0) -> list[Sample]:
    """A4 300 dpi form pages, cycling through the variants, saved the way scanners save them."""
    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for i in range(count):
        seed = first_seed + i
        variant = VARIANTS[i % len(VARIANTS)]
        text = form_text(seed)
        image = render_page(text, variant=variant, seed=seed)
        if variant == "bitonal":
            path = folder / f"p{seed:05d}-{variant}.tif"
            image.save(path, "TIFF", compression="group4", dpi=(300, 300))
        elif variant == "jpeg":
            path = folder / f"p{seed:05d}-{variant}.jpg"
            image.save(path, "JPEG", quality=95, dpi=(300, 300))
        else:
            path = folder / f"p{seed:05d}-{variant}.png"
            image.save(path, "PNG", dpi=(300, 300))
        samples.append(Sample(path, variant, text))
    return samples


# -- floors: the bare engines -----------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    wall_s: float
    cpu_s: float  # CPU seconds of the processes doing the work: a cross-check less moved by other load


def tesseract_floor(samples: list[Sample], out: Path) -> tuple[Timing, dict[Path, str]]:
    """Raw `tesseract` on every page, WORKERS at a time, and the text it read."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def one(sample: Sample) -> tuple[Path, str]:
        base = out / sample.path.stem
        subprocess.run(["tesseract", str(sample.path), str(base), "-l", TESSERACT_LANGS],
                       env=env, check=True, capture_output=True)
        return sample.path, base.with_suffix(".txt").read_text()

    cpu_before = _children_cpu()
    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        texts = dict(pool.map(one, samples))
    return Timing(time.perf_counter() - started, _children_cpu() - cpu_before), texts


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _rapid_floor_process(tasks: "multiprocessing.Queue[str | None]",
                         results: "multiprocessing.Queue[tuple[str, str, int, float]]") -> None:
    """Read pages until None; each answer carries this process's CPU seconds so far."""
    from PIL import Image

    from docsvc.ocr.rapid import RapidOcrEngine

    # docsvc's engine as configured (detection size, no line classifier, batch 1), without the
    # pipeline around it: what is left of a page job once orientation, storage and queues are gone.
    engine = RapidOcrEngine()
    engine.recognise(Image.fromarray(_blank_page()))  # loads every model before the clock starts
    results.put(("", "", os.getpid(), time.process_time()))
    while (path := tasks.get()) is not None:
        with Image.open(path) as image:
            text = engine.recognise(image).text
        results.put((path, text, os.getpid(), time.process_time()))


def _blank_page() -> np.ndarray:
    page = np.full((600, 800, 3), 255, np.uint8)
    cv2.putText(page, "warm up 123", (50, 300), cv2.FONT_HERSHEY_SIMPLEX, 2, (0, 0, 0), 4)
    return page


class RapidOcrFloor:
    """WORKERS processes with RapidOCR loaded (one onnxruntime thread each), fed one round at a time."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.tasks, self.results = context.Queue(), context.Queue()
        self.processes = [context.Process(target=_rapid_floor_process, args=(self.tasks, self.results))
                          for _ in range(WORKERS)]
        for p in self.processes:
            p.start()
        self.cpu: dict[int, float] = {}  # pid -> CPU seconds at its last answer
        for _ in self.processes:
            _, _, pid, cpu = self.results.get(timeout=300)  # models loaded
            self.cpu[pid] = cpu

    def run(self, samples: list[Sample]) -> tuple[Timing, dict[Path, str]]:
        cpu_before = sum(self.cpu.values())
        started = time.perf_counter()
        for sample in samples:
            self.tasks.put(str(sample.path))
        texts = {}
        for _ in samples:
            path, text, pid, cpu = self.results.get(timeout=600)
            texts[Path(path)] = text
            self.cpu[pid] = cpu
        elapsed = time.perf_counter() - started
        return Timing(elapsed, sum(self.cpu.values()) - cpu_before), texts

    def close(self) -> None:
        for _ in self.processes:
            self.tasks.put(None)
        for p in self.processes:
            p.join(timeout=30)


# -- the full stack: PostgreSQL schema, Redis, 2 RQ workers, local object store ----------------

@dataclass
class JobRecord:
    func: str
    worker: str
    started: float
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class RunResult:
    seconds: float
    cpu_s: float  # worker processes and their children (tesseract), during the run
    pages: int
    texts: dict[str, str]  # file name -> stored text
    rotations: dict[str, int]
    failed: dict[str, str]
    jobs: list[JobRecord] = field(default_factory=list)


class Stack:
    """PostgreSQL schema + Redis db + local store + `docsvc worker ingest ocr` subprocesses.

    With workers=0 the job functions are for this process to call (the profile does).
    """

    def __init__(self, workdir: Path, engine: str, workers: int = WORKERS) -> None:
        import redis
        from sqlalchemy import create_engine, text

        self.schema = f"bench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(PG_URL)
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        self.redis = redis.Redis.from_url(REDIS_URL)
        self.redis.flushdb()
        self.data_dir = workdir / f"var-{engine}-{self.schema}"
        self.env = {
            "DOCSVC_DATA_DIR": str(self.data_dir),
            "DOCSVC_DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{self.schema}",
            "DOCSVC_REDIS_URL": REDIS_URL,
            "DOCSVC_SECRET_KEY": "bench",
            "DOCSVC_OCR_ENGINE": engine,
        }
        from docsvc import db
        from docsvc.config import Settings
        from docsvc.runtime import build_runtime, install
        import workers

        workers.wire()  # this script is an entry point: it hands runtimes their job queues
        self.rt = build_runtime(Settings.from_env(self.env))
        db.upgrade(self.rt.engine)
        install(self.rt)
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("DOCSVC_")} | self.env
        self.logs = [(workdir / f"worker-{engine}-{i}.log").open("wb") for i in range(workers)]
        self.workers = [subprocess.Popen([sys.executable, "-m", "docsvc.cli", "worker", "ingest", "ocr"],
                                         env=child_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
                        for log in self.logs]
        self._seen_jobs: set[str] = set()
        self._wait_registered(workers)

    def _wait_registered(self, workers: int) -> None:
        from rq import Worker

        deadline = time.monotonic() + 120
        while len(Worker.all(connection=self.redis)) < workers:
            if time.monotonic() > deadline or any(w.poll() is not None for w in self.workers):
                raise RuntimeError(f"workers did not start; see {self.logs[0].name}")
            time.sleep(0.2)

    def upload(self, paths: list[Path]) -> int:
        from docsvc.pipeline.intake import Upload, receive

        with self.rt.sessions() as session:
            streams = [p.open("rb") for p in paths]
            try:
                batch = receive(session, self.rt.store, self.rt.jobs,
                                [Upload(p.name, s) for p, s in zip(paths, streams)], source="bench")
            finally:
                for s in streams:
                    s.close()
            return batch.id

    def run(self, paths: list[Path], expected_pages: int, timeout_s: float = 1800) -> RunResult:
        """Upload the files as one batch and wait for every page to be done; timed from upload start."""
        from sqlalchemy import func, select

        from docsvc.models import BatchFile, Document, Page

        jobs: list[JobRecord] = []
        cpu_before = self.workers_cpu()
        started_epoch = time.time()  # RQ stamps jobs with wall-clock time
        started = time.perf_counter()
        batch_id = self.upload(paths)
        pages = (select(Page).join(Document).join(BatchFile, Document.batch_file_id == BatchFile.id)
                 .where(BatchFile.batch_id == batch_id))
        finished = pages.where(Page.status.in_(("done", "failed")))
        last_jobs_look = 0.0
        with self.rt.sessions() as session:
            while True:
                count = session.scalar(select(func.count()).select_from(finished.subquery()))
                if count >= expected_pages:
                    elapsed = time.perf_counter() - started
                    cpu = self.workers_cpu() - cpu_before
                    break
                if time.perf_counter() - started > timeout_s:
                    raise RuntimeError(f"batch {batch_id}: only {count}/{expected_pages} pages after {timeout_s}s")
                # Finished jobs expire from Redis a minute after they end: collect them as they come.
                if time.perf_counter() - last_jobs_look > 2:
                    jobs += self._new_jobs()
                    last_jobs_look = time.perf_counter()
                session.rollback()
                time.sleep(0.1)
            # RQ marks the last job finished just after its page row says done.
            time.sleep(0.5)
            jobs += self._new_jobs()
            jobs = [j for j in jobs if j.started >= started_epoch]
            texts, rotations, failed = {}, {}, {}
            for page in session.scalars(pages):
                name = page.document.title
                texts[name] = page.text or ""
                rotations[name] = page.rotation
                if page.status == "failed":
                    failed[name] = page.error or ""
        return RunResult(elapsed, cpu, expected_pages, texts, rotations, failed, jobs)

    def workers_cpu(self) -> float:
        """utime + stime + waited-for children's (tesseract runs) of the worker processes, seconds."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for w in self.workers:
            fields = Path(f"/proc/{w.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        return total / ticks

    def _new_jobs(self) -> list[JobRecord]:
        from rq import Queue
        from rq.job import Job

        ids = []
        for name in ("ingest", "ocr"):
            ids += [i for i in Queue(name, connection=self.redis).finished_job_registry.get_job_ids()
                    if i not in self._seen_jobs]
        self._seen_jobs.update(ids)
        return [JobRecord(job.func_name.rsplit(".", 1)[-1], job.worker_name or "?",
                          job.started_at.timestamp(), job.ended_at.timestamp())
                for job in Job.fetch_many(ids, connection=self.redis)
                if job is not None and job.started_at and job.ended_at]

    def warm_up(self, make_files: Callable[[int], tuple[list[Path], int]]) -> list[JobRecord]:
        """Run uncounted pages until every worker has done a page job (models load on first use).

        make_files(round) gives the files of one warm-up round and how many pages they hold.
        """
        warm: list[JobRecord] = []
        for round_ in range(4):
            files, pages = make_files(round_)
            warm += self.run(files, pages, timeout_s=600).jobs
            page_workers = {j.worker for j in warm if j.func == "process_page"}
            if len(page_workers) >= WORKERS:
                break
        return warm

    def close(self) -> None:
        from sqlalchemy import text

        for w in self.workers:
            w.terminate()
        for w in self.workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.kill()
        for log in self.logs:
            log.close()
        self.rt.close()
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()
        self.redis.flushdb()
        shutil.rmtree(self.data_dir, ignore_errors=True)


# -- (a) + (d): OCR throughput and accuracy ---------------------------------------------------

@dataclass
class EngineFigures:
    engine: str
    pages: int
    floor: Timing
    floor_texts: dict[str, str]
    stored: RunResult
    warm_jobs: list[JobRecord]

    @property
    def e2e_s(self) -> float:
        return self.stored.seconds

    @property
    def floor_ppm(self) -> float:
        return 60 * self.pages / self.floor.wall_s

    @property
    def e2e_ppm(self) -> float:
        return 60 * self.pages / self.e2e_s


def measure_engine(engine: str, samples: list[Sample], workdir: Path, round_pages: int) -> EngineFigures:
    """Floor and end to end in alternating rounds, so that both meet the same background load."""
    rapid = RapidOcrFloor() if engine == "rapidocr" else None
    stack = Stack(workdir, engine)
    floor_wall = floor_cpu = 0.0
    floor_texts: dict[str, str] = {}
    rounds: list[RunResult] = []
    try:
        warm_folder = workdir / f"warm-{engine}"
        warm = stack.warm_up(lambda r: ([s.path for s in make_samples(
            WORKERS, warm_folder / str(r), WARM_UP_SEED + 10 * r)], WORKERS))
        for number, first in enumerate(range(0, len(samples), round_pages)):
            chunk = samples[first:first + round_pages]

            def floor_round() -> None:
                nonlocal floor_wall, floor_cpu
                timing, texts = (rapid.run(chunk) if rapid is not None
                                 else tesseract_floor(chunk, workdir / "tesseract-out"))
                floor_wall += timing.wall_s
                floor_cpu += timing.cpu_s
                floor_texts.update({p.name: t for p, t in texts.items()})

            def e2e_round() -> None:
                rounds.append(stack.run([s.path for s in chunk], len(chunk)))

            for step in ((floor_round, e2e_round) if number % 2 == 0 else (e2e_round, floor_round)):
                step()
            print(f"  {engine} round {number + 1}: floor {floor_wall:.1f} s, end to end "
                  f"{sum(r.seconds for r in rounds):.1f} s so far; load {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        stack.close()
        if rapid is not None:
            rapid.close()
    stored = RunResult(sum(r.seconds for r in rounds), sum(r.cpu_s for r in rounds), len(samples),
                       {k: v for r in rounds for k, v in r.texts.items()},
                       {k: v for r in rounds for k, v in r.rotations.items()},
                       {k: v for r in rounds for k, v in r.failed.items()},
                       [j for r in rounds for j in r.jobs])
    return EngineFigures(engine, len(samples), Timing(floor_wall, floor_cpu), floor_texts, stored, warm)


def report_throughput(figures: list[EngineFigures]) -> None:
    print("\n(a) OCR throughput, 2 workers, pages/minute (target: end to end ≥ 0.9 × floor)")
    print("| engine | pages | floor (bare engine) | end to end | ratio | CPU s/page floor → e2e (ratio) "
          "| mean page job | worker time outside jobs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for f in figures:
        page_jobs = [j for j in f.stored.jobs if j.func == "process_page"]
        split_jobs = [j for j in f.stored.jobs if j.func == "split_file"]
        mean_job = statistics.mean(j.seconds for j in page_jobs) if page_jobs else float("nan")
        busy = sum(j.seconds for j in page_jobs + split_jobs)
        outside = WORKERS * f.e2e_s - busy
        floor_cpu, e2e_cpu = f.floor.cpu_s / f.pages, f.stored.cpu_s / f.pages
        print(f"| {f.engine} | {f.pages} | {f.floor_ppm:.1f} | {f.e2e_ppm:.1f} | {f.e2e_ppm / f.floor_ppm:.2f} "
              f"| {floor_cpu:.2f} → {e2e_cpu:.2f} ({floor_cpu / e2e_cpu:.2f}) | {mean_job:.2f} s | {outside:.1f} s of {WORKERS * f.e2e_s:.1f} s "
              f"(splits {sum(j.seconds for j in split_jobs):.1f} s) |")
        by_worker: dict[str, list[JobRecord]] = {}
        for j in sorted(f.warm_jobs, key=lambda j: j.started):
            if j.func == "process_page":
                by_worker.setdefault(j.worker, []).append(j)
        firsts = [jobs[0].seconds for jobs in by_worker.values()]
        if firsts and page_jobs:
            print(f"    first page job per worker (warm-up, not counted): "
                  f"{', '.join(f'{s:.2f}' for s in firsts)} s vs {mean_job:.2f} s steady")
        if f.stored.failed:
            print(f"    FAILED pages: {f.stored.failed}")


def report_accuracy(figures: list[EngineFigures], samples: list[Sample]) -> None:
    print("\n(d) character error rate, median per variant (stored text / bare engine); "
          "target: default ≤ 3 %, rot90/rot180 as good as upright")
    header = "| variant | " + " | ".join(f"{f.engine} stored | {f.engine} bare" for f in figures) + " |"
    print(header)
    print("|---|" + "---:|" * (2 * len(figures)))
    rates: dict[tuple[str, str, str], list[float]] = {}
    for f in figures:
        for s in samples:
            name = s.path.name
            rates.setdefault((f.engine, "stored", s.variant), []).append(
                char_error_rate(s.text, f.stored.texts.get(name, "")))
            rates.setdefault((f.engine, "bare", s.variant), []).append(
                char_error_rate(s.text, f.floor_texts.get(name, "")))

    def cell(engine: str, kind: str, variants: tuple[str, ...]) -> str:
        values = [r for v in variants for r in rates.get((engine, kind, v), [])]
        return f"{100 * statistics.median(values):.1f} %" if values else "–"

    groups = [(v, (v,)) for v in VARIANTS] + [("all upright", UPRIGHT), ("all", VARIANTS)]
    for label, variants in groups:
        print(f"| {label} | " + " | ".join(f"{cell(f.engine, 'stored', variants)} | {cell(f.engine, 'bare', variants)}"
                                       for f in figures) + " |")
    for f in figures:
        allr = [r for v in VARIANTS for r in rates.get((f.engine, "stored", v), [])]
        wrong = {n: r for n, r in f.stored.rotations.items()
                 if r != {"rot90": 90, "rot180": 180}.get(n.split("-", 1)[1].split(".")[0], 0)}
        print(f"    {f.engine}: mean CER stored {100 * statistics.mean(allr):.1f} %, "
              f"max {100 * max(allr):.1f} %; pages turned wrongly: {wrong or 'none'}")


# -- (b): text-layer PDF ----------------------------------------------------------------------

def measure_text_layer(pages: int, workdir: Path) -> None:
    from tests.testdata import make_text_pdf

    folder = workdir / "textpdf"
    folder.mkdir(parents=True, exist_ok=True)
    pdf = folder / f"text-{pages}.pdf"
    make_text_pdf([form_text(TEXT_PDF_SEED + i) for i in range(pages)], pdf)

    def warm_files(r: int) -> tuple[list[Path], int]:
        path = folder / f"warm-{r}.pdf"
        make_text_pdf([form_text(TEXT_PDF_SEED + 10_000 + 10 * r + i) for i in range(4)], path)
        return [path], 4

    stack = Stack(workdir, "rapidocr")
    try:
        stack.warm_up(warm_files)
        result = stack.run([pdf], pages)
    finally:
        stack.close()
    page_jobs = [j for j in result.jobs if j.func == "process_page"]
    split = [j for j in result.jobs if j.func == "split_file"]
    print(f"\n(b) text-layer PDF, {pages} pages, 2 workers (target ≥ 20 pages/s)")
    print("| pages | seconds | pages/s | mean page job | split job |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {pages} | {result.seconds:.1f} | {pages / result.seconds:.1f} | "
          f"{statistics.mean(j.seconds for j in page_jobs) * 1000:.0f} ms | "
          f"{sum(j.seconds for j in split) * 1000:.0f} ms |")
    if result.failed:
        print(f"    FAILED pages: {len(result.failed)}: {next(iter(result.failed.values()))}")


# -- (c): web process memory during a 1 GB upload ---------------------------------------------

def _proc_status_kb(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise KeyError(field_name)


def measure_upload(megabytes: int, workdir: Path) -> None:
    print(f"\n(c) web process (`docsvc serve`, waitress) during a {megabytes} MB chunked multipart upload "
          "(target peak < 150 MB)")
    print("| mode | upload time | MB/s | RSS before | peak RSS until the 202 | peak RSS in the 3 s after "
          "| VmHWM (whole life) | response |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    upload_once(megabytes, workdir, web_only=False)
    upload_once(megabytes, workdir, web_only=True)


def upload_once(megabytes: int, workdir: Path, *, web_only: bool) -> None:
    """One upload; web_only sets a Redis URL so jobs wait in Redis (db 14) as with a gunicorn web role."""
    import redis
    import requests

    data_dir = workdir / "serve-var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCSVC_")} | {
        "DOCSVC_DATA_DIR": str(data_dir), "DOCSVC_SECRET_KEY": "bench"}
    if web_only:
        env["DOCSVC_REDIS_URL"] = REDIS_URL
        redis.Redis.from_url(REDIS_URL).flushdb()

    def cli(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run([sys.executable, "-m", "docsvc.cli", *args], env=env, cwd=ROOT, input=stdin,
                              capture_output=True, text=True, check=True)
        return done.stdout

    cli("db", "upgrade")
    cli("user", "create", "bench", "--role", "operator", "--password-stdin", stdin="bench-password-1234\n")
    token = cli("token", "create", "bench").strip().splitlines()[-1]
    port = free_port()
    log = (workdir / "serve.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "docsvc.cli", "serve", "--port", str(port)],
                              env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/api/v1/me", headers=auth, timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("docsvc serve did not start; see serve.log")
            time.sleep(0.3)
        before_kb = _proc_status_kb(server.pid, "VmRSS")

        samples: list[tuple[float, int]] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                try:
                    samples.append((time.perf_counter(), _proc_status_kb(server.pid, "VmRSS")))
                except (FileNotFoundError, ProcessLookupError):
                    return
                time.sleep(0.02)

        boundary = uuid.uuid4().hex
        block = os.urandom(2**20)

        def body() -> Iterator[bytes]:
            yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.bin\"\r\n"
                   "Content-Type: application/octet-stream\r\n\r\n").encode()
            yield uuid.uuid4().bytes  # a fresh original each run
            for _ in range(megabytes):
                yield block
            yield f"\r\n--{boundary}--\r\n".encode()

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        response = requests.post(f"{base}/api/v1/batches", data=body(), timeout=3600,
                                 headers={**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        answered = time.perf_counter()
        elapsed = answered - started
        time.sleep(3)  # the split job (in-process here) opens the file after the response
        stop.set()
        sampler.join()
        hwm_kb = _proc_status_kb(server.pid, "VmHWM")
        batch = response.json()
        if response.status_code == 202:
            time.sleep(1)
            batch = requests.get(f"{base}/api/v1/batches/{batch['id']}", headers=auth, timeout=10).json()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)
        if web_only:
            redis.Redis.from_url(REDIS_URL).flushdb()
    during = max(kb for t, kb in samples if t <= answered)
    after = max((kb for t, kb in samples if t > answered), default=0)
    mode = "web only (Redis set, no job in process)" if web_only else "embedded (jobs in process)"
    print(f"| {mode} | {elapsed:.1f} s | {megabytes / elapsed:.0f} | {before_kb / 1024:.0f} MB | "
          f"{during / 1024:.0f} MB | {after / 1024:.0f} MB | {hwm_kb / 1024:.0f} MB | {response.status_code}, "
          f"file status {batch.get('files', [{}])[0].get('status', '?')} |")


# -- (p): profile of a page job ---------------------------------------------------------------

def profile_page_jobs(engines: list[str], samples: list[Sample], text_pages: int, workdir: Path) -> None:
    """Each stage of process_page, timed in this process on one thread (no DB, no queue)."""
    import io

    from docsvc import formats
    from docsvc.config import Settings
    from docsvc.ocr import get_engine, normalise
    from docsvc.pipeline.recognition import VIEW_DPI_TEXT_LAYER, encode_image, encode_thumbnail
    from tests.testdata import make_text_pdf
    from storage import LocalStore

    store = LocalStore(workdir / "profile-store")
    settings = Settings.from_env({"DOCSVC_DATA_DIR": str(workdir / "profile-var"), "DOCSVC_SECRET_KEY": "x"})
    one_per_variant = {s.variant: s for s in samples}
    print("\n(p) a page job's stages, one thread, mean ms per page "
          f"({len(one_per_variant)} OCR pages, one per variant; 20 text-layer pages)")
    print("| engine | render | orientation + deskew | recognise | encode image+thumb+words | store 3 objects | sum |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for engine_name in engines:
        engine = get_engine(engine_name)
        engine.recognise(render_page("预热", variant="clean"))  # models load outside the clock
        stages: dict[str, list[float]] = {k: [] for k in ("render", "normalise", "recognise", "encode", "store")}
        for n, s in enumerate(one_per_variant.values()):
            t0 = time.perf_counter()
            media = formats.sniff(s.path)
            raw = formats.render_page(s.path, media, 0, dpi=settings.ocr_dpi)
            t1 = time.perf_counter()
            upright = normalise(raw)
            t2 = time.perf_counter()
            result = engine.recognise(upright.image)
            t3 = time.perf_counter()
            data, ext, ctype = encode_image(upright.image)
            thumb = encode_thumbnail(upright.image)
            words = json.dumps({"words": [{"text": w.text, "box": list(w.box), "conf": w.confidence}
                                          for w in result.words]}, ensure_ascii=False).encode()
            t4 = time.perf_counter()
            store.put(f"pages/{n}/image.{ext}", io.BytesIO(data), ctype)
            store.put(f"pages/{n}/thumb.jpg", io.BytesIO(thumb), "image/jpeg")
            store.put(f"pages/{n}/words.json", io.BytesIO(words), "application/json")
            t5 = time.perf_counter()
            for key, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                stages[key].append(value * 1000)
        means = {k: statistics.mean(v) for k, v in stages.items()}
        print(f"| {engine_name} | " + " | ".join(f"{v:.0f}" for v in means.values())
              + f" | {sum(means.values()):.0f} |")
    pdf = workdir / "profile-text.pdf"
    make_text_pdf([form_text(TEXT_PDF_SEED + 20_000 + i) for i in range(max(text_pages, 20))], pdf)
    text_stages: dict[str, list[float]] = {k: [] for k in ("text layer", "render", "encode", "store")}
    for i in range(20):
        t0 = time.perf_counter()
        layer = formats.text_layer(pdf, i)
        t1 = time.perf_counter()
        image = formats.render_page(pdf, "application/pdf", i, dpi=VIEW_DPI_TEXT_LAYER)
        t2 = time.perf_counter()
        data, ext, ctype = encode_image(image)
        thumb = encode_thumbnail(image)
        words = json.dumps({"words": [{"text": w.text, "box": list(w.box)} for w in layer.words]},
                           ensure_ascii=False).encode() if layer else b"{}"
        t3 = time.perf_counter()
        store.put(f"text/{i}/image.{ext}", io.BytesIO(data), ctype)
        store.put(f"text/{i}/thumb.jpg", io.BytesIO(thumb), "image/jpeg")
        store.put(f"text/{i}/words.json", io.BytesIO(words), "application/json")
        t4 = time.perf_counter()
        for key, value in zip(text_stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            text_stages[key].append(value * 1000)
    means = {k: statistics.mean(v) for k, v in text_stages.items()}
    print(f"| text layer ({text_pages}-page PDF) | text layer {means['text layer']:.0f} + render "
          f"{means['render']:.0f} | – | – | {means['encode']:.0f} | {means['store']:.0f} | {sum(means.values()):.0f} |")
    profile_text_layer_jobs(text_pages, workdir)


# Where a whole job's time goes, by the functions it calls (cumulative time under cProfile).
_JOB_PARTS = {
    "claim (UPDATE, commit, SELECT)": ("pipeline/jobstate.py", "claim"),
    "text layer (pdfium text page)": ("formats/__init__.py", "text_layer"),
    "render 150 dpi": ("formats/__init__.py", "render_page"),
    "encode image + thumbnail": ("pipeline/recognition.py", ("encode_image", "encode_thumbnail")),
    "store 3 objects": ("storage/local.py", "put"),
    "mark done (commit)": ("pipeline/jobstate.py", "mark_done"),
    "enqueue index job (Redis)": ("workers/queues.py", "enqueue"),
}
_SPLIT_PARTS = {
    "inspect (page count)": ("formats/__init__.py", "inspect"),
    "cover/separator sheet scan (renders every page)": ("docsvc/formats/coversheets.py", "scan"),
    "enqueue page jobs (Redis)": ("workers/queues.py", "enqueue"),
    "session commits (PostgreSQL)": ("sqlalchemy/orm/session.py", "commit"),
}


def _cumulative(stats: "pstats.Stats", parts: dict[str, tuple[str, object]]) -> dict[str, float]:
    found = {}
    for label, (file_end, names) in parts.items():
        names = names if isinstance(names, tuple) else (names,)
        found[label] = sum(value[3] for (path, _, name), value in stats.stats.items()  # type: ignore[attr-defined]
                           if path.endswith(file_end) and name in names)
    return found


def profile_text_layer_jobs(text_pages: int, workdir: Path) -> None:
    """The split job and text-layer page jobs run here, one after the other, against PostgreSQL and Redis."""
    import cProfile

    from sqlalchemy import select

    from docsvc.models import BatchFile, Document, Page
    from tests.testdata import make_text_pdf
    from workers import jobs

    pdf = workdir / "profile-jobs.pdf"
    make_text_pdf([form_text(TEXT_PDF_SEED + 30_000 + i) for i in range(text_pages)], pdf)
    stack = Stack(workdir, "rapidocr", workers=0)
    try:
        batch_id = stack.upload([pdf])
        with stack.rt.sessions() as session:
            file_id = session.scalar(select(BatchFile.id).where(BatchFile.batch_id == batch_id))
        split_profile = cProfile.Profile()
        started = time.perf_counter()
        split_profile.runcall(jobs.split_file, file_id)
        split_s = time.perf_counter() - started
        with stack.rt.sessions() as session:
            page_ids = list(session.scalars(select(Page.id).join(Document)
                                            .where(Document.batch_file_id == file_id).order_by(Page.number)))
        half = len(page_ids) // 2
        started = time.perf_counter()
        for page_id in page_ids[:half]:
            jobs.process_page(page_id)
        per_page_ms = (time.perf_counter() - started) / half * 1000
        job_profile = cProfile.Profile()
        for page_id in page_ids[half:]:
            job_profile.runcall(jobs.process_page, page_id)
    finally:
        stack.close()
    split_stats = pstats.Stats(split_profile)
    job_stats = pstats.Stats(job_profile)
    split_total = split_stats.total_tt  # type: ignore[attr-defined]
    job_total = job_stats.total_tt  # type: ignore[attr-defined]
    print(f"\n(p) text-layer jobs run in this process against PostgreSQL + Redis: split of a {text_pages}-page PDF "
          f"{split_s * 1000:.0f} ms ({split_s / text_pages * 1000:.1f} ms a page); page job {per_page_ms:.0f} ms "
          "without profiler. Shares under cProfile:")
    print("| job | part | share |")
    print("|---|---|---:|")
    for label, seconds in _cumulative(split_stats, _SPLIT_PARTS).items():
        print(f"| split | {label} | {100 * seconds / split_total:.0f} % |")
    parts = _cumulative(job_stats, _JOB_PARTS)
    for label, seconds in parts.items():
        print(f"| page | {label} | {100 * seconds / job_total:.0f} % |")
    print(f"| page | the rest (document load, row updates, RQ-free overhead) | "
          f"{100 * (1 - sum(parts.values()) / job_total):.0f} % |")


# -- (s): the OCR speed study -----------------------------------------------------------------
#
# Each lever is an OCR worker process of its own (one onnxruntime thread unless the lever is about
# threads), loaded before the clock starts. Pages go to one worker at a time, the levers taking
# turns page by page (the order rotating), so every lever meets the same background load as
# today's configuration; the figures are ratios of CPU seconds per page against it. The workers
# read pages already turned upright by docsvc.ocr.normalise, as the pipeline hands them over.

# A lever: what changes against today's RapidOCR configuration. Keys (all optional):
#   det: detection input long side (None: the library's rule, 1414×2000 for A4); cls: the per-line
#   direction classifier; batch: recognition batch size; threads: onnxruntime intra-op threads;
#   arena: onnxruntime CPU memory arena; det_model / rec_model: "int8" for the derived models;
#   engine: "docsvc" (RapidOcrEngine as shipped now, whatever the other keys say) or "rapidocr3"
#   (the `rapidocr` package's bundled PP-OCRv6 small models, run from --rapidocr3-python).
TODAY = {"det": None, "cls": True, "batch": 6}
LEVERS: dict[str, dict[str, object]] = {
    "today (det 1414×2000, cls on, batch 6)": {},
    "det 1280": {"det": 1280},
    "det 960": {"det": 960},
    "det 736": {"det": 736},
    "no cls": {"cls": False},
    "rec batch 1": {"batch": 1},
    "rec batch 16": {"batch": 16},
    "arena on": {"arena": True},
    "int8 det": {"det_model": "int8"},
    "int8 rec (MatMul)": {"rec_model": "int8"},
    "det 1280 + no cls + rec batch 1": {"det": 1280, "cls": False, "batch": 1},
    "det 960 + no cls + rec batch 1": {"det": 960, "cls": False, "batch": 1},
    "shipped default (RapidOcrEngine as built now)": {"engine": "docsvc"},
    "rapidocr 3 (PP-OCRv6 small), default config": {"engine": "rapidocr3"},
}
_MARK = "@@ocr "
INT8_MODELS = {"det_model": "ch_PP-OCRv4_det_infer.int8.onnx", "rec_model": "ch_PP-OCRv4_rec_infer.int8.onnx"}


def derive_int8_models(python: str, folder: Path) -> dict[str, Path]:
    """int8 dynamic quantisation of the shipped det and rec models, derived here (no download).

    onnxruntime.quantization needs the `onnx` package, which the service does not install, so this
    runs under another interpreter (a throwaway venv with onnxruntime + onnx). Conv weights in the
    Paddle exports are Constant nodes; quant_pre_process folds them into initializers first.
    The recognition model is quantised on MatMul only: with its Conv layers too it read 22 % CER.
    """
    from docsvc.ocr.rapid import MODELS_DIR

    folder.mkdir(parents=True, exist_ok=True)
    script = f"""
import logging, sys
logging.disable(logging.WARNING)
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.shape_inference import quant_pre_process
for source, target, ops in (("ch_PP-OCRv4_det_infer.onnx", {INT8_MODELS['det_model']!r}, None),
                            ("ch_PP-OCRv4_rec_infer.onnx", {INT8_MODELS['rec_model']!r}, ["MatMul"])):
    folded = {str(folder)!r} + "/folded-" + source
    quant_pre_process({str(MODELS_DIR)!r} + "/" + source, folded, skip_symbolic_shape=True)
    quantize_dynamic(folded, {str(folder)!r} + "/" + target, weight_type=QuantType.QUInt8,
                     **({{}} if ops is None else {{"op_types_to_quantize": ops}}))
"""
    subprocess.run([python, "-c", script], check=True, capture_output=True)
    return {key: folder / name for key, name in INT8_MODELS.items()}


def ocr_worker(spec: dict[str, object]) -> None:
    """Read upright page images named on stdin, one per line; answer each with one JSON line."""
    import logging

    logging.disable(logging.WARNING)
    from PIL import Image

    read = _worker_reader(spec)
    read(Image.fromarray(_blank_page()))  # loads every model before the clock starts
    print(_MARK + json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        image = Image.open(line.strip())
        image.load()
        cpu, wall = time.process_time(), time.perf_counter()
        text, bare = read(image)
        print(_MARK + json.dumps({"text": text, "bare": bare, "cpu": time.process_time() - cpu,
                                  "wall": time.perf_counter() - wall}, ensure_ascii=False), flush=True)


def _worker_reader(spec: dict[str, object]) -> Callable[..., tuple[str, str]]:
    """A function reading one image into (text in reading order, the engine's lines joined)."""
    threads = int(spec.get("threads", 1))  # type: ignore[arg-type]
    if spec.get("engine") == "rapidocr3":
        from rapidocr import RapidOCR as RapidOCR3

        engine3 = RapidOCR3(params={"EngineConfig.onnxruntime.intra_op_num_threads": threads,
                                    "EngineConfig.onnxruntime.inter_op_num_threads": 1, "Global.log_level": "error"})

        def read3(image: object) -> tuple[str, str]:
            result = engine3(np.asarray(image.convert("RGB"))[:, :, ::-1])  # type: ignore[attr-defined]
            bare = "\n".join(result.txts or ())
            return bare, bare
        return read3

    from docsvc.ocr.layout import reading_text
    from docsvc.ocr.rapid import RapidOcrEngine, _segment_words

    if spec.get("engine") == "docsvc":
        shipped = RapidOcrEngine(threads=threads)

        def read_shipped(image: object) -> tuple[str, str]:
            result = shipped.recognise(image)  # type: ignore[arg-type]
            return result.text, result.text
        return read_shipped

    import onnxruntime
    from rapidocr_onnxruntime import RapidOCR
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    options = {**TODAY, **spec}
    paths = {f"{part}_model_path": str(options[key]) for part, key in (("det", "det_model"), ("rec", "rec_model"))
             if key in options}
    engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1,
                      rec_batch_num=options["batch"], **paths)
    if options["det"] is not None:
        detector, side = engine.text_det, int(options["det"])  # type: ignore[arg-type]
        detector.get_preprocess = lambda _: DetPreProcess(side, "max", detector.mean, detector.std)
    if options.get("arena"):
        for holder in (engine.text_det.infer, engine.text_cls.infer, engine.text_rec.session):
            session_options = onnxruntime.SessionOptions()
            session_options.intra_op_num_threads, session_options.inter_op_num_threads = threads, 1
            session_options.log_severity_level = 4
            session_options.enable_cpu_mem_arena = True
            holder.session = onnxruntime.InferenceSession(holder.session._model_path, session_options,
                                                          providers=["CPUExecutionProvider"])

    def read(image: object) -> tuple[str, str]:
        if image.mode not in ("L", "RGB"):  # type: ignore[attr-defined]
            image = image.convert("L")  # type: ignore[attr-defined]
        segments, _ = engine(image, use_cls=bool(options["cls"]), return_word_box=True)
        text, _ = reading_text([_segment_words(s) for s in segments or []])
        return text, "\n".join(s[1] for s in segments or [])
    return read


class OcrWorker:
    """A worker process for one lever; ask() hands it a page and waits for its answer."""

    def __init__(self, spec: dict[str, object], python: str = sys.executable) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen([python, str(Path(__file__).resolve()), "--ocr-worker", json.dumps(spec)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)

    def wait_ready(self) -> None:
        self._answer()

    def send(self, path: Path) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{path}\n")
        self.process.stdin.flush()

    def ask(self, path: Path) -> dict:
        self.send(path)
        return self._answer()

    def _answer(self) -> dict:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(_MARK):
                return json.loads(line[len(_MARK):])
        raise RuntimeError(f"OCR worker {self.process.args[-1]} ended (exit {self.process.wait()})")

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@dataclass(frozen=True)
class StudyPage:
    path: Path  # upright, as normalise() left it
    kind: str  # "form" (the bench pages), "two-column", "table"
    text: str


def study_pages(forms: int, generated: int, folder: Path) -> list[StudyPage]:
    """The bench form pages (variants cycling) and generated two-column and table pages, upright."""
    from docsvc import formats
    from docsvc.ocr import normalise
    from tests.samples import FORM_ROWS, FORM_TITLE, render_bordered_form, render_two_column_page

    folder.mkdir(parents=True, exist_ok=True)
    pages = []
    for sample in make_samples(forms, folder / "scans", first_seed=70_000):
        raw = formats.render_page(sample.path, formats.sniff(sample.path), 0, dpi=300)
        pages.append(StudyPage(_save_upright(normalise(raw).image, folder / f"{sample.path.stem}.png"), "form",
                               sample.text))
    for n in range(generated):
        scan, lines = render_two_column_page(seed=n)
        pages.append(StudyPage(_save_upright(normalise(scan).image, folder / f"two-column-{n}.png"), "two-column",
                               "\n".join(lines)))
        jpeg = folder / f"table-{n}.jpg"
        jpeg.write_bytes(render_bordered_form(seed=n, jpeg_quality=60 + 10 * n))
        raw = formats.render_page(jpeg, formats.sniff(jpeg), 0, dpi=300)
        pages.append(StudyPage(_save_upright(normalise(raw).image, folder / f"table-{n}.png"), "table",
                               "\n".join([FORM_TITLE, *(label + value for label, value in FORM_ROWS)])))
    return pages


def _save_upright(image: object, path: Path) -> Path:
    image.save(path, "PNG")  # type: ignore[attr-defined]
    return path


def speed_study(forms: int, generated: int, workdir: Path, rapidocr3_python: str | None,
                quantize_python: str | None, layout_rounds: int, only_levers: list[str] | None = None) -> None:
    pages = study_pages(forms, generated, workdir / "study")
    # Today's configuration always runs: it is what the others are measured against.
    levers = {name: spec for n, (name, spec) in enumerate(LEVERS.items())
              if n == 0 or only_levers is None or any(name.startswith(prefix) for prefix in only_levers)}
    if quantize_python:
        models = derive_int8_models(quantize_python, workdir / "int8")
        for spec in levers.values():
            for key in INT8_MODELS:
                if spec.get(key) == "int8":
                    spec[key] = str(models[key])  # type: ignore[index]
    else:
        levers = {k: v for k, v in levers.items() if not any(key in v for key in INT8_MODELS)}
    if not rapidocr3_python:
        levers = {k: v for k, v in levers.items() if v.get("engine") != "rapidocr3"}
    workers = {name: OcrWorker(spec, rapidocr3_python if spec.get("engine") == "rapidocr3" else sys.executable)
               for name, spec in levers.items()}
    answers: dict[str, list[dict]] = {name: [] for name in levers}
    names = list(levers)
    try:
        for worker in workers.values():
            worker.wait_ready()
        for number, page in enumerate(pages):
            turn = names[number % len(names):] + names[:number % len(names)]
            for name in turn:
                answers[name].append(workers[name].ask(page.path))
            print(f"  study page {number + 1}/{len(pages)} ({page.kind}); load {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        for worker in workers.values():
            worker.close()
    # Kept beside the pages, so the tables can be printed again from a finished run.
    (workdir / "study" / "answers.json").write_text(json.dumps(
        {"pages": [[str(p.path), p.kind, p.text] for p in pages], "answers": answers}, ensure_ascii=False))
    report_study(pages, answers, names[0])
    thread_layouts(pages, layout_rounds)


def report_study(pages: list[StudyPage], answers: dict[str, list[dict]], today: str) -> None:
    def cer(name: str, kinds: tuple[str, ...], key: str = "text") -> float:
        rates = [char_error_rate(p.text, a[key]) for p, a in zip(pages, answers[name]) if p.kind in kinds]
        return 100 * statistics.median(rates) if rates else float("nan")

    all_kinds = ("form", "two-column", "table")
    base_cpu = sum(a["cpu"] for a in answers[today])
    base_wall = sum(a["wall"] for a in answers[today])
    base_cer = cer(today, all_kinds)
    print(f"\n(s) OCR speed study: {len(pages)} upright pages ({sum(p.kind == 'form' for p in pages)} bench forms, "
          f"{sum(p.kind == 'two-column' for p in pages)} two-column, {sum(p.kind == 'table' for p in pages)} table), "
          "levers interleaved page by page, one onnxruntime thread each")
    print("| lever | CPU s/page | pages/min/core | × today (CPU) | × today (wall) | median CER forms "
          "| two-column | table | all | Δ all vs today |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, rows in answers.items():
        cpu = sum(a["cpu"] for a in rows)
        wall = sum(a["wall"] for a in rows)
        key = "bare" if name.startswith("rapidocr 3") else "text"
        print(f"| {name} | {cpu / len(rows):.2f} | {60 * len(rows) / cpu:.1f} | {base_cpu / cpu:.2f} "
              f"| {base_wall / wall:.2f} | {cer(name, ('form',), key):.2f} % | {cer(name, ('two-column',), key):.2f} % "
              f"| {cer(name, ('table',), key):.2f} % | {cer(name, all_kinds, key):.2f} % "
              f"| {cer(name, all_kinds, key) - base_cer:+.2f} |")
    print(f"    today's engine lines without docsvc's layout (what rapidocr 3 is compared with): median CER all "
          f"{cer(today, all_kinds, 'bare'):.2f} %")


def thread_layouts(pages: list[StudyPage], rounds: int) -> None:
    """The shipped engine on 2 cores three ways: 1 process × 1 thread, 1 process × 2 threads, 2 processes.

    Rounds of 2 pages each way, the order rotating; pages/min per core = pages / wall / cores used.
    """
    if rounds <= 0:
        return
    single, double, other = (OcrWorker({"engine": "docsvc", "threads": t}) for t in (1, 2, 1))
    layouts = ("1 process × 1 thread (1 core)", "1 process × 2 threads (2 cores)", "2 processes × 1 thread (2 cores)")
    walls = dict.fromkeys(layouts, 0.0)
    done = dict.fromkeys(layouts, 0)
    try:
        for worker in (single, double, other):
            worker.wait_ready()
        for number in range(rounds):
            pair = [pages[(2 * number + i) % len(pages)].path for i in range(2)]
            for n in range(3):
                layout = layouts[(number + n) % 3]
                started = time.perf_counter()
                if layout.startswith("2 processes"):
                    single.send(pair[0])
                    other.send(pair[1])
                    single._answer()
                    other._answer()
                else:
                    worker = single if layout.startswith("1 process × 1") else double
                    for path in pair:
                        worker.ask(path)
                walls[layout] += time.perf_counter() - started
                done[layout] += 2
    finally:
        for worker in (single, double, other):
            worker.close()
    print(f"\n(s) thread layout of the shipped engine, {rounds} rounds of 2 pages each way, interleaved "
          f"(load {os.getloadavg()[0]:.2f} at the end)")
    print("| layout | pages/min | pages/min/core | × 1 process × 1 thread (per core) |")
    print("|---|---:|---:|---:|")
    base = done[layouts[0]] / walls[layouts[0]]
    for layout in layouts:
        cores = 1 if "(1 core)" in layout else 2
        rate = done[layout] / walls[layout]
        print(f"| {layout} | {60 * rate:.1f} | {60 * rate / cores:.1f} | {rate / cores / base:.2f} |")


# -- main -------------------------------------------------------------------------------------

def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_gb = _proc_status_kb_meminfo() / 2**20
    return f"{os.cpu_count()} × {cpu}, {mem_gb:.0f} GB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def _proc_status_kb_meminfo() -> int:
    return int(Path("/proc/meminfo").read_text().split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=28, help="scanned pages per engine (cycles the 7 variants)")
    parser.add_argument("--round-pages", type=int, default=4,
                        help="pages per alternating floor / end-to-end round (keep it a multiple of 2)")
    parser.add_argument("--text-pages", type=int, default=200, help="pages of the text-layer PDF")
    parser.add_argument("--upload-mb", type=int, default=1024, help="size of the upload body")
    parser.add_argument("--only", default="a,b,c,d,p,s,r", help="subset of a,b,c,d,p,s,r")
    parser.add_argument("--engines", default="rapidocr,tesseract")
    parser.add_argument("--workdir", type=Path, default=None, help="kept when given; a temp dir otherwise")
    parser.add_argument("--study-forms", type=int, default=5, help="(s) bench form pages (cycles the variants)")
    parser.add_argument("--study-generated", type=int, default=2, help="(s) two-column and table pages, each")
    parser.add_argument("--layout-rounds", type=int, default=4, help="(s) rounds of the thread-layout comparison")
    parser.add_argument("--rapidocr3-python", default=None,
                        help="(s) interpreter of a throwaway venv with `rapidocr` installed: adds its bundled models")
    parser.add_argument("--quantize-python", default=None,
                        help="(s) interpreter with onnxruntime + onnx: derives the int8 models for their levers")
    parser.add_argument("--study-levers", default=None,
                        help="(s) comma-separated beginnings of lever names to run (default: all)")
    parser.add_argument("--ocr-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ocr_worker is not None:
        ocr_worker(json.loads(args.ocr_worker))
        return
    only = set(args.only.split(","))
    engines = args.engines.split(",")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="docsvc-bench-ingest-"))
    workdir.mkdir(parents=True, exist_ok=True)

    print(f"docsvc ingest benchmark, {date.today()}: {machine()}")
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}", flush=True)
    try:
        samples = make_samples(args.pages, workdir / "pages") if only & {"a", "d", "p"} else []
        figures = []
        if only & {"a", "d"}:
            for engine in engines:
                figures.append(measure_engine(engine, samples, workdir, args.round_pages))
            if "a" in only:
                report_throughput(figures)
        if "b" in only:
            measure_text_layer(args.text_pages, workdir)
        if "c" in only:
            measure_upload(args.upload_mb, workdir)
        if "d" in only:
            report_accuracy(figures, samples)
        if "p" in only:
            profile_page_jobs(engines, samples, args.text_pages, workdir)
        if "s" in only:
            speed_study(args.study_forms, args.study_generated, workdir, args.rapidocr3_python,
                        args.quantize_python, args.layout_rounds,
                        args.study_levers.split(",") if args.study_levers else None)
        if "r" in only:
            subprocess.run([sys.executable, str(Path(__file__).with_name("reading_order.py")),
                            "--engines", ",".join(engines)], check=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
