"""DOCSVC_LOG_FORMAT=json: one JSON object per line, with time (ISO 8601, UTC), level, logger, message and the
request id of the request it belongs to; text stays the default."""
from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask
from rq import Queue, SimpleWorker

from docsvc import logs
from docsvc.config import Settings
from tests.conftest import REDIS_URL, docsvc_cli


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The JSON handler docsvc.logs.configure installs, writing into a buffer instead of stderr."""
    buffer = io.StringIO()
    handler = logs.handler("json")
    handler.setStream(buffer)  # type: ignore[attr-defined]
    logger = logging.getLogger("docsvc.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield buffer
    logger.removeHandler(handler)


def lines_of(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_line_is_one_json_object_with_time_level_logger_and_message(captured: io.StringIO) -> None:
    logging.getLogger("docsvc.test_logs").warning("第 %d 页读取失败 / page %d failed", 3, 3)
    [line] = lines_of(captured)
    assert line["level"] == "WARNING" and line["logger"] == "docsvc.test_logs"
    assert line["message"] == "第 3 页读取失败 / page 3 failed"
    stamp = datetime.fromisoformat(str(line["time"]))
    assert stamp.utcoffset() == timedelta(0)
    assert "request_id" not in line  # outside a request there is none


def test_a_line_logged_during_a_request_carries_its_request_id(app: Flask, captured: io.StringIO) -> None:
    with app.test_request_context("/healthz", headers={"X-Request-ID": "req-42"}):
        app.preprocess_request()
        logging.getLogger("docsvc.test_logs").info("inside")
    [line] = lines_of(captured)
    assert line["request_id"] == "req-42"
    offered = 'x" level="ERROR' + "y" * 80  # not an id: quotes, spaces, too long
    response = app.test_client().get("/healthz", headers={"X-Request-ID": offered})
    assert response.headers["X-Request-ID"] != offered and len(response.headers["X-Request-ID"]) == 32


def test_an_exception_is_kept_in_the_same_line(captured: io.StringIO) -> None:
    try:
        raise ValueError("坏文件 / bad file")
    except ValueError:
        logging.getLogger("docsvc.test_logs").exception("split failed")
    [line] = lines_of(captured)
    assert "ValueError: 坏文件 / bad file" in str(line["exception"])


def log_inside_a_job() -> None:
    logging.getLogger("docsvc.test_logs").info("inside a job")


@pytest.mark.integration   # Redis
def test_a_line_logged_inside_an_rq_job_carries_the_job_id(captured: io.StringIO) -> None:
    connection = redis.Redis.from_url(REDIS_URL)
    queue = Queue(f"logs-{uuid.uuid4().hex[:8]}", connection=connection)
    job = queue.enqueue(log_inside_a_job)
    SimpleWorker([queue], connection=connection).work(burst=True)
    [line] = [line for line in lines_of(captured) if line["message"] == "inside a job"]
    assert line["job_id"] == job.id


def test_text_is_the_default(tmp_path: Path) -> None:
    assert Settings.from_env({"DOCSVC_DATA_DIR": str(tmp_path), "DOCSVC_SECRET_KEY": "x"}).log_format == "text"
    assert not isinstance(logs.formatter("text"), logs.JsonFormatter)


@pytest.mark.integration   # a process of its own
def test_a_command_logs_json_lines_on_stderr(tmp_path: Path) -> None:
    env = {"DOCSVC_DATA_DIR": str(tmp_path / "var"), "DOCSVC_SECRET_KEY": "x", "DOCSVC_LOG_FORMAT": "json"}
    assert docsvc_cli("db", "upgrade", env=env).returncode == 0
    done = docsvc_cli("scheduler", "--once", env=env)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert records, "the scheduler logs what it does at INFO"
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
