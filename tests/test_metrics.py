"""/metrics speaks Prometheus text, and its numbers move with the work: pages read and failed, OCR time,
HTTP requests by endpoint, the index lag and fixity. The multi-process cases run as processes: gunicorn's
workers add up through PROMETHEUS_MULTIPROC_DIR, and an RQ worker serves its own page counters."""
from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

import workers.jobs
from docsvc import create_app, db
from docsvc.config import Settings
from docsvc.constants import JobState
from docsvc.governance import fixity
from docsvc.models import AuditEvent, Page, as_utc
from docsvc.runtime import Runtime, build_runtime, install
from tests.conftest import REDIS_URL, ROOT, Users, settings_for, wait_for_batch
from tests.factories import add_document
from tests.processes import stop
from tests.processes import free_port
from tests.scans import text_pdf_bytes, tiff_bytes
from tests.samples import form_text

pytestmark = pytest.mark.integration   # gunicorn and RQ workers as processes, tesseract

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(text: str) -> Samples:
    """Every sample of a scrape, by name and labels; parsing fails on anything that is not the text format."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def metrics_of(client: FlaskClient, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return scrape(response.get_data(as_text=True))


def test_metrics_parse_and_name_every_gauge(client: FlaskClient) -> None:
    samples = metrics_of(client)
    for queue in ("ingest", "ocr", "index"):
        assert value(samples, "docsvc_queue_length", queue=queue) == 0
    assert ("docsvc_index_lag_pages", ()) in samples
    for result in ("intact", "altered", "missing", "unexpected"):
        assert ("docsvc_fixity_originals", (("result", result),)) in samples
    assert value(samples, "docsvc_metrics_source_up", source="database") == 1


def test_http_latency_is_counted_by_endpoint_name_not_by_path(client: FlaskClient) -> None:
    before = metrics_of(client)
    client.get("/healthz")
    client.get("/api/v1/pages/987654")  # a path with an id: one series for the endpoint, not one per page
    after = metrics_of(client)
    count = "docsvc_http_request_duration_seconds_count"
    assert value(after, count, endpoint="healthz", method="GET", status="200") == \
        value(before, count, endpoint="healthz", method="GET", status="200") + 1
    endpoints = {dict(labels).get("endpoint") for (name, labels) in after if name == count}
    assert "987654" not in " ".join(e or "" for e in endpoints)
    assert all("/" not in (e or "") for e in endpoints)


@pytest.fixture
def tesseract_runtime(tmp_path: Path, migrated_sqlite: Path) -> Iterator[Runtime]:
    """The embedded default with tesseract (a quicker OCR than RapidOCR for one page)."""
    settings = settings_for(tmp_path / "var", DOCSVC_OCR_ENGINE="tesseract")
    settings.data_dir.mkdir(parents=True)
    shutil.copyfile(migrated_sqlite, settings.data_dir / "docsvc.sqlite3")
    rt = build_runtime(settings)
    install(rt)
    yield rt
    rt.close()


def test_reading_pages_moves_the_page_counters_the_ocr_histogram_and_the_index_lag(
        tesseract_runtime: Runtime, tmp_path: Path) -> None:
    app = create_app(runtime=tesseract_runtime)
    client = app.test_client()
    api = {"Authorization": f"Bearer {Users(tesseract_runtime).token('scanner', 'operator')}"}
    before = metrics_of(client)

    response = client.post("/api/v1/batches", headers=api, content_type="multipart/form-data", data={
        "files": [(io.BytesIO(text_pdf_bytes([form_text(31)], tmp_path)), "bill.pdf"),
                  (io.BytesIO(tiff_bytes([32])), "scan.tif")]})
    assert response.status_code == 202
    batch_id = response.get_json()["id"]
    wait_for_batch(lambda: client.get(f"/api/v1/batches/{batch_id}", headers=api).get_json(), 300)

    after = metrics_of(client)
    processed = "docsvc_pages_processed_total"
    assert value(after, processed, source="text_layer") == value(before, processed, source="text_layer") + 1
    assert value(after, processed, source="ocr") == value(before, processed, source="ocr") + 1
    ocr = "docsvc_ocr_seconds_count"
    assert value(after, ocr, engine="tesseract") == value(before, ocr, engine="tesseract") + 1
    assert value(after, "docsvc_ocr_seconds_sum", engine="tesseract") > value(before, "docsvc_ocr_seconds_sum",
                                                                               engine="tesseract")
    # the upload itself is timed under its endpoint's name
    assert any(name == "docsvc_http_request_duration_seconds_count" and dict(labels)["method"] == "POST"
               and dict(labels)["status"] == "202" for name, labels in after)

    # read but not yet indexed: the lag counts them; once the index job ran, none is left
    with tesseract_runtime.sessions() as session:
        pages = session.scalars(select(Page)).all()
    tesseract_runtime.jobs.wait_idle(60)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while value(metrics_of(client), "docsvc_index_lag_pages") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert value(metrics_of(client), "docsvc_index_lag_pages") == 0 and len(pages) == 2


def test_index_lag_counts_pages_read_but_not_indexed(app: Flask, embedded_runtime: Runtime) -> None:
    with embedded_runtime.sessions() as session:
        add_document(session, texts=["一", "二", "三"], index_state="pending")
        session.commit()
    assert value(metrics_of(app.test_client()), "docsvc_index_lag_pages") == 3


def test_a_page_that_fails_for_good_moves_the_failed_counter(app: Flask, embedded_runtime: Runtime) -> None:
    stored, _ = embedded_runtime.store.put_original(io.BytesIO(b"%PDF-1.4 this is no PDF at all " * 10))
    with embedded_runtime.sessions() as session:
        document = add_document(session, sha256=stored.sha256, original_key=stored.key, media_type="application/pdf",
                                texts=[None], page_status=JobState.QUEUED, index_state="none")
        session.commit()
        page_id = document.pages[0].id
    client = app.test_client()
    before = value(metrics_of(client), "docsvc_pages_failed_total")

    workers.jobs.process_page(page_id)

    with embedded_runtime.sessions() as session:
        assert session.get(Page, page_id).status == JobState.FAILED  # type: ignore[union-attr]
    assert value(metrics_of(client), "docsvc_pages_failed_total") == before + 1


def test_fixity_results_and_last_run_time(app: Flask, embedded_runtime: Runtime) -> None:
    stored, _ = embedded_runtime.store.put_original(io.BytesIO(b"an original"))
    with embedded_runtime.sessions() as session:
        add_document(session, sha256=stored.sha256, original_key=stored.key, texts=["一"])
        add_document(session, key="b", texts=["二"])  # names originals/b…, which the store lacks
        session.commit()
        fixity.run(session, embedded_runtime.store, budget_bytes=None)
        finished = session.scalars(select(AuditEvent).where(AuditEvent.action == "fixity.run")).one().occurred_at
    samples = metrics_of(app.test_client())
    assert value(samples, "docsvc_fixity_originals", result="intact") == 1
    assert value(samples, "docsvc_fixity_originals", result="missing") == 1
    assert value(samples, "docsvc_fixity_originals", result="altered") == 0
    assert abs(value(samples, "docsvc_fixity_last_run_timestamp_seconds") - as_utc(finished).timestamp()) < 1


def test_a_metrics_token_is_asked_for_when_set_and_never_audited(embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    app = create_app(runtime=dataclasses.replace(rt, settings=rt.settings.with_(metrics_token="s3cret-m")),
                     start_workers=False)
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401 and "DOCSVC_METRICS_TOKEN" in refused.get_data(as_text=True)
    assert metrics_of(client, Authorization="Bearer s3cret-m")
    # the probes stay open; the metrics token is not an API token, so no refused-token event is recorded
    assert client.get("/healthz").status_code == 200
    with rt.sessions() as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.action.like("%token%"))).all() == []


# --- processes -------------------------------------------------------------------------------------------


def wait_url(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args} exited with {process.returncode}"
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout_s}s")


@pytest.fixture
def stack_env(pg_schema: str, s3_server: dict[str, str], tmp_path: Path) -> dict[str, str]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    return {
        "DOCSVC_DATA_DIR": str(tmp_path / "var"), "DOCSVC_DATABASE_URL": pg_schema, "DOCSVC_REDIS_URL": REDIS_URL,
        "DOCSVC_S3_ENDPOINT": s3_server["endpoint"], "DOCSVC_S3_ACCESS_KEY": s3_server["access_key"],
        "DOCSVC_S3_SECRET_KEY": s3_server["secret_key"], "DOCSVC_S3_BUCKET": f"docsvc-{uuid.uuid4().hex[:8]}",
        "DOCSVC_SECRET_KEY": "test", "DOCSVC_OCR_ENGINE": "tesseract",
    }


def test_gunicorn_workers_add_up_their_metrics_and_log_json_lines(stack_env: dict[str, str], tmp_path: Path) -> None:
    rt = build_runtime(Settings.from_env(stack_env))
    db.upgrade(rt.engine)
    rt.close()
    multiproc = tmp_path / "metrics"
    multiproc.mkdir()
    (multiproc / "counter_999999.db").write_bytes(b"left by a previous run")  # gunicorn's start removes it
    port = free_port()
    env = {**os.environ, **stack_env, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
           "DOCSVC_LOG_FORMAT": "json"}
    out, err = tmp_path / "gunicorn.out", tmp_path / "gunicorn.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        web = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--config",
                                "python:docsvc.gunicorn_conf", "--access-logfile", "-", "--workers", "2",
                                "docsvc.wsgi:app"], cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_url(f"{base}/healthz", web)
        # new connections: the kernel spreads them over both workers
        for _ in range(40):
            urllib.request.urlopen(urllib.request.Request(f"{base}/healthz", headers={"X-Request-ID": "probe-1"}),
                                   timeout=10).close()
        scrapes = [scrape(urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()) for _ in range(6)]
    finally:
        stop(web)
    count = "docsvc_http_request_duration_seconds_count"
    # whichever worker answered, it reports every worker's requests (41 and more: the readiness wait adds some)
    for samples in scrapes:
        assert value(samples, count, endpoint="healthz", method="GET", status="200") >= 40
    assert not (multiproc / "counter_999999.db").exists()

    lines = [line for path in (out, err) for line in path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    assert all(record["time"].endswith("+00:00") for record in records)
    access = [r for r in records if r["logger"] == "gunicorn.access"]
    assert sum("GET /healthz" in r["message"] and "request_id=probe-1" in r["message"] for r in access) == 40


def test_an_rq_worker_serves_its_page_counters_on_its_own_port(stack_env: dict[str, str], s3_server: dict[str, str],
                                                               tmp_path: Path) -> None:
    rt = build_runtime(Settings.from_env(stack_env))
    db.upgrade(rt.engine)
    install(rt)
    port = free_port()
    env = {**os.environ, **stack_env, "PYTHONPATH": str(ROOT), "DOCSVC_WORKER_METRICS_PORT": str(port)}
    worker = subprocess.Popen([sys.executable, "-m", "docsvc.cli", "worker", "ingest", "ocr"], env=env, cwd=ROOT)
    try:
        wait_url(f"http://127.0.0.1:{port}/metrics", worker)
        app = create_app(runtime=rt)
        client = app.test_client()
        api = {"Authorization": f"Bearer {Users(rt).token('scanner', 'operator')}"}
        batch_id = client.post("/api/v1/batches", headers=api, content_type="multipart/form-data", data={
            "files": [(io.BytesIO(text_pdf_bytes([form_text(33), form_text(34)], tmp_path)), "two.pdf")]}
        ).get_json()["id"]
        wait_for_batch(lambda: client.get(f"/api/v1/batches/{batch_id}", headers=api).get_json(), 300)
        samples = scrape(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode())
        assert value(samples, "docsvc_pages_processed_total", source="text_layer") == 2
        # the index job waits in Redis (no index worker here): the web's gauge shows it queued
        assert value(metrics_of(client), "docsvc_queue_length", queue="index") >= 1
    finally:
        stop(worker, timeout_s=20)
        rt.close()
