"""PagerDuty v3 webhook subscriptions → SLAR outgoing webhooks (URL, events and team scope kept)."""

from __future__ import annotations

from importers.plan import Item, Line

# PagerDuty v3 event types SLAR has an incident event for.
EVENTS = {
    "incident.triggered": "triggered",
    "incident.acknowledged": "acknowledged",
    "incident.unacknowledged": "unacknowledged",
    "incident.resolved": "resolved",
    "incident.escalated": "escalated",
    "incident.annotated": "note",
    "incident.reopened": "reopened",
}


def webhooks(subscriptions: list[dict], services: list[dict], skipped: list[Line]) -> list[Item]:
    """Active HTTP subscriptions with at least one event SLAR sends; the rest reported, one line each."""
    team_of = {svc["id"]: (svc.get("teams") or [{}])[0].get("id") for svc in services}
    items = []
    for w in subscriptions:
        name = w.get("description") or w["id"]
        method = w.get("delivery_method") or {}
        events = sorted({EVENTS[e] for e in w.get("events") or [] if e in EVENTS})
        why = _refused(w, method, events)
        if why:
            skipped.append(Line("webhook", "cannot_import", name, w["id"], why))
            continue
        team = _scope(w, team_of, skipped, name)
        dropped = sorted(e for e in w.get("events") or [] if e not in EVENTS)
        if dropped:
            why = f"SLAR sends no event like {', '.join(dropped)}: the other events are kept"
            skipped.append(Line("webhook", "cannot_import", f"{name}: some events", w["id"], why))
        if method.get("custom_headers"):
            why = "custom headers are not carried over (SLAR signs with X-SLAR-Signature instead)"
            skipped.append(Line("webhook", "cannot_import", f"{name}: custom headers", w["id"], why))
        spec = {"name": name[:200], "url": method["url"], "events": events, "team": team}
        items.append(Item("webhook", w["id"], spec["name"], spec))
    return items


def _refused(w: dict, method: dict, events: list[str]) -> str | None:
    if method.get("type", "http_delivery_method") != "http_delivery_method" or not method.get("url"):
        return f"delivery method {method.get('type')} has no URL SLAR can POST to"
    if w.get("active") is False:
        return "the subscription is inactive at PagerDuty"
    if not events:
        return f"SLAR sends no event like {', '.join(w.get('events') or ['(none)'])}"
    return None


def _scope(w: dict, team_of: dict[str, str | None], skipped: list[Line], name: str) -> str | None:
    """Team filters are kept; a service filter becomes the service's team, an account filter all."""
    f = w.get("filter") or {}
    if f.get("type") == "team_reference":
        return f.get("id")
    if f.get("type") == "service_reference":
        team = team_of.get(f.get("id", ""))
        widened = "its service's team" if team else "all incidents"
        why = f"SLAR subscribes per team, not per service: imported for {widened}"
        skipped.append(Line("webhook", "cannot_import", f"{name}: service filter", w["id"], why))
        return team
    return None
