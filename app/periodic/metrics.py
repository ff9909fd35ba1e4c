"""The backlog gauges every long-running process reports on /metrics, read at scrape time.

Read from Postgres (and, where a broker is at hand, its queues) on each scrape, so every process
reports the same truth and any one of them is enough to alert on.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text

from analytics.export import STATE_FILE, parquet_root
from app.config import get_settings
from app.db import session_scope
from app.periodic.backlog import backlog, export_lag_s

log = logging.getLogger(__name__)


def _exported_max_event_id() -> int:
    path = parquet_root(get_settings().data_dir) / STATE_FILE
    try:
        return int(json.loads(path.read_text()).get("max_id", {}).get("incident_events", 0))
    except (OSError, ValueError):
        return 0


class BacklogCollector(Collector):
    """Queue depth, overdue steps and pages, export lag; a store that does not answer yields no sample."""

    def __init__(self, queue_depths: Callable[[], dict[str, int]] | None = None) -> None:
        self.queue_depths = queue_depths

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.queue_depths is not None:
            yield from self._queues(self.queue_depths)
        yield from self._postgres()

    def _queues(self, depths: Callable[[], dict[str, int]]) -> Iterator[GaugeMetricFamily]:
        try:
            found = depths()
        except Exception:  # noqa: BLE001 - a scrape never fails because the broker is away
            log.warning("queue depth unavailable: broker unreachable", exc_info=True)
            return
        gauge = GaugeMetricFamily(
            "slar_queue_depth", "Messages waiting on a queue (delayed ones too)", labels=["queue"]
        )
        for queue, depth in found.items():
            gauge.add_metric([queue], depth)
        yield gauge

    def _postgres(self) -> Iterator[GaugeMetricFamily]:
        try:
            with session_scope() as session:
                due = backlog(session=session)
                lag = export_lag_s(session=session, exported_max_event_id=_exported_max_event_id())
        except Exception:  # noqa: BLE001
            log.warning("backlog unavailable: Postgres unreachable", exc_info=True)
            return
        yield GaugeMetricFamily(
            "slar_escalation_steps_due_unsent", "Escalation steps past their due time, not run", due.steps_due
        )
        yield GaugeMetricFamily(
            "slar_deliveries_due_unsent",
            "Pages past their due time, still pending or sending",
            due.deliveries_due,
        )
        yield GaugeMetricFamily(
            "slar_oldest_due_seconds", "Age of the oldest overdue step or page", due.oldest_due_s
        )
        yield GaugeMetricFamily("slar_export_lag_seconds", "Age of the oldest event not yet exported", lag)


Ready = Callable[[], bool]


def _app(registry: CollectorRegistry, ready: Ready | None) -> Callable[..., Iterable[bytes]]:
    """/metrics, and the probes: /health/live (the process answers) and /health/ready (it can work)."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path in ("/health/live", "/health/ready"):
            ok = path == "/health/live" or ready is None or ready()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"ok\n" if ok else b"not ready\n"]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass


def serve(registry: CollectorRegistry, port: int, what: str, ready: Ready | None = None) -> int | None:
    """Serve /metrics and the probes on SLAR_HOST:port in a thread; None (logged) when the port is taken."""
    host = get_settings().host
    try:
        server = make_server(host, port, _app(registry, ready), server_class=_Server, handler_class=_Quiet)
    except OSError as err:
        log.warning("/metrics of %s not served: port %s: %s", what, port, err)
        return None
    threading.Thread(target=server.serve_forever, name=f"{what}-metrics", daemon=True).start()
    log.info("/metrics of %s on http://%s:%s/metrics", what, host, port)
    return port


def postgres_ready() -> bool:
    """Postgres answers a trivial query (the readiness of a process that cannot work without it)."""
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False


def console_registry() -> CollectorRegistry:
    """/metrics of a process without a broker of its own (console, agent): the Postgres backlog."""
    registry = CollectorRegistry()
    registry.register(BacklogCollector())
    return registry
