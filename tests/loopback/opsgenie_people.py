"""The loopback Opsgenie's people's contacts and notification rules, team routing rules and maintenance."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


def contacts_of(user: dict, n: int) -> list[dict]:
    phone = f"90-5551{n:06d}"
    return [
        {"id": f"c-{user['id']}-{m}", "method": m, "to": to, "status": {"enabled": True}}
        for m, to in (("email", user["username"]), ("sms", phone), ("voice", phone), ("mobile", "Pixel 8"))
    ]


def _step(method: str, to: str, after: int) -> dict:
    return {
        "id": f"s-{method}-{after}",
        "contact": {"method": method, "to": to},
        "sendAfter": {"timeAmount": after, "timeUnit": "minutes"},
        "enabled": True,
    }


def rules_of(rng: random.Random, user: dict, n: int) -> list[dict]:
    """Opsgenie's usual pair (a high-priority rule, then the catch-all new-alert one), and a schedule one."""
    phone = f"90-5551{n:06d}"
    rules = [
        {
            "id": _uuid(rng),
            "name": "High priority",
            "actionType": "create-alert",
            "order": 1,
            "enabled": True,
            "criteria": {
                "type": "match-any-condition",
                "conditions": [{"field": "priority", "operation": "equals", "expectedValue": "P1"}],
            },
            "steps": [_step("voice", phone, 0), _step("mobile", "Pixel 8", 0), _step("sms", phone, 2)],
        },
        {
            "id": _uuid(rng),
            "name": "New alert",
            "actionType": "create-alert",
            "order": 2,
            "enabled": True,
            "criteria": {"type": "match-all"},
            "steps": [
                _step("email", user["username"], 0),
                _step("mobile", "Pixel 8", 0),
                _step("sms", phone, 5),
            ],
        },
        {
            "id": _uuid(rng),
            "name": "On-call starts",
            "actionType": "schedule-start",
            "order": 3,
            "enabled": True,
            "notificationTime": ["just-before"],
            "steps": [_step("email", user["username"], 0)],
        },
    ]
    if n == 0:
        rules.insert(
            0,
            {
                "id": _uuid(rng),
                "name": "Database alerts",
                "actionType": "create-alert",
                "order": 0,
                "enabled": True,
                "criteria": {
                    "type": "match-all-conditions",
                    "conditions": [{"field": "tags", "operation": "contains", "expectedValue": "db"}],
                },
                "steps": [_step("voice", phone, 0)],
            },
        )
    return rules


def routing_of(
    rng: random.Random, teams: list[dict], escalation: dict, other: dict, schedule: dict
) -> dict[str, list[dict]]:
    first = [
        {
            "id": _uuid(rng),
            "name": "Night shift",
            "isDefault": False,
            "order": 0,
            "criteria": {
                "type": "match-all-conditions",
                "conditions": [{"field": "message", "operation": "contains", "expectedValue": "disk"}],
            },
            "notify": {"type": "schedule", "id": schedule["id"], "name": schedule["name"]},
        },
        {
            "id": _uuid(rng),
            "name": "Database",
            "isDefault": False,
            "order": 1,
            "criteria": {
                "type": "match-any-condition",
                "conditions": [
                    {"field": "message", "operation": "starts-with", "expectedValue": "[db]"},
                    {"field": "tags", "operation": "contains", "expectedValue": "database"},
                ],
            },
            "notify": {"type": "escalation", "id": other["id"], "name": other["name"]},
        },
        {
            "id": _uuid(rng),
            "name": "Business hours",
            "isDefault": False,
            "order": 2,
            "criteria": {"type": "match-all"},
            "timeRestriction": {
                "type": "time-of-day",
                "restriction": {"startHour": 9, "startMin": 0, "endHour": 17, "endMin": 0},
            },
            "notify": {"type": "escalation", "id": other["id"], "name": other["name"]},
        },
        {
            "id": _uuid(rng),
            "name": "Default Routing Rule",
            "isDefault": True,
            "order": 3,
            "criteria": {"type": "match-all"},
            "notify": {"type": "escalation", "id": escalation["id"], "name": escalation["name"]},
        },
    ]
    default = {
        "id": _uuid(rng),
        "name": "Default Routing Rule",
        "isDefault": True,
        "order": 0,
        "criteria": {"type": "match-all"},
        "notify": {"type": "none"},
    }
    return {teams[0]["id"]: first, teams[1]["id"]: [default]}


def maintenance_of(rng: random.Random, now: datetime, api: dict) -> list[dict]:
    def window(description: str, start: datetime, end: datetime | None, rules: list[dict]) -> dict:
        time = {"type": "schedule" if end else "indefinitely", "startDate": start.isoformat()}
        if end:
            time["endDate"] = end.isoformat()
        status = "past" if end and end <= now else "active" if start <= now else "planned"
        return {"id": _uuid(rng), "status": status, "description": description, "time": time, "rules": rules}

    on_api = [{"state": "enabled", "entity": {"id": api["id"], "type": "integration"}}]
    policy = [{"state": "enabled", "entity": {"id": _uuid(rng), "type": "policy"}}]
    hour = timedelta(hours=1)
    start = now.replace(second=0, microsecond=0)
    return [
        window("DB upgrade", start - hour, start + 48 * hour, on_api + policy),
        window("Forever quiet", start - hour, None, on_api),
        window("Last week", start - 200 * hour, start - 190 * hour, on_api),
    ]
