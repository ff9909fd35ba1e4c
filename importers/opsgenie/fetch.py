"""Read an Opsgenie account through its REST API v2 (GET only; {data, paging.next} paging)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from importers.http import SourceClient

DEFAULT_API = "https://api.opsgenie.com"


def client(key: str, api_url: str | None = None) -> SourceClient:
    return SourceClient(
        api_url or DEFAULT_API, {"Authorization": f"GenieKey {key}", "Accept": "application/json"}
    )


def fetch(source: SourceClient, now: datetime) -> dict[str, Any]:
    """Users with contacts and notification rules, teams with members and routing rules, schedules with
    rotations, overrides and final timeline (3 months from now), escalations, integrations with their
    API keys or webhook URLs, and maintenance not yet expired."""
    schedules = list(source.paging_next("/v2/schedules", {"expand": "rotation"}))
    for s in schedules:
        s["overrides"] = source.get(f"/v2/schedules/{s['id']}/overrides")["data"]
        timeline = {"date": now.isoformat(), "interval": 3, "intervalUnit": "months", "expand": "base"}
        s["timeline"] = source.get(f"/v2/schedules/{s['id']}/timeline", timeline)["data"]
    users = list(source.paging_next("/v2/users", {"limit": 100}))
    for u in users:
        u["contacts"] = source.get(f"/v2/users/{u['id']}/contacts")["data"]
        listed = source.get(f"/v2/users/{u['id']}/notification-rules")["data"]
        # The list leaves out steps and criteria; only "new alert" rules decide who is paged how.
        u["notificationRules"] = [
            source.get(f"/v2/users/{u['id']}/notification-rules/{r['id']}")["data"]
            for r in listed
            if r.get("actionType") == "create-alert"
        ]
    teams = [source.get(f"/v2/teams/{t['id']}")["data"] for t in source.paging_next("/v2/teams")]
    for t in teams:
        t["routingRules"] = source.get(f"/v2/teams/{t['id']}/routing-rules")["data"]
    return {
        "users": users,
        "teams": teams,
        "schedules": schedules,
        "escalations": list(source.paging_next("/v2/escalations")),
        "integrations": [
            source.get(f"/v2/integrations/{i['id']}")["data"] for i in source.paging_next("/v2/integrations")
        ],
        "maintenance": [
            source.get(f"/v1/maintenance/{m['id']}")["data"]
            for m in source.paging_next("/v1/maintenance", {"type": "non-expired"})
        ],
    }
