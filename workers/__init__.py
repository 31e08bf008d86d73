"""The workers: the job functions (jobs.py), the pipeline table (pipeline.py), the queues that run them
(queues.py: RQ and in-process), the scheduler with its daily tasks (scheduler.py) and the RQ worker
entry point (main.py). Workers import docsvc; docsvc never imports workers — the entry points wire
them together with `wire()`."""
from __future__ import annotations

from docsvc import runtime
from workers.queues import make_job_queue


def wire() -> None:
    """Hand docsvc's runtimes their job queues (RQ with DOCSVC_REDIS_URL set, else in-process threads)."""
    runtime.use_job_queues(make_job_queue)
