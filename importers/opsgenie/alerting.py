"""Opsgenie maintenance, team routing rules and outgoing webhooks → plan items and lines (pure)."""

from __future__ import annotations

from datetime import datetime

from importers import shifts
from importers.opsgenie import routing
from importers.plan import Item, Line

# Which alert actions post to a Webhook integration's URL is not in Opsgenie's API.
WEBHOOK_EVENTS = ["acknowledged", "note", "resolved", "triggered"]


def maintenance(windows: list[dict], imported: set[str], now: datetime, skipped: list[Line]) -> list[Item]:
    """Windows still to end over imported (API) integrations; policy rules and open-ended ones reported."""
    items = []
    for m in windows:
        name = m.get("description") or m["id"]
        time = m.get("time") or {}
        if not time.get("endDate"):
            why = "an indefinite maintenance has no end; SLAR's windows end (set one in SLAR)"
            skipped.append(Line("maintenance_window", "cannot_import", name, m["id"], why))
            continue
        end = shifts.parse_instant(time["endDate"])
        if end <= now:
            continue
        rules = [r for r in m.get("rules") or [] if r.get("state", "enabled") == "enabled"]
        integrations = []
        for r in rules:
            entity = r.get("entity") or {}
            if entity.get("type") == "integration" and entity.get("id") in imported:
                integrations.append(entity["id"])
            else:
                why = (
                    "policies are not imported"
                    if entity.get("type") == "policy"
                    else "its integration is not imported"
                )
                skipped.append(
                    Line("maintenance_window", "cannot_import", f"{name}: {entity.get('type')}", m["id"], why)
                )
        if not integrations:
            why = "none of its integrations is imported"
            skipped.append(Line("maintenance_window", "cannot_import", name, m["id"], why))
            continue
        spec = {
            "reason": m.get("description") or "",
            "start": shifts.parse_instant(time.get("startDate") or now.isoformat()).isoformat(),
            "end": end.isoformat(),
            "integrations": sorted(integrations),
        }
        items.append(Item("maintenance_window", m["id"], name, spec))
    return items


def default_chains(teams: list[dict], schedules: set[str]) -> dict[str, str]:
    """team id → the escalation its default routing rule notifies (for an imported schedule it notifies
    directly: the policy paging that schedule, see importers.opsgenie.routing)."""
    out = {}
    for t in teams:
        for r in t.get("routingRules") or []:
            notify = r.get("notify") or {}
            if r.get("isDefault") and notify.get("type") == "escalation":
                out[t["id"]] = notify["id"]
            elif r.get("isDefault") and notify.get("type") == "schedule" and notify.get("id") in schedules:
                out[t["id"]] = routing.schedule_chain_id(notify["id"])
    return out


def routing_lines(teams: list[dict], schedules: set[str]) -> list[Line]:
    """Default routing rules SLAR cannot follow (the others are routes: importers.opsgenie.routing)."""
    lines = []
    for t in teams:
        for r in t.get("routingRules") or []:
            notify = r.get("notify") or {}
            if not r.get("isDefault") or notify.get("type") == "escalation":
                continue
            if notify.get("type") == "schedule" and notify.get("id") in schedules:
                continue
            why = f"its default rule notifies {notify.get('type')}: the team's first escalation pages"
            lines.append(Line("integration", "cannot_import", f"{t['name']}: default route", r["id"], why))
    return lines


def webhooks(integrations: list[dict], skipped: list[Line]) -> list[Item]:
    """Webhook integrations → outgoing webhooks to the same URL (custom headers cannot be carried)."""
    items = []
    for i in integrations:
        if i.get("type") != "Webhook":
            continue
        if not i.get("url"):
            skipped.append(Line("webhook", "cannot_import", i["name"], i["id"], "no URL in the integration"))
            continue
        if i.get("headers"):
            why = "its custom headers are not carried: SLAR signs its webhooks instead"
            skipped.append(Line("webhook", "cannot_import", f"{i['name']} headers", i["id"], why))
        team = (i.get("ownerTeam") or {}).get("id") or i.get("teamId")
        spec = {"name": i["name"], "url": i["url"], "events": WEBHOOK_EVENTS, "team": team}
        items.append(Item("webhook", i["id"], i["name"], spec))
    return items
