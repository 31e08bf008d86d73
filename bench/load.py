"""Load: concurrent users uploading and searching against the full stack on this machine.

    PYTHONPATH=. .venv/bin/python bench/load.py [--duration 600] [--users 20] [--floor-seconds 30]
                                                [--upload-share 0.2] [--think 2.0] [--redis-url URL]

The stack, each part a process of its own as in docker-compose.yml: a PostgreSQL schema of its own in db
`test`, a redis-server of its own on a free port (or --redis-url, flushed), a moto S3 server, gunicorn (`docsvc.wsgi:app`, gthread 2 workers ×
8 threads, the compose config: docsvc.gunicorn_conf, access log, multiprocess metrics), 2 RQ workers
(`docsvc worker ingest ocr`), the indexer (`docsvc worker index`) and the scheduler.

Each user holds its own API token and keep-alive connection and loops until the clock runs out: with
probability --upload-share it uploads a one-page PDF with a text layer (`POST /api/v1/batches`; generated,
each with a token of its own so no upload is a duplicate), then searches once (`GET /api/v1/search`: half
the time for a token some user uploaded earlier, half for a phrase every page carries), asks /healthz,
and waits --think seconds. Text-layer pages keep the workers from being the only bottleneck: real OCR
runs 5–10 s a page on these 2 cores.

The floor, measured first in the same run: the same number of users asking only /healthz for
--floor-seconds (no dependency, no database), so the search and upload figures read as multiples of
what the web tier costs at all under that concurrency.

Nothing lost, checked after the queues drain: files accepted (202) = BatchFile rows = originals in the
bucket = Page rows = pages in the search index, and every page read. Benchmarks are not tests: the
figures are printed for a human to judge.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import workers  # noqa: E402
from docsvc.config import Settings  # noqa: E402
from docsvc.constants import IndexState  # noqa: E402
from docsvc.governance.accounts import create_user, find_user, issue_token  # noqa: E402
from docsvc.models import BatchFile, Page  # noqa: E402
from docsvc.runtime import build_runtime  # noqa: E402
from storage import ORIGINALS_PREFIX  # noqa: E402
from tests.processes import free_port  # noqa: E402
from tests.testdata import make_text_pdf  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
COMMON_PHRASE = "产权分界点"
PASSWORD = "load-test-password"


def wait_http(url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout_s}s")


def wait_redis(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            Redis.from_url(url).ping()
            return
        except RedisConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


@dataclass
class Results:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)  # uploaded and accepted

    def record(self, kind: str, seconds: float, status: int) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            self.statuses.setdefault(kind, Counter())[status] += 1


def timed(results: Results, kind: str, call) -> requests.Response | None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    try:
        response = call()
    except requests.RequestException as exc:
        results.record(kind, time.perf_counter() - started, 0)
        with results.lock:
            results.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
        return None
    results.record(kind, time.perf_counter() - started, response.status_code)
    if response.status_code >= 500:
        with results.lock:
            results.errors.append(f"{kind}: {response.status_code} {response.text[:200]}")
    return response


def client() -> requests.Session:
    """A keep-alive session that acts like a browser: gunicorn closes a connection idle for 2 s (its
    keep-alive), and a request sent on it just then meets a reset; a browser sends a GET again on a new
    connection, so this does too. An upload is never sent twice (it could be stored twice): each one goes
    on a new connection of its own, never on an idle one."""
    session = requests.Session()
    retry = Retry(total=1, connect=1, read=1, status=0, allowed_methods=frozenset({"GET"}), raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


def floor_user(base: str, until: float, results: Results) -> None:
    with client() as http:
        while time.monotonic() < until:
            timed(results, "healthz (floor)", lambda: http.get(f"{base}/healthz", timeout=60))


def load_user(n: int, base: str, token: str, until: float, args: argparse.Namespace, results: Results,
              scratch: Path) -> None:
    rng = random.Random(n)
    headers = {"Authorization": f"Bearer {token}"}
    pdf_path = scratch / f"user-{n}.pdf"
    sequence = 0
    with client() as http:
        http.headers.update(headers)
        while time.monotonic() < until:
            if rng.random() < args.upload_share:
                sequence += 1
                mark = f"LD-{n:02d}-{sequence:06d}"
                make_text_pdf([f"用电客户档案 负荷测试 {mark}\n本合同{COMMON_PHRASE}位于配电室出线侧。\n"
                               f"户号 {rng.randrange(10**9, 10**10)} 计量点 {uuid.uuid4().hex[:8]}"], pdf_path)
                data = pdf_path.read_bytes()
                # a new connection for each upload (requests.post opens its own), never an idle one
                response = timed(results, "upload", lambda: requests.post(
                    f"{base}/api/v1/batches", files={"files": (f"{mark}.pdf", data, "application/pdf")},
                    headers=headers, timeout=120))
                if response is not None and response.status_code == 202:
                    with results.lock:
                        results.tokens.append(mark)
            with results.lock:
                known = rng.choice(results.tokens) if results.tokens and rng.random() < 0.5 else COMMON_PHRASE
            timed(results, "search", lambda: http.get(f"{base}/api/v1/search", params={"q": known}, timeout=120))
            timed(results, "healthz (under load)", lambda: http.get(f"{base}/healthz", timeout=60))
            time.sleep(args.think * rng.uniform(0.5, 1.5))


def run_users(count: int, user) -> None:  # type: ignore[no-untyped-def]
    """`user(i)` on `count` threads at once, until each returns."""
    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of mixed load (default 600)")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--floor-seconds", type=float, default=30.0)
    parser.add_argument("--upload-share", type=float, default=0.2, help="chance a user's round uploads a file")
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds a user waits between rounds")
    parser.add_argument("--drain-timeout", type=float, default=1800.0)
    parser.add_argument("--redis-url", help="an existing Redis to use (its db is flushed); default: a "
                        "redis-server of the benchmark's own on a free port, so nothing else shares its queues")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "docsvc-bench-load")
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    (args.workdir / "metrics").mkdir(parents=True)
    scratch = args.workdir / "scratch"
    scratch.mkdir()

    # a TERM (or the end of a shell's job) runs the clean-up below, so no server is left behind
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    schema = f"load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    s3_port, web_port = free_port(), free_port()
    processes: list[subprocess.Popen[bytes]] = []
    logs = (args.workdir / "logs")
    logs.mkdir()

    def start(name: str, *command: str) -> subprocess.Popen[bytes]:
        with (logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(list(command), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "DOCSVC_DATA_DIR": str(args.workdir / "var"),
           "DOCSVC_DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{schema}",
           "DOCSVC_S3_ENDPOINT": f"127.0.0.1:{s3_port}", "DOCSVC_S3_ACCESS_KEY": "load",
           "DOCSVC_S3_SECRET_KEY": "load-secret", "DOCSVC_S3_BUCKET": "docsvc-load",
           "DOCSVC_SECRET_KEY": "load", "DOCSVC_OCR_ENGINE": "tesseract",
           "PROMETHEUS_MULTIPROC_DIR": str(args.workdir / "metrics"), "OMP_THREAD_LIMIT": "1"}
    try:
        if args.redis_url:
            redis_url = args.redis_url
        else:
            redis_port = free_port()
            start("redis", "redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", str(args.workdir))
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            wait_redis(redis_url, 20)
        Redis.from_url(redis_url).flushdb()
        env["DOCSVC_REDIS_URL"] = redis_url
        moto = start("moto", sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port))
        wait_http(f"http://127.0.0.1:{s3_port}/moto-api/", 30, moto)
        subprocess.run([sys.executable, "-m", "docsvc.cli", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        workers.wire()
        rt = build_runtime(Settings.from_env({k: v for k, v in env.items() if k.startswith("DOCSVC_")}))
        tokens = []
        with rt.sessions() as session:
            for i in range(args.users):
                user = create_user(session, f"load{i:02d}", PASSWORD, ["operator", "archivist"])
                tokens.append(issue_token(session, user, "load"))
        base = f"http://127.0.0.1:{web_port}"
        web = start("web", sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{web_port}",
                    "--config", "python:docsvc.gunicorn_conf", "--access-logfile", "-",
                    "--worker-class", "gthread", "--workers", "2", "--threads", "8", "docsvc.wsgi:app")
        for i in range(2):
            start(f"worker{i}", sys.executable, "-m", "docsvc.cli", "worker", "ingest", "ocr")
        start("indexer", sys.executable, "-m", "docsvc.cli", "worker", "index")
        start("scheduler", sys.executable, "-m", "docsvc.cli", "scheduler", "--interval", "30")
        wait_http(f"{base}/readyz", 60, web)

        floor = Results()
        floor_until = time.monotonic() + args.floor_seconds
        run_users(args.users, lambda _i: floor_user(base, floor_until, floor))

        results = Results()
        started = time.monotonic()
        run_users(args.users, lambda i: load_user(i, base, tokens[i], started + args.duration, args, results, scratch))
        elapsed = time.monotonic() - started
        print(f"load phase: {elapsed:.0f} s; waiting for the queues to drain", flush=True)

        drained_in, counts = drain(rt, args.drain_timeout)
        report(args, floor, results, elapsed, drained_in, counts, rt, base)
        rt.close()
    finally:
        for process in reversed(processes):  # the services first, then Redis and S3 under them
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def counts_now(rt) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        return {
            "batch_files": session.scalar(select(func.count()).select_from(BatchFile)) or 0,
            "files_unfinished": session.scalar(select(func.count()).select_from(BatchFile)
                                               .where(BatchFile.status.in_(("queued", "running")))) or 0,
            "pages": session.scalar(select(func.count()).select_from(Page)) or 0,
            "pages_done": session.scalar(select(func.count()).select_from(Page).where(Page.status == "done")) or 0,
            "pages_failed": session.scalar(select(func.count()).select_from(Page).where(Page.status == "failed")) or 0,
            "index_pending": session.scalar(select(func.count()).select_from(Page)
                                            .where(Page.index_state == IndexState.PENDING)) or 0,
            "queued_jobs": sum(rt.jobs.status().waiting.values()),
        }


def drain(rt, timeout_s: float) -> tuple[float, dict[str, int]]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while True:
        counts = counts_now(rt)
        settled = (counts["files_unfinished"] == 0 and counts["pages"] == counts["pages_done"] + counts["pages_failed"]
                   and counts["index_pending"] == 0 and counts["queued_jobs"] == 0)
        if settled or time.monotonic() - started > timeout_s:
            return time.monotonic() - started, counts
        time.sleep(1)


def report(args, floor: Results, results: Results, elapsed: float, drained_in: float,  # type: ignore[no-untyped-def]
           counts: dict[str, int], rt, base: str) -> None:
    originals = sum(1 for _ in rt.store.list(ORIGINALS_PREFIX))
    indexed = rt.index.page_count()
    accepted = len(results.tokens)
    # every accepted upload's token finds its page through the API (a sample of 50)
    sample = random.Random(0).sample(results.tokens, min(50, accepted))
    with rt.sessions() as session:
        token = issue_token(session, find_user(session, "load00"), "check")  # type: ignore[arg-type]
    found = sum(1 for mark in sample if requests.get(f"{base}/api/v1/search", params={"q": mark}, timeout=60,
                                                     headers={"Authorization": f"Bearer {token}"}).json()["total"] >= 1)

    print(f"\n## Load: {args.users} users, {elapsed:.0f} s (floor phase {args.floor_seconds:.0f} s), "
          f"upload share {args.upload_share}, think {args.think} s\n")
    print("| request | count | p50 | p95 | p99 | p95 ÷ floor p95 | non-2xx | 5xx / failed |")
    print("|---|---|---|---|---|---|---|---|")
    floor_p95 = percentile(floor.latencies.get("healthz (floor)", []), 95)
    for source, kind in ((floor, "healthz (floor)"), (results, "healthz (under load)"), (results, "search"),
                         (results, "upload")):
        values = source.latencies.get(kind, [])
        statuses = source.statuses.get(kind, Counter())
        bad = sum(n for s, n in statuses.items() if s >= 500 or s == 0)
        other = sum(n for s, n in statuses.items() if not 200 <= s < 300)
        print(f"| {kind} | {len(values)} | {percentile(values, 50) * 1000:.0f} ms | "
              f"{percentile(values, 95) * 1000:.0f} ms | {percentile(values, 99) * 1000:.0f} ms | "
              f"{percentile(values, 95) / floor_p95:.1f}× | {other} | {bad} |")
    total = sum(len(v) for v in results.latencies.values())
    print(f"\nthroughput (load phase): {total / elapsed:.1f} requests/s; {accepted / elapsed * 60:.1f} uploads/min; "
          f"searches {len(results.latencies.get('search', [])) / elapsed:.1f}/s")
    print(f"drain after the load: {drained_in:.0f} s")
    print("\n| nothing lost | count |\n|---|---|")
    for name, value in (("uploads accepted (202)", accepted), ("BatchFile rows", counts["batch_files"]),
                        ("originals in the bucket", originals), ("Page rows", counts["pages"]),
                        ("pages read (done)", counts["pages_done"]), ("pages failed", counts["pages_failed"]),
                        ("pages in the search index", indexed), ("index-pending after drain", counts["index_pending"]),
                        (f"sampled tokens found by search (of {len(sample)})", found)):
        print(f"| {name} | {value} |")
    same = accepted == counts["batch_files"] == originals == counts["pages"] == counts["pages_done"] == indexed
    print(f"\nnothing lost: {'yes' if same and found == len(sample) else 'NO'}; 5xx/connection errors: "
          f"{len(results.errors) + len(floor.errors)}")
    for error in (floor.errors + results.errors)[:10]:
        print("  ", error)
    print(f"\nmachine: {os.cpu_count()} cores, load average now {os.getloadavg()}")


if __name__ == "__main__":
    main()
