"""PagerDuty services → SLAR integrations (keys kept), urgency, maintenance; what routing cannot carry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from importers import shifts
from importers.plan import Item, Line

# Integration types whose key SLAR answers as a routing_key on /v2/enqueue.
EVENTS_V2 = "events_api_v2_inbound_integration"
EVENTS_V1 = "generic_events_api_inbound_integration"
ALL_SEVERITIES = ["critical", "error", "warning", "info"]
# PagerDuty's severity-based urgency: critical and error are high urgency, warning and info low.
HIGH_BY_SEVERITY = ["critical", "error"]


def integrations(services: list[dict], skipped: list[Line]) -> list[Item]:
    """Events API v2 (and v1) integrations keep their integration key, the routing_key on /v2/enqueue."""
    items = []
    for svc in services:
        for i in svc.get("integrations") or []:
            key = i.get("integration_key")
            if i.get("type") not in (EVENTS_V2, EVENTS_V1) or not key:
                skipped.append(
                    Line(
                        "integration",
                        "cannot_import",
                        f"{svc['name']}: {i.get('summary') or i['id']}",
                        i["id"],
                        f"integration type {i.get('type')} has no SLAR door",
                    )
                )
                continue
            spec = {
                "name": i.get("summary") or i.get("name") or svc["name"],
                "kind": "pagerduty",
                "token": key,
                "team": (svc.get("teams") or [{}])[0].get("id"),
                "service": svc["name"],
                "chain": (svc.get("escalation_policy") or {}).get("id"),
            }
            items.append(Item("integration", i["id"], spec["name"], spec))
    return items


def v1_note(services: list[dict]) -> str | None:
    """Events API v1 keys are kept and answer on SLAR's v1 door as on its v2 door: only the host changes."""
    v1 = sum(1 for svc in services for i in svc.get("integrations") or [] if i.get("type") == EVENTS_V1)
    if not v1:
        return None
    return (
        f"{v1} Events API v1 integration key(s) kept: each answers as service_key on "
        "/generic/2010-04-15/create_event.json and as routing_key on /v2/enqueue; senders change only "
        "the host (Alertmanager's service_key receivers always call events.pagerduty.com: give them a "
        "routing_key and url instead)"
    )


def _first_key(svc: dict) -> str | None:
    """The integration that carries a service into SLAR (its later integrations join the same service)."""
    return next(
        (
            i["id"]
            for i in svc.get("integrations") or []
            if i.get("type") in (EVENTS_V2, EVENTS_V1) and i.get("integration_key")
        ),
        None,
    )


def urgencies(services: list[dict], skipped: list[Line]) -> list[Item]:
    """A service's incident_urgency_rule → which severities run people's important (high urgency) rules."""
    items = []
    for svc in services:
        rule = svc.get("incident_urgency_rule") or {"type": "constant", "urgency": "high"}
        first = _first_key(svc)
        if first is None:
            continue
        kind = rule.get("type")
        if kind == "use_support_hours":
            rule = rule.get("during_support_hours") or {"type": "constant", "urgency": "high"}
            outside = (svc.get("incident_urgency_rule") or {}).get("outside_support_hours") or {}
            why = (
                f"urgency by support hours cannot be expressed: imported as {_label(rule)} at all hours "
                f"(PagerDuty uses {_label(outside)} outside support hours)"
            )
            skipped.append(Line("urgency", "cannot_import", f"{svc['name']}: support hours", svc["id"], why))
        severities = _severities(rule)
        spec = {"integration": first, "important_severities": severities}
        items.append(Item("urgency", svc["id"], f"{svc['name']}: {_label(rule)}", spec))
    return items


def _severities(rule: dict) -> list[str]:
    if rule.get("type") == "constant":
        return list(ALL_SEVERITIES) if rule.get("urgency", "high") == "high" else []
    return list(HIGH_BY_SEVERITY)  # severity_based


def _label(rule: dict) -> str:
    if rule.get("type") == "constant":
        return f"{rule.get('urgency', 'high')} urgency"
    return "urgency by severity" if rule.get("type") == "severity_based" else str(rule.get("type"))


def maintenance(windows: list[dict], services: list[dict], now: datetime, skipped: list[Line]) -> list[Item]:
    """Windows still to end, over the services imported through their Events API integrations."""
    kept = {
        svc["id"]: [i["id"] for i in svc.get("integrations") or [] if i.get("integration_key")]
        for svc in services
    }
    items = []
    for m in windows:
        end = shifts.parse_instant(m["end_time"])
        if end <= now:
            continue
        integrations = [i for s in m.get("services") or [] for i in kept.get(s["id"], [])[:1]]
        if not integrations:
            why = "none of its services is imported"
            skipped.append(
                Line("maintenance_window", "cannot_import", m.get("description") or m["id"], m["id"], why)
            )
            continue
        spec = {
            "reason": m.get("description") or "",
            "start": shifts.parse_instant(m["start_time"]).isoformat(),
            "end": end.isoformat(),
            "integrations": integrations,
        }
        items.append(Item("maintenance_window", m["id"], spec["reason"] or m["id"], spec))
    return items


def _rules(path: dict[str, Any]) -> int:
    return sum(len(s.get("rules") or []) for s in path.get("sets") or [])


def orchestrations(snapshot: dict[str, Any], skipped: list[Line]) -> None:
    """Event Orchestrations and (legacy) Event Rules route and rewrite events; SLAR routes by key only."""
    for o in snapshot.get("orchestrations") or []:
        n = _rules(o.get("router") or {})
        why = (
            f"routes events by {n} rule(s) to services; SLAR routes by integration key, so senders "
            "of this orchestration's routing key must use a service's key"
        )
        skipped.append(Line("event_rules", "cannot_import", f"orchestration {o.get('name')}", o["id"], why))
    by_id = {svc["id"]: svc for svc in snapshot["services"]}
    for service_id, path in sorted((snapshot.get("service_orchestrations") or {}).items()):
        n = _rules(path)
        if n and service_id in by_id:
            why = f"{n} service orchestration rule(s) (suppress, severity, routing) are not carried over"
            name = f"{by_id[service_id]['name']}: service orchestration"
            skipped.append(Line("event_rules", "cannot_import", name, service_id, why))
    for r in snapshot.get("rulesets") or []:
        rules = [x for x in r.get("rules") or [] if not x.get("catch_all")]
        if rules:
            why = (
                f"routes and rewrites events by {len(rules)} event rule(s); SLAR routes by integration key, "
                "so senders of its routing key must use a service's key"
            )
            skipped.append(Line("event_rules", "cannot_import", f"ruleset {r.get('name')}", r["id"], why))
    for service_id, rules in sorted((snapshot.get("service_rules") or {}).items()):
        if rules and service_id in by_id:
            why = f"{len(rules)} service event rule(s) (suppress, severity, urgency) are not carried over"
            name = f"{by_id[service_id]['name']}: service event rules"
            skipped.append(Line("event_rules", "cannot_import", name, service_id, why))
