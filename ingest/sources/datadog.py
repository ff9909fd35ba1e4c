"""Datadog webhooks: the default payload and a custom payload of Datadog's documented variables.

Default (``$ID``, ``$EVENT_TITLE``, ``$EVENT_MSG``, ``$EVENT_TYPE``, ``$DATE``, ``$LAST_UPDATED``,
``$ORG_ID``/``$ORG_NAME``): id, title, body, event_type, date, last_updated, org. The transition,
priority and group are read from the title's prefixes, as Datadog writes them:
``[P2] [Warn on {host:web-1}] CPU high``.
Custom: alert_id (``$ALERT_ID``, the monitor), alert_transition, alert_scope, alert_priority,
alert_type (error|warning|success|info), alert_cycle_key, aggreg_key, tags ("k:v,k2:v2"), link.
Dedup and fingerprint: the monitor and its group: ``monitor:<alert_id>`` plus the scope
(``alert_scope``, else the title's ``on {…}``), so Triggered, Re-Triggered, Renotify and Recovered of
one monitor group meet in one incident and each group of a multi-alert monitor is its own alert.
Without a monitor id: ``aggreg_key``, else ``alert_cycle_key``, else the title without its prefixes
(constant across a monitor's notifications), with the scope; ``id`` (per event) is never the key.
Action: Recovered (or alert_type success) resolves; Triggered, Re-Triggered, Warn, Renotify and
No Data trigger.
Severity: priority P1 → critical, P2 → error, P3 → warning, P4/P5 → info (error without one); a
Warn or No Data (or alert_type warning) is at most a warning, alert_type info at most info.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.alerts.events import AlertEvent, Severity
from app.errors import Invalid
from app.incidents.logic import max_severity
from ingest.sources._common import link, obj, severity_from, stable_hash, summary, text, timestamp

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
    "re-warn": "trigger",
    "renotify": "trigger",
    "no data": "trigger",
    "re-no data": "trigger",
    "recovered": "resolve",
}
# The most a transition or alert type may page as: a Warn never pages as an error.
CEILINGS: dict[str, Severity] = {
    "warn": "warning",
    "re-warn": "warning",
    "no data": "warning",
    "re-no data": "warning",
    "warning": "warning",
    "info": "info",
}
# "[P2] [Warn on {host:web-1,env:prod}] CPU high": each bracket in front of the title.
_BRACKET = re.compile(r"^\s*\[(?P<inner>[^\]]*)\]\s*")
_PRIORITY = re.compile(r"^p[1-5]$", re.IGNORECASE)
_TRANSITION = re.compile(r"^(?P<t>[A-Za-z][A-Za-z -]*?)(?:\s+on\s+\{(?P<scope>[^}]*)\})?\s*$")


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


def title_parts(title: str) -> tuple[str, str, str, str]:
    """(priority, transition, scope, title without prefixes) from Datadog's event title."""
    priority = transition = scope = ""
    while match := _BRACKET.match(title):
        inner = match.group("inner").strip()
        if _PRIORITY.match(inner):
            priority = inner
        elif (t := _TRANSITION.match(inner)) and t.group("t").strip().lower() in TRANSITIONS:
            transition, scope = t.group("t").strip(), (t.group("scope") or "").strip()
        else:
            break  # a bracket that is part of the monitor's own name
        title = title[match.end() :]
    return priority, transition, scope, title.strip()


def _identity(body: Mapping[str, Any], title: str, scope: str) -> str:
    monitor = text(body, "alert_id", "alert_id")
    if monitor:
        return f"monitor:{monitor}|{scope}" if scope else f"monitor:{monitor}"
    for key in ("aggreg_key", "alert_cycle_key"):
        value = text(body, key, key)
        if value:
            return f"{key}:{value}|{scope}" if scope else f"{key}:{value}"
    org = body.get("org")
    org_id = str(org.get("id") or "") if isinstance(org, Mapping) else ""
    return "title:" + stable_hash(org_id, title, scope)


def _action(declared: str, transition: str, alert_type: str) -> str:
    if alert_type == "success":
        return "resolve"
    action = TRANSITIONS.get(transition.lower())
    if action is None and declared:
        raise Invalid(
            f"alert_transition {declared!r} is not one of Triggered, Re-Triggered, Recovered, No Data, "
            "Warn, Renotify",
            field="alert_transition",
        )
    return action or "trigger"  # a plain event with no transition is an alert being raised


def _severity(priority: str, transition: str, alert_type: str) -> Severity:
    base = severity_from(priority, PRIORITIES, "error")
    ceilings = [CEILINGS[k] for k in (transition.lower(), alert_type) if k in CEILINGS]
    # The less severe of the priority and the ceiling: max_severity of the inverted order.
    for ceiling in ceilings:
        if max_severity(base, ceiling) == base:
            base = ceiling
    return base


def parse(payload: Any) -> list[AlertEvent]:
    """Datadog webhook → one event."""
    body = obj(payload, "body")
    if not (text(body, "id", "id") or text(body, "alert_id", "alert_id")):
        raise Invalid("id is required (or alert_id, the monitor id)", field="id")
    title_priority, title_transition, title_scope, title = title_parts(text(body, "title", "title"))
    declared = text(body, "alert_transition", "alert_transition")
    transition = declared or title_transition or text(body, "event_type", "event_type")
    scope = text(body, "alert_scope", "alert_scope") or title_scope
    alert_type = text(body, "alert_type", "alert_type").strip().lower()
    priority = text(body, "alert_priority", "alert_priority") or title_priority
    identity = _identity(body, title, scope)
    labels = tags(body.get("tags"))
    if scope:
        labels["scope"] = scope
    org = body.get("org")
    return [
        AlertEvent(
            fingerprint=identity,
            dedup_key=identity,
            action=_action(declared, transition, alert_type),  # type: ignore[arg-type]
            summary=summary(title or text(body, "body", "body") or identity),
            severity=_severity(priority, transition, alert_type),
            source=(org.get("name") or "")
            if isinstance(org, Mapping) and isinstance(org.get("name"), str)
            else "",
            labels=labels,
            annotations={"body": text(body, "body", "body"), "transition": transition, "priority": priority},
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
