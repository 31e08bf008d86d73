"""What Prometheus reads at /metrics: counters and histograms the processes keep, and gauges read from the
database and the queues at scrape time.

Kept by the process where the work happens:
- `docsvc_pages_processed_total{source}`, `docsvc_pages_failed_total`, `docsvc_ocr_seconds` — by whoever
  reads pages: the embedded server's job threads, or each `docsvc worker` (served on its own port,
  DOCSVC_WORKER_METRICS_PORT, since RQ workers are separate processes, often on other machines);
- `docsvc_http_request_duration_seconds{endpoint,method,status}` — by the web process. Under gunicorn
  with several workers, prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR) adds the
  workers' files up, so any worker answers for all.

Read at scrape time (the same answer from any process, so nothing to add up): the queue lengths, the
index lag (pages read but not yet in the index) and fixity (when it last ran, originals by result):
docsvc.http.monitoring.StateCollector. This module holds only the metrics themselves, so the pipeline
can count without importing the web.
"""
from __future__ import annotations

from prometheus_client import Counter, Histogram

PAGES_PROCESSED = Counter("docsvc_pages_processed", "Pages whose text was read, by where it came from "
                          "(text_layer, ocr).", ["source"])
PAGES_FAILED = Counter("docsvc_pages_failed", "Pages that failed for good (a file problem, or every retry spent).")
OCR_SECONDS = Histogram("docsvc_ocr_seconds", "Seconds one page spent in orientation, deskew and OCR, by engine.",
                        ["engine"], buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300))
HTTP_SECONDS = Histogram("docsvc_http_request_duration_seconds",
                         "Seconds from a request's arrival to its response, by Flask endpoint (not path: the "
                         "label set stays small), method and status.", ["endpoint", "method", "status"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
