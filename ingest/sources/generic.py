"""Any JSON sender, in a shape modelled on PagerDuty Events v2.

One event object, or a list of them: ``event_action`` (trigger|acknowledge|resolve, required),
``dedup_key``, ``summary``, ``severity`` (critical|error|warning|info), ``source``,
``custom_details`` (object), ``links`` ([{href, text}]). The PagerDuty nesting under ``payload``
(summary, severity, source, custom_details) is read too.
Dedup and fingerprint: ``dedup_key``, else a stable hash of summary and source. A trigger needs a
summary; acknowledge and resolve need a dedup_key (or the summary it was derived from).
Severity: as given; missing → error; any other word → 422.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.alerts.events import AlertEvent
from app.errors import Invalid
from ingest.sources._common import items, obj, stable_hash, summary, text

KIND = "generic"
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")


def _links(value: Any, where: str) -> list[dict[str, str]]:
    out = []
    for i, item in enumerate(items(value or [], where)):
        href = text(item, "href", f"{where}[{i}].href", required=True)
        out.append({"href": href, "text": text(item, "text", f"{where}[{i}].text", default=href)})
    return out


def _event(body: Mapping[str, Any], at: str) -> AlertEvent:
    action = text(body, "event_action", f"{at}event_action", required=True)
    if action not in ACTIONS:
        raise Invalid(f"{at}event_action must be one of {', '.join(ACTIONS)}", field=f"{at}event_action")
    inner = obj(body["payload"], f"{at}payload") if body.get("payload") is not None else body
    where = f"{at}payload." if inner is not body else at
    title = summary(text(inner, "summary", f"{where}summary", required=action == "trigger"))
    source = text(inner, "source", f"{where}source")
    severity = text(inner, "severity", f"{where}severity", default="error")
    if severity not in SEVERITIES:
        raise Invalid(f"{where}severity must be one of {', '.join(SEVERITIES)}", field=f"{where}severity")
    key = text(body, "dedup_key", f"{at}dedup_key")
    if not key and not title:
        raise Invalid(f"{at}dedup_key is required to {action}", field=f"{at}dedup_key")
    key = key or stable_hash(title, source)
    details = inner.get("custom_details")
    if details is not None and not isinstance(details, Mapping):
        raise Invalid(f"{where}custom_details must be an object", field=f"{where}custom_details")
    return AlertEvent(
        fingerprint=key,
        dedup_key=key,
        action=action,  # type: ignore[arg-type]
        summary=title or key,
        severity=severity,  # type: ignore[arg-type]
        source=source[:200],
        annotations=dict(details or {}),
        links=_links(body.get("links"), f"{at}links"),
        raw=dict(body),
    )


def parse(payload: Any) -> list[AlertEvent]:
    """One generic event object (or a list of them) → events."""
    if isinstance(payload, list):
        return [_event(e, f"[{i}].") for i, e in enumerate(items(payload, "body"))]
    return [_event(obj(payload, "body"), "")]
