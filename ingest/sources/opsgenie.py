"""Opsgenie Alert API (`POST /v2/alerts`, close and acknowledge, or /webhooks/opsgenie/{token}).

Create: ``message`` (required, at most 130 characters), ``alias`` (dedup, at most 512),
``description``, ``priority`` P1–P5 (P3 when absent), ``tags`` (list), ``details`` (object),
``entity``, ``source``, ``note``, ``user``; ``responders``, ``visibleTo`` and ``actions`` are kept in
the raw payload. Close and acknowledge arrive as ``{"action": "close"|"acknowledge", "alias": …}``
(the front door builds this from ``/v2/alerts/{identifier}/close``).
Dedup and fingerprint: ``alias``; a create without one gets a stable hash of the body.
Severity: P1 → critical, P2 → error, P3 → warning, P4 and P5 → info; any other word → 422.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.alerts.events import AlertEvent, Severity
from app.errors import Invalid
from ingest.sources._common import obj, stable_hash, str_map, text

KIND = "opsgenie"
PRIORITIES: dict[str, Severity] = {
    "P1": "critical",
    "P2": "error",
    "P3": "warning",
    "P4": "info",
    "P5": "info",
}
ACTIONS = {"close": "resolve", "acknowledge": "acknowledge"}
MESSAGE_MAX, ALIAS_MAX = 130, 512


def alias(body: Mapping[str, Any]) -> str:
    given = text(body, "alias", "alias")
    if len(given) > ALIAS_MAX:
        raise Invalid(f"alias must be at most {ALIAS_MAX} characters", field="alias")
    return given or stable_hash(json.dumps(body, sort_keys=True, default=str))


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise Invalid("tags must be a list of strings", field="tags")
    return value


def _create(body: Mapping[str, Any]) -> AlertEvent:
    message = text(body, "message", "message", required=True).strip()
    if not message or len(message) > MESSAGE_MAX:
        raise Invalid(f"message must be 1 to {MESSAGE_MAX} characters", field="message")
    priority = text(body, "priority", "priority", default="P3")
    if priority not in PRIORITIES:
        raise Invalid("priority must be one of P1, P2, P3, P4, P5", field="priority")
    key = alias(body)
    tags = _tags(body.get("tags"))
    labels = {"priority": priority, **({"tags": ",".join(tags)} if tags else {})}
    for name in ("entity", "source", "user"):
        if body.get(name):
            labels[name] = text(body, name, name)
    annotations: dict[str, Any] = str_map(body.get("details"), "details")
    for name in ("description", "note"):
        if body.get(name):
            annotations[name] = text(body, name, name)
    return AlertEvent(
        fingerprint=key,
        dedup_key=key,
        action="trigger",
        summary=message,
        severity=PRIORITIES[priority],
        source=text(body, "source", "source")[:200],
        labels=labels,
        annotations=annotations,
        raw=dict(body),
    )


def parse(payload: Any) -> list[AlertEvent]:
    """An Opsgenie create body, or a close/acknowledge envelope → one alert event."""
    body = obj(payload, "body")
    action = body.get("action")
    if action is None:
        return [_create(body)]
    if action not in ACTIONS:
        raise Invalid("action must be close or acknowledge", field="action")
    key = text(body, "alias", "alias", required=True)
    return [AlertEvent(fingerprint=key, dedup_key=key, action=ACTIONS[action], summary=key, raw=dict(body))]  # type: ignore[arg-type]
