"""What operators and their tools ask of the web process, without logging in: /healthz (the process is
alive), /readyz (every dependency answers) and /metrics (Prometheus); plus the request id and the
timing of every request.

/metrics asks for `Authorization: Bearer <DOCSVC_METRICS_TOKEN>` when that setting is set; otherwise it
answers whoever reaches the port, like the probes (docs/deployment.md: keep it off the public proxy).
None of the three shows a setting's secret, and none looks at the session or API token, so a
dependency that is down cannot make them fail on the way in.
"""
from __future__ import annotations

import hmac
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

from flask import Flask, Response, g, jsonify, request
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from docsvc import health
from docsvc.constants import FixityOutcome, IndexState
from docsvc.governance import fixity
from docsvc.governance.access import Action, rule
from docsvc.http.context import runtime
from docsvc.i18n import _
from docsvc.metrics import HTTP_SECONDS
from docsvc.models import FixityCheck, Page
from docsvc.runtime import Runtime

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
# A request id a proxy sends is kept when it looks like one (no log injection); otherwise a new one.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
REQUEST_ID_HEADER = "X-Request-ID"


def init_app(app: Flask) -> None:
    """Called before the gate is installed, so the timing covers authentication too."""
    app.before_request(_start)
    app.after_request(_finish)
    for path, endpoint, view in (("/healthz", "healthz", healthz), ("/readyz", "readyz", readyz),
                                 ("/metrics", "metrics", metrics)):
        app.add_url_rule(path, endpoint, view)


View = TypeVar("View", bound=Callable[..., object])


def probe(view: View) -> View:
    """Marks a public view the gate answers without looking for a user (no session, no token lookup)."""
    setattr(view, "docsvc_probe", True)
    return view


def is_probe(view: object) -> bool:
    return getattr(view, "docsvc_probe", False)


def _start() -> None:
    g.request_started = time.perf_counter()
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    started = g.get("request_started")
    if started is not None:
        # the endpoint name, never the path: /api/v1/pages/<id> is one series, not one per page
        HTTP_SECONDS.labels(request.endpoint or "unmatched", request.method,
                            str(response.status_code)).observe(time.perf_counter() - started)
    if "request_id" in g:
        response.headers[REQUEST_ID_HEADER] = g.request_id
    return response


@rule(Action.PUBLIC)
@probe
def healthz() -> object:
    """Alive: answers without touching any dependency (a restart would not fix one that is down)."""
    return {"status": "ok"}


@rule(Action.PUBLIC)
@probe
def readyz() -> object:
    checks = health.readiness(runtime())
    ready = all(check.ready for check in checks)
    body = {"status": "ready" if ready else "not ready",
            "down": [check.name for check in checks if not check.ready],
            "dependencies": {check.name: check.as_json() for check in checks}}
    return jsonify(body), 200 if ready else 503


@rule(Action.PUBLIC)
@probe
def metrics() -> object:
    token = runtime().settings.metrics_token
    if token is not None:
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(offered.encode(), token.encode()):
            return Response(_("/metrics needs its token (DOCSVC_METRICS_TOKEN): set authorization.credentials in "
                              "the Prometheus scrape config.") + "\n", 401,
                            {"WWW-Authenticate": 'Bearer realm="metrics"'}, mimetype="text/plain")
    return Response(exposition(runtime()), mimetype=None, content_type=PROMETHEUS_TEXT)


class StateCollector(Collector):
    """Gauges read from the database and the queues at each scrape. A source that cannot be read leaves
    its gauges out and says so in docsvc_metrics_source_up, so the rest of the scrape still arrives."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("docsvc_metrics_source_up", "1 when the source of these gauges could be read.",
                               labels=["source"])
        for source, read in (("queues", self._queues), ("database", self._database)):
            try:
                families = list(read())
            except Exception:
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        yield up

    def _queues(self) -> Iterator[GaugeMetricFamily]:
        lengths = GaugeMetricFamily("docsvc_queue_length", "Jobs waiting in each queue.", labels=["queue"])
        for name, length in sorted(self.rt.jobs.status().waiting.items()):
            lengths.add_metric([name], length)
        yield lengths

    def _database(self) -> Iterator[GaugeMetricFamily]:
        with self.rt.sessions() as session:
            lag = session.scalar(select(func.count()).select_from(Page)
                                 .where(Page.index_state == IndexState.PENDING)) or 0
            by_outcome = dict(session.execute(select(FixityCheck.outcome, func.count())
                                              .group_by(FixityCheck.outcome)).all())
            last_run = fixity.last_run_at(session)
        yield GaugeMetricFamily("docsvc_index_lag_pages", "Pages read and committed but not yet in the search index.",
                                value=lag)
        results = GaugeMetricFamily("docsvc_fixity_originals", "Originals by what fixity last found "
                                    "(intact, altered, missing, unexpected).", labels=["result"])
        for outcome in FixityOutcome:
            results.add_metric([outcome.value], by_outcome.get(outcome.value, 0))
        yield results
        if last_run is not None:
            yield GaugeMetricFamily("docsvc_fixity_last_run_timestamp_seconds",
                                    "When the last fixity run finished (Unix time).", value=last_run.timestamp())


def exposition(rt: Runtime) -> bytes:
    """This process's counters and histograms (in multiprocess mode: every gunicorn worker's, added up),
    then the gauges read now."""
    if rt.settings.metrics_multiproc_dir is not None:
        kept = CollectorRegistry()
        MultiProcessCollector(kept, path=str(rt.settings.metrics_multiproc_dir))
    else:
        kept = REGISTRY
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(rt))
    return generate_latest(kept) + generate_latest(state)
