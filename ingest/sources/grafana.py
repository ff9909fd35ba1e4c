"""Grafana webhooks: unified alerting (version "1") and the legacy dashboard-alert payload.

Unified: the Alertmanager shape plus orgId, title, state, message, and per alert silenceURL,
dashboardURL, panelURL and values. Dedup: one incident per ``groupKey``; each alert stored by its
``fingerprint``. ``firing`` triggers, ``resolved`` resolves. Severity as Alertmanager (``labels.severity``).
Legacy: ruleId, ruleName, ruleUrl, state, evalMatches. Dedup and fingerprint ``rule:<ruleId>``
(``ruleName`` when no id). ``alerting`` triggers, ``no_data`` triggers as a warning, ``ok`` resolves,
``paused`` and ``pending`` change nothing. Severity: ``tags.severity`` through the same table, else error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.alerts.events import AlertEvent
from app.errors import Invalid
from ingest.sources import alertmanager
from ingest.sources._common import items, link, obj, severity_from, str_map, summary, text

KIND = "grafana"
LEGACY_ACTIONS = {
    "alerting": "trigger",
    "no_data": "trigger",
    "ok": "resolve",
    "paused": None,
    "pending": None,
}


def _unified(body: Mapping[str, Any]) -> list[AlertEvent]:
    key = alertmanager.group_key(body)
    out = []
    for i, alert in enumerate(items(body.get("alerts"), "alerts")):
        extra = (
            link(alert.get("dashboardURL"), "dashboard")
            + link(alert.get("panelURL"), "panel")
            + link(alert.get("silenceURL"), "silence")
            + link(body.get("externalURL"), "Grafana")
        )
        out.append(alertmanager.alert_event(alert, f"alerts[{i}]", key, extra))
    return out


def _legacy(body: Mapping[str, Any]) -> list[AlertEvent]:
    state = text(body, "state", "state", required=True)
    if state not in LEGACY_ACTIONS:
        raise Invalid(f"state must be one of {', '.join(LEGACY_ACTIONS)}", field="state")
    action = LEGACY_ACTIONS[state]
    if action is None:
        return []
    rule_id = text(body, "ruleId", "ruleId")
    rule_name = text(body, "ruleName", "ruleName")
    if not rule_id and not rule_name:
        raise Invalid("ruleId is required", field="ruleId")
    tags = str_map(body.get("tags"), "tags")
    items(body.get("evalMatches") or [], "evalMatches")
    identity = f"rule:{rule_id or rule_name}"
    severity = (
        "warning" if state == "no_data" else severity_from(tags.get("severity"), alertmanager.SEVERITIES)
    )
    return [
        AlertEvent(
            fingerprint=identity,
            dedup_key=identity,
            action=action,  # type: ignore[arg-type]
            summary=summary(text(body, "title", "title") or rule_name or identity),
            severity=severity,
            source="grafana",
            labels={**tags, "ruleName": rule_name, "state": state},
            annotations={"message": text(body, "message", "message")},
            links=link(body.get("ruleUrl"), "rule") + link(body.get("imageUrl"), "image"),
            raw=dict(body),
        )
    ]


def parse(payload: Any) -> list[AlertEvent]:
    """Grafana webhook (unified when it carries ``alerts``, else legacy) → events."""
    body = obj(payload, "body")
    if "alerts" in body:
        return _unified(body)
    if "ruleId" in body or "ruleName" in body or "state" in body:
        return _legacy(body)
    raise Invalid("alerts is required (or ruleId and state for a legacy alert)", field="alerts")
