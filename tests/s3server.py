"""pytest plugin: a real S3 endpoint (moto's standalone server) for tests of S3-backed code.

Moto runs as a separate process on a free loopback port, so the code under test speaks the
same HTTP S3 protocol to it as it does to MinIO. Register with
`pytest_plugins = ["tests.s3server"]` in tests/conftest.py.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from minio import Minio
from minio.deleteobjects import DeleteObject

from storage import S3Store
from tests.processes import free_port, stop

ACCESS_KEY = "docsvc-test"
SECRET_KEY = "docsvc-test-secret"
START_TIMEOUT_S = 30


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_ready(process, port, log_path)
        yield {"endpoint": f"127.0.0.1:{port}", "access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
    finally:
        stop(process)


@pytest.fixture
def s3_client(s3_server: dict[str, str]) -> Minio:
    """A plain SDK client, for tests that check what really is on the server."""
    return Minio(
        s3_server["endpoint"], access_key=s3_server["access_key"], secret_key=s3_server["secret_key"], secure=False
    )


@pytest.fixture
def s3_store(s3_server: dict[str, str], s3_client: Minio, tmp_path: Path) -> Iterator[S3Store]:
    """A fresh S3Store on its own bucket; the bucket and every version in it are removed after the test."""
    bucket = f"docsvc-test-{uuid.uuid4().hex[:16]}"
    store = S3Store(
        s3_server["endpoint"],
        s3_server["access_key"],
        s3_server["secret_key"],
        bucket,
        cache_dir=tmp_path / "s3-cache",
    )
    yield store
    # Moto keeps objects in its own memory for the whole session; give it back.
    leftovers = [
        DeleteObject(obj.object_name, version_id=obj.version_id)
        for obj in s3_client.list_objects(bucket, recursive=True, include_version=True)
    ]
    for error in s3_client.remove_objects(bucket, leftovers):
        raise AssertionError(f"could not clean test bucket {bucket}: {error}")
    s3_client.remove_bucket(bucket)


def _wait_until_ready(process: subprocess.Popen, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}: {log_path.read_text(errors='replace')}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1).close()
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"moto server did not answer on port {port} within {START_TIMEOUT_S}s: {log_path.read_text(errors='replace')}")
