"""Where each long-running process answers its liveness and readiness probes, and /metrics.

One table for `slar health`, the container image, compose and Kubernetes (a drift test holds the
deploy files to it). Workers and the scheduler have no HTTP API: their metrics port serves the probes.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import httpx

from app.config import Settings


@dataclass(frozen=True)
class Probe:
    port_setting: str  # the Settings field holding the port
    live: str
    ready: str
    metrics_port_setting: str | None  # where /metrics is served (the same port for ingest and agent)
    # A plain TCP service (the SMTP listener): probed by its greeting, not by an HTTP path.
    tcp: bool = False


PROBES: dict[str, Probe] = {
    "ingest": Probe("ingest_port", "/health/live", "/health/ready", "ingest_port"),
    "agent": Probe("agent_port", "/health/live", "/health/ready", "agent_port"),
    # Streamlit's own health route; the console's /metrics has a port of its own.
    "console": Probe("console_port", "/_stcore/health", "/_stcore/health", "console_metrics_port"),
    "workers": Probe("worker_metrics_port", "/health/live", "/health/ready", "worker_metrics_port"),
    "scheduler": Probe("scheduler_metrics_port", "/health/live", "/health/ready", "scheduler_metrics_port"),
    "smtp": Probe("inbound_smtp_port", "", "", None, tcp=True),
}


def probe_url(process: str, settings: Settings, *, live: bool = False, host: str = "127.0.0.1") -> str:
    probe = PROBES[process]
    port = int(getattr(settings, probe.port_setting))
    if probe.tcp:
        return f"smtp://{host}:{port}"
    return f"http://{host}:{port}{probe.live if live else probe.ready}"


def healthy(url: str, timeout_s: float = 3.0) -> bool:
    """True when the probe answers 2xx (an SMTP listener: its 220 greeting) within the timeout."""
    if url.startswith("smtp://"):
        return _smtp_greets(url, timeout_s)
    try:
        return httpx.get(url, timeout=timeout_s).is_success
    except httpx.HTTPError:
        return False


def _smtp_greets(url: str, timeout_s: float) -> bool:
    host, _, port = url.removeprefix("smtp://").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s) as conn:
            return conn.recv(64).startswith(b"220")
    except OSError:
        return False
