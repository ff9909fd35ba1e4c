"""Read a PagerDuty account through REST API v2 (GET only; limit/offset/more paging)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from importers.http import SourceClient, SourceError
from importers.shifts import WINDOW

DEFAULT_API = "https://api.pagerduty.com"


def client(token: str, api_url: str | None = None) -> SourceClient:
    headers = {"Authorization": f"Token token={token}", "Accept": "application/vnd.pagerduty+json;version=2"}
    return SourceClient(api_url or DEFAULT_API, headers)


def fetch(source: SourceClient, now: datetime) -> dict[str, Any]:
    """Users with their contact methods and rules, teams, schedules with layers, overrides and final
    schedule over the compared window, escalation policies, services with integrations, maintenance,
    v3 webhook subscriptions and event orchestrations (read only to report what cannot be carried)."""
    window = {"since": now.isoformat(), "until": (now + WINDOW).isoformat()}
    users = list(
        source.offset_pages("/users", "users", {"include[]": ["contact_methods", "notification_rules"]})
    )
    schedules = []
    for listed in source.offset_pages("/schedules", "schedules"):
        full = source.get(f"/schedules/{listed['id']}", window)["schedule"]
        full["overrides"] = list(
            source.offset_pages(f"/schedules/{listed['id']}/overrides", "overrides", window)
        )
        schedules.append(full)
    services = list(source.offset_pages("/services", "services", {"include[]": "integrations"}))
    return {
        "users": users,
        "teams": list(source.offset_pages("/teams", "teams")),
        "schedules": schedules,
        "escalation_policies": list(source.offset_pages("/escalation_policies", "escalation_policies")),
        "services": services,
        "maintenance_windows": list(
            source.offset_pages("/maintenance_windows", "maintenance_windows", {"filter": "open"})
        ),
        "webhook_subscriptions": list(source.offset_pages("/webhook_subscriptions", "webhook_subscriptions")),
        "orchestrations": _orchestrations(source),
        "service_orchestrations": {svc["id"]: _service_orchestration(source, svc["id"]) for svc in services},
        "rulesets": _rulesets(source),
        "service_rules": {
            svc["id"]: _listed(source, f"/services/{svc['id']}/rules", "rules") for svc in services
        },
    }


def _optional(source: SourceClient, path: str) -> dict[str, Any] | None:
    """One event routing read; accounts without the feature answer 4xx, which means "none"."""
    try:
        return source.get(path)
    except SourceError as err:
        if err.status in (402, 403, 404):  # not on this plan, not allowed to this key, or none
            return None
        raise


def _listed(source: SourceClient, path: str, key: str) -> list[dict[str, Any]]:
    """A paged list of event routing objects; a 4xx from an account without the feature means none."""
    try:
        return list(source.offset_pages(path, key))
    except SourceError as err:
        if err.status in (402, 403, 404):
            return []
        raise


def _orchestrations(source: SourceClient) -> list[dict[str, Any]]:
    """Global orchestrations, each with its router's rules (`orchestration_path.sets[].rules`)."""
    listed = _listed(source, "/event_orchestrations", "orchestrations")
    for o in listed:
        router = _optional(source, f"/event_orchestrations/{o['id']}/router") or {}
        o["router"] = router.get("orchestration_path") or {}
    return listed


def _rulesets(source: SourceClient) -> list[dict[str, Any]]:
    """Legacy global Event Rules (rulesets), each with its rules."""
    listed = _listed(source, "/rulesets", "rulesets")
    for r in listed:
        r["rules"] = _listed(source, f"/rulesets/{r['id']}/rules", "rules")
    return listed


def _service_orchestration(source: SourceClient, service_id: str) -> dict[str, Any]:
    found = _optional(source, f"/event_orchestrations/services/{service_id}") or {}
    return found.get("orchestration_path") or {}
