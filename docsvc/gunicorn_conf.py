"""gunicorn's settings for the full stack's web service: `gunicorn -c python:docsvc.gunicorn_conf docsvc.wsgi:app`.

- With DOCSVC_LOG_FORMAT=json its error and access logs are JSON lines like the application's
  (docsvc.logs), the access log on stdout; in text mode the command line's `--access-logfile -`
  (docker-compose.yml) switches the access log on.
- With PROMETHEUS_MULTIPROC_DIR set, the metrics files of the previous run are removed when the master
  starts, and a worker's files are marked dead when it exits, as prometheus_client's multiprocess mode
  requires (docsvc.metrics).
"""
from __future__ import annotations

import sys
from typing import Any

from prometheus_client import multiprocess

from docsvc import logs
from docsvc.config import ConfigError, Settings

try:
    _settings = Settings.from_env()
except ConfigError as exc:
    # the sentence, not a traceback; exit status 4 stops gunicorn from retrying (as docsvc.wsgi does)
    print(f"docsvc: {exc}", file=sys.stderr)
    raise SystemExit(4) from None

if _settings.log_format == "json":
    logconfig_dict = logs.gunicorn_json_logconfig()
# A request line in the access log: client, request, status, bytes, seconds, and the request id we answer with.
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'


def on_starting(_server: Any) -> None:
    if _settings.metrics_multiproc_dir is not None:
        for stale in _settings.metrics_multiproc_dir.glob("*.db"):
            stale.unlink()


def child_exit(_server: Any, worker: Any) -> None:
    if _settings.metrics_multiproc_dir is not None:
        multiprocess.mark_process_dead(worker.pid, str(_settings.metrics_multiproc_dir))
