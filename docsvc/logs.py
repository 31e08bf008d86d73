"""Log lines: plain text for a person at a terminal, or one JSON object per line for a log collector
(`DOCSVC_LOG_FORMAT=json`): time (ISO 8601, UTC), level, logger, message, and the request id (web) or
job id (RQ worker) when there is one. The web, the workers, the scheduler and gunicorn's own logs all
go through `configure`."""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from flask import g, has_app_context
from rq import get_current_job

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _request_id() -> str | None:
    # g is per request in Flask (an app context is pushed with each request)
    return g.get("request_id") if has_app_context() else None


def _job_id() -> str | None:
    job = get_current_job()
    return job.id if job is not None else None


class ContextFilter(logging.Filter):
    """Stamps each record with the request or job it belongs to (None outside both)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id()
        if not hasattr(record, "job_id"):
            record.job_id = _job_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "job_id"):
            if getattr(record, key, None):
                line[key] = getattr(record, key)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # Chinese stays readable; default=str keeps a stray object in the arguments from losing the line
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def handler(log_format: str) -> logging.Handler:
    out = logging.StreamHandler(sys.stderr)
    out.setFormatter(formatter(log_format))
    out.addFilter(ContextFilter())
    return out


def configure(log_format: str, level: int = logging.INFO) -> None:
    """The root logger writes to stderr in `log_format`; replaces whatever handlers it had, so calling it
    twice (CLI group, then a command) leaves one handler."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(log_format))
    root.setLevel(level)


def gunicorn_json_logconfig() -> dict[str, object]:
    """gunicorn's `logconfig_dict` for DOCSVC_LOG_FORMAT=json: its error log on stderr and its access log
    on stdout, one JSON object per line like ours. (In text mode gunicorn keeps its own logging, and
    `--access-logfile` says where the access log goes.)"""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "filters": {"context": {"()": ContextFilter}},
        "handlers": {
            "error": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "json",
                      "filters": ["context"]},
            "access": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"},
        },
        "root": {"level": "INFO", "handlers": ["error"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
    }
