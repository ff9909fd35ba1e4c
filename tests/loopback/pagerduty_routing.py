"""The routing half of the PagerDuty loopback account: urgency rules, webhook subscriptions, orchestrations.

Shapes follow PagerDuty's API reference: services' incident_urgency_rule (constant, severity_based,
use_support_hours), v3 webhook_subscriptions (delivery_method, events, filter, active) and Event
Orchestration rules (conditions, actions).
"""

from __future__ import annotations

import random
import string
from typing import Any


def pd_id(rng: random.Random) -> str:
    return "P" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=6))


URGENCY_RULES: list[dict] = [
    {"type": "constant", "urgency": "high"},
    {"type": "severity_based"},
    {
        "type": "use_support_hours",
        "during_support_hours": {"type": "constant", "urgency": "high"},
        "outside_support_hours": {"type": "constant", "urgency": "low"},
    },
    {"type": "constant", "urgency": "low"},
]


def route_rule(rng: random.Random, service: dict) -> dict:
    condition = {"expression": "event.summary matches part 'db'"}
    return {"id": pd_id(rng), "conditions": [condition], "actions": {"route_to": service["id"]}}


def ruleset(rng: random.Random, service: dict) -> dict:
    """A global ruleset with one routing rule and its catch-all, as GET /rulesets/{id}/rules lists them."""
    route = {"id": pd_id(rng), "position": 0, "disabled": False, "catch_all": False}
    route |= {"conditions": {"operator": "and", "subconditions": []}}
    route |= {"actions": {"route": {"value": service["id"]}}}
    catch_all = {"id": pd_id(rng), "position": 1, "catch_all": True, "actions": {}}
    routing_key = "R" + "".join(rng.choices("0123456789ABCDEF", k=31))
    return {
        "id": pd_id(rng),
        "name": "Legacy rules",
        "type": "global",
        "routing_keys": [routing_key],
        "rules": [route, catch_all],
    }


def suppress_rule(rng: random.Random) -> dict:
    condition = {"expression": "event.severity matches 'info'"}
    return {"id": pd_id(rng), "conditions": [condition], "actions": {"suppress": True}}


def subscriptions(rng: random.Random, teams: list[dict], services: list[dict]) -> list[dict]:
    def hook(description: str, events: list[str], scope: dict, **extra: Any) -> dict:
        method = {"id": pd_id(rng), "type": "http_delivery_method", "secret": None}
        method |= {"url": f"https://hooks.example.com/{description.replace(' ', '-')}"}
        method |= {"custom_headers": extra.pop("headers", [])}
        return {
            "id": pd_id(rng),
            "type": "webhook_subscription",
            "description": description,
            "delivery_method": method,
            "events": events,
            "filter": scope,
            "active": extra.pop("active", True),
        }

    every = ["incident.triggered", "incident.acknowledged", "incident.resolved", "incident.annotated"]
    return [
        hook(
            "chatops", [*every, "incident.priority_updated"], {"type": "team_reference", "id": teams[0]["id"]}
        ),
        hook("ticketing", ["incident.triggered", "incident.resolved"], {"type": "account_reference"}),
        hook(
            "status page",
            ["incident.triggered", "incident.escalated"],
            {"type": "service_reference", "id": services[1]["id"]},
            headers=[{"name": "X-Token", "value": "-- redacted --"}],
        ),
        hook("old bridge", every, {"type": "account_reference"}, active=False),
        hook("responders", ["incident.responder.added"], {"type": "account_reference"}),
    ]
