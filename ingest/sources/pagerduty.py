"""PagerDuty Events API v2 (`POST /v2/enqueue`, or /webhooks/pagerduty/{token}).

One event object: ``routing_key``, ``event_action`` (trigger|acknowledge|resolve), ``dedup_key``,
``payload`` {``summary`` (required), ``source`` (required), ``severity`` (critical|error|warning|info,
required), ``timestamp``, ``component``, ``group``, ``class``, ``custom_details``}, ``links``
([{href, text}]), ``images`` ([{src, href, alt}]), ``client``, ``client_url``.
Dedup and fingerprint: ``dedup_key``; a trigger without one gets a stable hash of the event, so a
retried trigger stores nothing new. Acknowledge and resolve need a dedup_key and act on the open
alert of that key; with nothing open they are accepted and do nothing. After a resolve the same key
opens a new alert.
Severity: as given; any other word → 400 (PagerDuty's "invalid event").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.alerts.events import AlertEvent
from app.errors import Invalid
from ingest.sources._common import items, link, obj, stable_hash, summary, text, timestamp

KIND = "pagerduty"
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
SUMMARY_MAX = 1024
KEY_MAX = 255


def dedup_key(payload: Mapping[str, Any]) -> str:
    """The event's dedup key: as sent, else a stable hash of the event (without the routing key)."""
    given = text(payload, "dedup_key", "dedup_key")
    if given:
        if len(given) > KEY_MAX:
            raise Invalid(f"dedup_key must be at most {KEY_MAX} characters", field="dedup_key")
        return given
    rest = {k: v for k, v in payload.items() if k != "routing_key"}
    return stable_hash(json.dumps(rest, sort_keys=True, default=str))


def _links(payload: Mapping[str, Any]) -> list[dict[str, str]]:
    out = []
    for i, item in enumerate(items(payload.get("links") or [], "links")):
        href = text(item, "href", f"links[{i}].href", required=True)
        out.append({"href": href, "text": text(item, "text", f"links[{i}].text", default=href)})
    for i, item in enumerate(items(payload.get("images") or [], "images")):
        src = text(item, "src", f"images[{i}].src", required=True)
        out += link(
            text(item, "href", f"images[{i}].href", default=src), text(item, "alt", "alt", default=src)
        )
    return out


def _trigger_fields(body: Mapping[str, Any]) -> tuple[str, str, str, dict[str, Any], dict[str, Any]]:
    inner = obj(body.get("payload"), "payload")
    title = text(inner, "summary", "payload.summary", required=True)
    if len(title) > SUMMARY_MAX:
        raise Invalid(f"payload.summary must be at most {SUMMARY_MAX} characters", field="payload.summary")
    source = text(inner, "source", "payload.source", required=True)
    severity = text(inner, "severity", "payload.severity", required=True)
    if severity not in SEVERITIES:
        raise Invalid(f"payload.severity must be one of {', '.join(SEVERITIES)}", field="payload.severity")
    labels = {k: text(inner, k, f"payload.{k}") for k in ("component", "group", "class") if inner.get(k)}
    details = inner.get("custom_details")
    if details is not None and not isinstance(details, Mapping):
        details = {"details": details}  # PagerDuty accepts any JSON here; it is shown as is
    return summary(title), source[:200], severity, labels, dict(details or {})


def parse(payload: Any) -> list[AlertEvent]:
    """One Events API v2 event → one alert event."""
    body = obj(payload, "body")
    text(body, "routing_key", "routing_key", required=True)
    action = text(body, "event_action", "event_action", required=True)
    if action not in ACTIONS:
        raise Invalid(f"event_action must be one of {', '.join(ACTIONS)}", field="event_action")
    if action != "trigger" and not text(body, "dedup_key", "dedup_key"):
        raise Invalid(f"dedup_key is required to {action}", field="dedup_key")
    key = dedup_key(body)
    title, source, severity, labels, details = key, "", "error", {}, {}
    starts_at = None
    if action == "trigger":
        title, source, severity, labels, details = _trigger_fields(body)
        starts_at = timestamp(obj(body["payload"], "payload").get("timestamp"), "payload.timestamp")
    links = _links(body) + link(body.get("client_url"), text(body, "client", "client", default="source"))
    return [
        AlertEvent(
            fingerprint=key,
            dedup_key=key,
            action=action,  # type: ignore[arg-type]
            summary=title,
            severity=severity,  # type: ignore[arg-type]
            source=source,
            labels={**labels, "source": source} if source else labels,
            annotations=details,
            links=links,
            starts_at=starts_at,
            raw={k: v for k, v in body.items() if k != "routing_key"},
        )
    ]
