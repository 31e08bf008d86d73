"""Long operations on the full stack: PostgreSQL, Redis, an RQ worker on the `operations` queue in a process
of its own, S3 (moto). The browser's session and the worker share nothing but the database and the store."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import func, select

from docsvc import create_app, db
from docsvc.config import Settings
from docsvc.models import Customer
from docsvc.runtime import Runtime, build_runtime, install
from tests.conftest import REDIS_URL, ROOT, AuthActions, Users
from tests.processes import stop
from tests.operations_setup import customers_csv, fresh_client, start_import, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(pg_schema: str, s3_server: dict[str, str], tmp_path: Path) -> Iterator[Runtime]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {
        "DOCSVC_DATA_DIR": str(tmp_path / "var"), "DOCSVC_DATABASE_URL": pg_schema, "DOCSVC_REDIS_URL": REDIS_URL,
        "DOCSVC_S3_ENDPOINT": s3_server["endpoint"], "DOCSVC_S3_ACCESS_KEY": s3_server["access_key"],
        "DOCSVC_S3_SECRET_KEY": s3_server["secret_key"], "DOCSVC_S3_BUCKET": f"docsvc-{uuid.uuid4().hex[:8]}",
        "DOCSVC_SECRET_KEY": "test", "DOCSVC_BACKUP_DIR": str(tmp_path / "backups"),
        "DOCSVC_PASSWORD_HASH_MEMORY_KIB": "64", "DOCSVC_PASSWORD_HASH_ITERATIONS": "1",
    }
    rt = build_runtime(Settings.from_env(env))
    db.upgrade(rt.engine)
    install(rt)
    worker = subprocess.Popen([sys.executable, "-m", "docsvc.cli", "worker", "operations"],
                              env={**os.environ, **env}, cwd=ROOT)
    yield rt
    stop(worker, timeout_s=20)
    rt.close()


def test_imports_backups_and_rebuilds_run_on_an_rq_worker_and_any_request_reads_their_progress(
        stack: Runtime, tmp_path: Path) -> None:
    app = create_app(runtime=stack)
    client = app.test_client()
    auth = AuthActions(client, Users(stack))
    auth.login("adm", "admin", "archivist")

    imported = start_import(client, auth, customers_csv(2000))
    state = wait_for(client, imported)
    assert state["status"] == "done" and state["done"] == state["total"] == 2000, state
    assert state["summary"]["created"] == 2000
    with stack.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 2000

    backed_up = _post(client, auth, "/operations/backup")
    state = wait_for(client, backed_up)
    assert state["status"] == "done" and state["done"] == state["total"], state
    assert Path(state["summary"]["folder"]).parent == tmp_path / "backups"
    assert (Path(state["summary"]["folder"]) / "bagit.txt").exists()

    rebuilt = _post(client, auth, "/operations/reindex")
    assert wait_for(client, rebuilt)["status"] == "done"

    other = fresh_client(client, "adm")  # a reload, another browser: the same record
    listing = other.get("/operations/").get_data(as_text=True)
    assert all(f'data-operation="{n}"' in listing for n in (imported, backed_up, rebuilt))
    assert other.get(f"/operations/{imported}/progress").get_json()["summary"]["created"] == 2000


def _post(client: FlaskClient, auth: AuthActions, path: str) -> int:
    response = client.post(path, data={"csrf_token": auth.csrf("/operations/")})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[-1])
