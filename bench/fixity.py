"""Fixity benchmark: re-hashing originals (governance.fixity.run) against reading them with a plain loop.

    .venv/bin/python bench/fixity.py [--count 200] [--size-mb 2] [--s3-count 100] [--s3-size-mb 1]
                                     [--workdir /tmp/docsvc-bench-fixity]

  local  --count originals of --size-mb random bytes in the embedded local store, each with its
         intake record and document (SQLite): `fixity.run(budget_bytes=None, rate_bytes_s=None)`
         (listing, the database, streaming SHA-256, one fixity_checks row and commit per original)
         against the floor: the same keys read through store.open in 1 MiB reads, bytes discarded.
  s3     the same on the S3 protocol against a moto server on loopback (--s3-count × --s3-size-mb).

Each is measured twice in the order floor, fixity, floor, fixity; the second pair is reported (the
page cache is warm for both, so the comparison is the hashing and bookkeeping, not the disk). The
rate limit is off here; in service it caps reading at DOCSVC_FIXITY_RATE_MB_S. Nothing here asserts.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from docsvc import db as dbmod  # noqa: E402
from docsvc.config import Settings  # noqa: E402
from docsvc.governance import fixity  # noqa: E402
from docsvc.models import Batch, BatchFile, Document  # noqa: E402
from docsvc.runtime import Runtime, build_runtime  # noqa: E402
from storage import ObjectStore, S3Store  # noqa: E402
import workers  # noqa: E402

workers.wire()  # this script is an entry point: it hands runtimes their job queues


def seed(rt: Runtime, store: ObjectStore, count: int, size: int) -> list[str]:
    keys = []
    with rt.sessions() as session:
        batch = Batch(source="cli")
        session.add(batch)
        session.flush()
        for n in range(count):
            stored, _ = store.put_original(BytesIO(os.urandom(size)), "application/pdf")
            bf = BatchFile(batch_id=batch.id, position=n, filename=f"{n}.pdf", size=size, sha256=stored.sha256,
                           original_key=stored.key, status="done")
            session.add(bf)
            session.flush()
            session.add(Document(batch_file_id=bf.id, sha256=stored.sha256, original_key=stored.key,
                                 media_type="application/pdf", reference_code=f"J001-KH·2020-D30-YX-{n:04d}"))
            keys.append(stored.key)
        session.commit()
    return keys


def floor(store: ObjectStore, keys: list[str]) -> float:
    started = time.perf_counter()
    for key in keys:
        with store.open(key) as stream:
            while stream.read(fixity.READ_CHUNK):
                pass
    return time.perf_counter() - started


def hashed(rt: Runtime, store: ObjectStore) -> tuple[float, fixity.FixityReport]:
    started = time.perf_counter()
    with rt.sessions() as session:
        report = fixity.run(session, store, budget_bytes=None, rate_bytes_s=None)
    return time.perf_counter() - started, report


def measure(name: str, rt: Runtime, store: ObjectStore, count: int, size_mb: float) -> None:
    keys = seed(rt, store, count, int(size_mb * fixity.MB))
    total_mb = count * size_mb
    for _ in range(2):
        plain = floor(store, keys)
        took, report = hashed(rt, store)
    assert report.checked == count and report.ok, report.counts()
    print(f"| {name}: {count} × {size_mb:g} MB | plain read {plain:.2f} s → {total_mb / plain:.0f} MB/s, "
          f"{count / plain:.0f} originals/s | fixity {took:.2f} s → **{total_mb / took:.0f} MB/s**, "
          f"{count / took:.0f} originals/s | {took / plain:.2f}× |")


def moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1).close()
            return process, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--size-mb", type=float, default=2)
    parser.add_argument("--s3-count", type=int, default=100)
    parser.add_argument("--s3-size-mb", type=float, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/docsvc-bench-fixity"))
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    env = {"DOCSVC_SECRET_KEY": "bench", "DOCSVC_WORKERS": "1"}

    rt = build_runtime(Settings.from_env({**env, "DOCSVC_DATA_DIR": str(args.workdir / "local")}))
    dbmod.upgrade(rt.engine)
    print("| store | floor: plain read | fixity.run | fixity ÷ floor |")
    print("|---|---|---|---|")
    measure("local", rt, rt.store, args.count, args.size_mb)
    rt.close()

    process, endpoint = moto()
    try:
        rt = build_runtime(Settings.from_env({**env, "DOCSVC_DATA_DIR": str(args.workdir / "s3")}))
        dbmod.upgrade(rt.engine)
        store = S3Store(endpoint, "bench", "bench-secret", "docsvc-bench", cache_dir=args.workdir / "cache")
        measure("S3 (moto, loopback)", rt, store, args.s3_count, args.s3_size_mb)
        rt.close()
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
