"""Prometheus metrics of the workers and the scheduler: what this process did, plus the backlog.

Counters and the page latency histogram count this process's own work; the backlog gauges (queue
depth, overdue steps and pages, export lag) come from app.periodic.metrics, read at scrape time.
"""

from __future__ import annotations

from datetime import datetime

import dramatiq
from dramatiq.middleware import Middleware
from prometheus_client import CollectorRegistry, Counter, Histogram

from app.config import get_settings
from app.db import utcnow
from app.periodic.metrics import BacklogCollector, postgres_ready
from app.periodic.metrics import serve as serve_registry

REGISTRY = CollectorRegistry()

DELIVERIES = Counter(
    "slar_deliveries", "Delivery attempts by channel and outcome", ["channel", "outcome"], registry=REGISTRY
)
PAGE_LATENCY = Histogram(
    "slar_page_latency_seconds",
    "From a page's due time (after a retry: its retry time) to the provider's accept",
    ["channel"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)
TICKS = Counter(
    "slar_scheduler_ticks",
    "Periodic job ticks: won (enqueued here), taken (by another scheduler), error",
    ["job", "outcome"],
    registry=REGISTRY,
)


def queue_depths() -> dict[str, int]:
    # Imported at scrape time: the broker connects on import, and a process without one (an
    # ingest test without Redis) still serves its other metrics.
    from workers.broker import QUEUES, broker, queue_depth

    return {queue: queue_depth(broker, queue) for queue in QUEUES}


BACKLOG = BacklogCollector(queue_depths)
REGISTRY.register(BACKLOG)


def observe_delivery(channel: str, outcome: str, due_at: datetime | None = None) -> None:
    """Count one delivery attempt; a sent page also records how late it was."""
    DELIVERIES.labels(channel=channel, outcome=outcome).inc()
    if outcome == "sent" and due_at is not None:
        PAGE_LATENCY.labels(channel=channel).observe(max(0.0, (utcnow() - due_at).total_seconds()))


def serve(process: str) -> int | None:
    """Serve REGISTRY and the probes on the workers' or the scheduler's metrics port."""
    settings = get_settings()
    port = settings.worker_metrics_port if process == "workers" else settings.scheduler_metrics_port
    return serve_registry(REGISTRY, port, process, ready=ready)


def ready() -> bool:
    """Postgres and the broker both answer: without either a worker or a scheduler does nothing."""
    try:
        queue_depths()
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False
    return postgres_ready()


class ServeMetrics(Middleware):
    """Starts /metrics in the worker process once Dramatiq has booted it (after the fork)."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        serve("workers")


def serve_from_worker_boot() -> None:
    """Hook /metrics onto the broker's worker boot (called once, by workers.actors)."""
    from workers.broker import broker  # see queue_depths

    broker.add_middleware(ServeMetrics())
