"""Prometheus Alertmanager webhook (version "4").

Dedup: one incident per ``groupKey`` (Alertmanager's own grouping); each alert is stored by its
``fingerprint`` (or, when absent, a hash of its sorted labels, as Alertmanager computes it).
Action: ``status: firing`` triggers, ``resolved`` resolves.
Severity: ``labels.severity`` — critical|page|p1 → critical; error|high|major|p2 → error;
warning|warn|medium|minor|p3 → warning; info|low|none|p4|p5 → info; anything else → error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.alerts.events import AlertEvent, Severity
from app.errors import Invalid
from ingest.sources._common import (
    items,
    link,
    obj,
    severity_from,
    stable_hash,
    str_map,
    summary,
    text,
    timestamp,
)

KIND = "alertmanager"
SEVERITIES: dict[str, Severity] = {
    **dict.fromkeys(("critical", "crit", "page", "p1", "fatal", "emergency"), "critical"),
    **dict.fromkeys(("error", "err", "high", "major", "p2"), "error"),
    **dict.fromkeys(("warning", "warn", "medium", "minor", "p3"), "warning"),
    **dict.fromkeys(("info", "informational", "low", "none", "p4", "p5"), "info"),
}
ACTIONS = {"firing": "trigger", "resolved": "resolve"}


def group_key(payload: Mapping[str, Any]) -> str:
    """The group's identity: groupKey, else the receiver and its group labels."""
    key = text(payload, "groupKey", "groupKey")
    if key:
        return key
    labels = str_map(payload.get("groupLabels"), "groupLabels")
    return "group:" + stable_hash(text(payload, "receiver", "receiver"), json.dumps(labels, sort_keys=True))


def alert_event(
    alert: Mapping[str, Any], where: str, dedup_key: str, extra_links: list[dict[str, str]]
) -> AlertEvent:
    """One Alertmanager-shaped alert as an AlertEvent (shared with Grafana's unified payload)."""
    status = text(alert, "status", f"{where}.status", required=True)
    if status not in ACTIONS:
        raise Invalid(f"{where}.status must be firing or resolved", field=f"{where}.status")
    labels = str_map(alert.get("labels"), f"{where}.labels")
    annotations = str_map(alert.get("annotations"), f"{where}.annotations")
    fingerprint = text(alert, "fingerprint", f"{where}.fingerprint") or stable_hash(
        json.dumps(labels, sort_keys=True)
    )
    title = annotations.get("summary") or annotations.get("description") or labels.get("alertname") or "alert"
    return AlertEvent(
        fingerprint=fingerprint,
        dedup_key=dedup_key,
        action=ACTIONS[status],  # type: ignore[arg-type]
        summary=summary(title),
        severity=severity_from(labels.get("severity"), SEVERITIES),
        source=labels.get("instance") or labels.get("job") or "",
        labels=labels,
        annotations=annotations,
        links=link(alert.get("generatorURL"), "source") + extra_links,
        starts_at=timestamp(alert.get("startsAt"), f"{where}.startsAt"),
        ends_at=timestamp(alert.get("endsAt"), f"{where}.endsAt"),
        raw=dict(alert),
    )


def parse(payload: Any) -> list[AlertEvent]:
    """Alertmanager webhook → one event per alert, grouped by groupKey."""
    body = obj(payload, "body")
    version = body.get("version")
    if version is not None and str(version) != "4":
        raise Invalid('version must be "4"', field="version")
    alerts = items(body.get("alerts"), "alerts")
    key = group_key(body)
    links = link(body.get("externalURL"), "Alertmanager")
    return [alert_event(a, f"alerts[{i}]", key, links) for i, a in enumerate(alerts)]
