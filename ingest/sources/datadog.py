"""Datadog webhooks: the default payload and the recommended custom payload.

Default: id, title, body, event_type, date, last_updated, org. The transition is read from the
title's ``[Triggered]``/``[Recovered]``/… prefix (that is where Datadog puts it), else event_type.
Custom: alert_id, alert_transition, alert_cycle_key, aggreg_key, alert_scope, alert_priority,
tags ("k:v,k2:v2"), link, plus title and body.
Dedup and fingerprint: ``alert_cycle_key``, else ``aggreg_key``, else ``id``, else ``alert_id``.
Action: Recovered resolves; Triggered, Re-Triggered, Warn, Renotify and No Data trigger.
Severity: ``alert_priority`` P1 → critical, P2 → error, P3 → warning, P4/P5 → info; without a
priority, Warn → warning, anything else → error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.alerts.events import AlertEvent, Severity
from app.errors import Invalid
from ingest.sources._common import link, obj, severity_from, summary, text, timestamp

KIND = "datadog"
PRIORITIES: dict[str, Severity] = {
    "p1": "critical",
    "p2": "error",
    "p3": "warning",
    "p4": "info",
    "p5": "info",
}
TRANSITIONS = {
    "triggered": "trigger",
    "re-triggered": "trigger",
    "warn": "trigger",
    "renotify": "trigger",
    "no data": "trigger",
    "recovered": "resolve",
}
_PREFIX = re.compile(r"^\s*\[(?P<t>[^\]]+)\]\s*")


def tags(value: Any) -> dict[str, str]:
    """Datadog tags ("env:prod,team:db" or a list) as labels."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        parts = value.split(",")
    elif isinstance(value, list) and all(isinstance(p, str) for p in value):
        parts = value
    else:
        raise Invalid("tags must be a comma-separated string or a list of strings", field="tags")
    out = {}
    for part in (p.strip() for p in parts):
        if part:
            k, _, v = part.partition(":")
            out[k] = v
    return out


def _transition(body: Mapping[str, Any]) -> tuple[str, str]:
    """(transition, title without its prefix)."""
    title = text(body, "title", "title")
    declared = text(body, "alert_transition", "alert_transition")
    match = _PREFIX.match(title)
    if match:
        title = title[match.end() :]
    transition = declared or (match.group("t") if match else "") or text(body, "event_type", "event_type")
    return transition, title


def parse(payload: Any) -> list[AlertEvent]:
    """Datadog webhook → one event (none for a transition that changes nothing)."""
    body = obj(payload, "body")
    identity = (
        text(body, "alert_cycle_key", "alert_cycle_key")
        or text(body, "aggreg_key", "aggreg_key")
        or text(body, "id", "id")
        or text(body, "alert_id", "alert_id")
    )
    if not identity:
        raise Invalid("id is required (or alert_cycle_key, aggreg_key, alert_id)", field="id")
    transition, title = _transition(body)
    action = TRANSITIONS.get(transition.strip().lower())
    if action is None:
        if "alert_transition" in body:
            raise Invalid(
                f"alert_transition {transition!r} is not one of Triggered, Recovered, Warn, Re-Triggered",
                field="alert_transition",
            )
        action = "trigger"  # a plain event with no transition is an alert being raised
    labels = tags(body.get("tags"))
    priority = text(body, "alert_priority", "alert_priority")
    fallback: Severity = "warning" if transition.strip().lower() == "warn" else "error"
    scope = text(body, "alert_scope", "alert_scope")
    if scope:
        labels["scope"] = scope
    org = body.get("org")
    return [
        AlertEvent(
            fingerprint=identity,
            dedup_key=identity,
            action=action,  # type: ignore[arg-type]
            summary=summary(title or text(body, "body", "body") or identity),
            severity=severity_from(priority, PRIORITIES, fallback),
            source=(org.get("name") or "")
            if isinstance(org, Mapping) and isinstance(org.get("name"), str)
            else "",
            labels=labels,
            annotations={"body": text(body, "body", "body"), "transition": transition},
            links=link(body.get("link"), "Datadog"),
            starts_at=timestamp(_epoch(body.get("date")), "date"),
            raw=dict(body),
        )
    ]


def _epoch(value: Any) -> Any:
    # Datadog's $DATE is epoch milliseconds, often sent as a string.
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value
