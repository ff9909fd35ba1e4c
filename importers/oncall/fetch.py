"""Read a Grafana OnCall organisation through its public API (GET only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from importers.http import SourceClient
from importers.shifts import WINDOW

LISTS = (
    "users",
    "teams",
    "personal_notification_rules",
    "schedules",
    "on_call_shifts",
    "escalation_chains",
    "escalation_policies",
    "integrations",
    "routes",
    "webhooks",
)


def client(url: str, token: str, api_url: str | None = None) -> SourceClient:
    """OnCall's API answers at its API URL; Grafana Cloud also wants the stack's URL in a header."""
    headers = {"Authorization": token, "Accept": "application/json"}
    if api_url:
        headers["X-Grafana-URL"] = url
    return SourceClient(api_url or url, headers)


def fetch(source: SourceClient, now: datetime) -> dict[str, Any]:
    """Every list the import needs, plus each rotation schedule's final shifts over the compared window."""
    snapshot: dict[str, Any] = {name: list(source.next_pages(f"/api/v1/{name}/")) for name in LISTS}
    days = {
        "start_date": now.date().isoformat(),
        "end_date": (now + WINDOW + timedelta(days=1)).date().isoformat(),
    }
    snapshot["final_shifts"] = {
        s["id"]: list(source.next_pages(f"/api/v1/schedules/{s['id']}/final_shifts/", days))
        for s in snapshot["schedules"]
        if s.get("type") != "ical"
    }
    return snapshot
