"""Webhook sources: one pure parser module per kind, registered here (one line per source)."""

from __future__ import annotations

from types import ModuleType

from ingest.sources import (
    alertmanager,
    cloudwatch,
    datadog,
    generic,
    grafana,
    inbound_email,
    opsgenie,
    pagerduty,
)

SOURCES: dict[str, ModuleType] = {
    m.KIND: m
    for m in (alertmanager, grafana, datadog, cloudwatch, generic, pagerduty, opsgenie, inbound_email)
}
