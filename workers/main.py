"""`docsvc worker [QUEUE...]`: an RQ worker that keeps OCR models loaded between jobs."""
from __future__ import annotations

import logging
import os

from prometheus_client import start_http_server
from redis import Redis
from rq import Queue, SimpleWorker

from docsvc import db, runtime
from docsvc.constants import QueueName
from docsvc.formats import decoder
from docsvc.ocr import get_engine
from docsvc.pipeline.jobstate import job_limits
from docsvc.i18n import _

log = logging.getLogger(__name__)


def run_worker(queues: list[str], *, burst: bool = False) -> bool:
    rt = runtime.current()
    if not rt.settings.redis_url:
        raise SystemExit(_("DOCSVC_REDIS_URL is not set: in the embedded mode jobs run inside `docsvc serve`."))
    db.check_migrated(rt.engine)
    # tesseract's OpenMP threads fight parallel workers; one thread per worker process is fastest.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    if QueueName.OCR.value in queues:
        get_engine(rt.settings.ocr_engine, detection_side=rt.settings.ocr_detection_side,
                   threads=rt.settings.ocr_threads)  # load the models once, before the first page
    if {QueueName.INGEST.value, QueueName.OCR.value} & set(queues):
        decoder.start(job_limits(rt.settings))  # the process that reads files, ready before the first one
    connection = Redis.from_url(rt.settings.redis_url)
    # SimpleWorker runs jobs in this process: the loaded models stay loaded (a forking worker would
    # load them again for every page).
    worker = SimpleWorker([Queue(q, connection=connection) for q in queues], connection=connection)
    if rt.settings.worker_metrics_port:
        # this process's page counters and OCR times; RQ workers are processes of their own (docsvc.metrics)
        start_http_server(rt.settings.worker_metrics_port)
        log.info("metrics on port %d (/metrics)", rt.settings.worker_metrics_port)
    return worker.work(burst=burst, with_scheduler=True)
