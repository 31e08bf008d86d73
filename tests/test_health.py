"""/healthz says the process is alive; /readyz says whether each dependency answers, and names the one that
does not. The full stack's dependencies are real servers the fixtures start and stop: a redis-server and a
moto S3 server of the test's own on free ports, PostgreSQL on its own schema (and a closed port for "down")."""
from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from docsvc import create_app, db, health
from docsvc.config import Settings
from docsvc.db import make_engine, make_sessionmaker
from docsvc.runtime import Runtime, build_runtime
from tests.faultservices import RedisServer
from tests.processes import free_port, stop
from tests.s3server import ACCESS_KEY, SECRET_KEY, _wait_until_ready

pytestmark = pytest.mark.integration   # servers of the test's own, as processes

DEPENDENCIES = {"database", "redis", "object_store", "index"}


def test_healthz_answers_alive_without_looking_at_anything(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["X-Request-ID"]


def test_readyz_in_the_embedded_default_reports_redis_as_not_used(client: FlaskClient,
                                                                   embedded_runtime: Runtime) -> None:
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ready" and body["down"] == []
    assert set(body["dependencies"]) == DEPENDENCIES
    assert body["dependencies"]["redis"] == {"status": "not used"}
    for name in ("database", "object_store", "index"):
        assert body["dependencies"][name]["status"] == "ok"
        assert body["dependencies"][name]["latency_ms"] >= 0
    assert embedded_runtime.settings.secret_key not in response.get_data(as_text=True)


def test_readyz_names_a_search_index_that_is_gone(client: FlaskClient, embedded_runtime: Runtime) -> None:
    shutil.rmtree(embedded_runtime.index.current_directory())
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["status"] == "not ready" and body["down"] == ["index"]
    assert "docsvc reindex" in body["dependencies"]["index"]["error"]
    assert client.get("/healthz").status_code == 200


def test_error_texts_never_show_the_passwords_of_the_settings(tmp_path: Path) -> None:
    settings = Settings.from_env({
        "DOCSVC_DATA_DIR": str(tmp_path), "DOCSVC_SECRET_KEY": "x",
        "DOCSVC_DATABASE_URL": "postgresql+psycopg://docsvc:db-pass-1@db/docsvc",
        "DOCSVC_REDIS_URL": "redis://:redis%2Fpass@redis:6379/0",
        "DOCSVC_S3_ENDPOINT": "minio:9000", "DOCSVC_S3_ACCESS_KEY": "docsvc", "DOCSVC_S3_SECRET_KEY": "s3-pass-1"})
    text = "failed for postgresql://docsvc:db-pass-1@db, redis://:redis/pass@redis and key s3-pass-1"
    assert health.redact(text, health.secrets_of(settings)) == \
        "failed for postgresql://docsvc:***@db, redis://:***@redis and key ***"


# --- the full stack ------------------------------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A redis-server of this test's own, so the test can stop it."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    assert server.process is not None
    yield server.process, server.url
    server.stop()


@pytest.fixture
def own_moto(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A moto S3 server of this test's own (the session's shared one must stay up for other tests)."""
    port = free_port()
    log_path = tmp_path / "moto.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
    _wait_until_ready(process, port, log_path)
    yield process, f"127.0.0.1:{port}"
    stop(process)


@pytest.fixture
def stack(pg_schema: str, own_redis: tuple[subprocess.Popen[bytes], str],
          own_moto: tuple[subprocess.Popen[bytes], str], tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings.from_env({
        "DOCSVC_DATA_DIR": str(tmp_path / "var"), "DOCSVC_DATABASE_URL": pg_schema,
        "DOCSVC_REDIS_URL": own_redis[1], "DOCSVC_S3_ENDPOINT": own_moto[1], "DOCSVC_S3_ACCESS_KEY": ACCESS_KEY,
        "DOCSVC_S3_SECRET_KEY": SECRET_KEY, "DOCSVC_S3_BUCKET": f"docsvc-{uuid.uuid4().hex[:8]}",
        "DOCSVC_SECRET_KEY": "stack-secret", "DOCSVC_OCR_ENGINE": "tesseract"})
    rt = build_runtime(settings)
    db.upgrade(rt.engine)
    yield rt
    rt.close()


@pytest.fixture
def stack_app(stack: Runtime) -> Flask:
    return create_app(runtime=stack)


def readyz(app: Flask) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = app.test_client().get("/readyz")
    text = response.get_data(as_text=True)
    for secret in (SECRET_KEY, ACCESS_KEY, "stack-secret"):
        assert secret not in text, "a secret in the readiness answer"
    return response.status_code, response.get_json()


def test_readyz_with_the_whole_stack_up(stack_app: Flask) -> None:
    status, body = readyz(stack_app)
    assert status == 200, body
    assert body["down"] == []
    assert {name: dep["status"] for name, dep in body["dependencies"].items()} == dict.fromkeys(DEPENDENCIES, "ok")
    assert all(dep["latency_ms"] >= 0 for dep in body["dependencies"].values())


def test_redis_down_makes_readyz_503_naming_redis(stack_app: Flask,
                                                   own_redis: tuple[subprocess.Popen[bytes], str]) -> None:
    stop(own_redis[0])
    status, body = readyz(stack_app)
    assert status == 503
    assert body["down"] == ["redis"]
    assert body["dependencies"]["redis"]["status"] == "down"
    assert "ConnectionError" in body["dependencies"]["redis"]["error"]
    assert stack_app.test_client().get("/healthz").status_code == 200


def test_object_store_down_makes_readyz_503_naming_it(stack_app: Flask,
                                                       own_moto: tuple[subprocess.Popen[bytes], str]) -> None:
    stop(own_moto[0])
    status, body = readyz(stack_app)
    assert status == 503
    assert body["down"] == ["object_store"]
    assert own_moto[1] in body["dependencies"]["object_store"]["error"]  # where it looked, not with what key
    assert stack_app.test_client().get("/healthz").status_code == 200


def test_database_down_makes_readyz_503_naming_it_without_its_password(stack_app: Flask, stack: Runtime) -> None:
    closed = free_port()  # nothing listens there
    engine = make_engine(f"postgresql+psycopg://postgres:pw-never-shown@127.0.0.1:{closed}/test")
    stack_app.extensions["docsvc"] = dataclasses.replace(
        stack, engine=engine, sessions=make_sessionmaker(engine),
        settings=stack.settings.with_(database_url=engine.url.render_as_string(False)))
    try:
        status, body = readyz(stack_app)
        assert status == 503
        assert body["down"] == ["database"]
        error = body["dependencies"]["database"]["error"]
        assert str(closed) in error and "pw-never-shown" not in error
        client = stack_app.test_client()
        assert client.get("/healthz").status_code == 200
        # the metrics still answer, saying which source could not be read
        metrics = client.get("/metrics").get_data(as_text=True)
        assert 'docsvc_metrics_source_up{source="database"} 0.0' in metrics
    finally:
        engine.dispose()


def test_a_database_that_never_answers_counts_as_down_after_the_timeout(stack_app: Flask, stack: Runtime) -> None:
    silent = socket.socket()  # accepts connections (the kernel's backlog) and never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/test")
    stack_app.extensions["docsvc"] = dataclasses.replace(stack, engine=engine, sessions=make_sessionmaker(engine))
    try:
        status, body = readyz(stack_app)
        assert status == 503 and body["down"] == ["database"]
        assert body["dependencies"]["database"]["error"] == f"no answer within {health.CHECK_TIMEOUT_S:g} s"
        assert body["dependencies"]["redis"]["status"] == "ok"  # the others were asked side by side
    finally:
        silent.close()
        engine.dispose()
