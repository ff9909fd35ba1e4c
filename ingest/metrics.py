"""Prometheus metrics of the ingest process (per process; each uvicorn worker exposes its own)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from workers.metrics import BACKLOG

REGISTRY = CollectorRegistry()
# Queue depth, overdue steps and pages, export lag: the same gauges as the workers report.
REGISTRY.register(BACKLOG)

REQUESTS = Counter(
    "slar_ingest_requests",
    "Webhook requests by source and HTTP status",
    ["source", "status"],
    registry=REGISTRY,
)
ALERTS = Counter(
    "slar_ingest_alerts", "Alert events by source and outcome", ["source", "outcome"], registry=REGISTRY
)
LATENCY = Histogram(
    "slar_ingest_request_seconds",
    "Webhook request latency",
    ["source"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
