"""A PagerDuty REST API v2 on loopback over a seeded account: limit/offset/more paging, {"error": …}.

Shapes follow PagerDuty's API reference: users (include[]=contact_methods,notification_rules),
teams, schedules/{id} with schedule_layers (rotation_virtual_start, rotation_turn_length_seconds,
users, daily/weekly restrictions) and final_schedule.rendered_schedule_entries, overrides,
escalation_policies (escalation_rules with escalation_rule_assignment_strategy, num_loops), services
(include[]=integrations, incident_urgency_rule), maintenance windows, v3 webhook_subscriptions and
event_orchestrations (their router and service orchestrations). The final schedule is rendered here
plainly, independent of SLAR's resolver.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.loopback._http import Call, LoopbackServer
from tests.loopback.pagerduty_routing import (
    URGENCY_RULES,
    pd_id,
    route_rule,
    ruleset,
    subscriptions,
    suppress_rule,
)

ZONES = ("America/New_York", "Europe/Berlin", "America/Los_Angeles")


def generate(
    seed: int, *, now: datetime, people: int = 20, schedules: int = 4, policies: int = 0, services: int = 6
) -> dict[str, list[dict]]:
    """An account; `policies` beyond one per schedule reuse the schedules in turn."""
    policy_count, service_count = policies, services  # the names are the account's lists below
    rng = random.Random(seed)
    teams = [
        {"id": pd_id(rng), "type": "team", "name": f"PD Team {n}", "summary": f"PD Team {n}"}
        for n in range(3)
    ]
    users = []
    for n in range(people):
        email, phone, push = pd_id(rng), pd_id(rng), pd_id(rng)
        users.append(
            {
                "id": pd_id(rng),
                "type": "user",
                "name": f"Responder {n}",
                "email": f"responder{n}@example.com",
                "time_zone": rng.choice(ZONES),
                "role": rng.choice(("admin", "user", "user", "observer")),
                "teams": [{"id": teams[n % 3]["id"], "type": "team_reference"}],
                "contact_methods": [
                    {"id": email, "type": "email_contact_method", "address": f"responder{n}@example.com"},
                    {
                        "id": phone,
                        "type": "phone_contact_method",
                        "country_code": 1,
                        "address": f"55501{n:05d}",
                    },
                    {"id": push, "type": "push_notification_contact_method", "address": "iPhone"},
                    *(
                        [
                            {
                                "id": f"{phone}S",
                                "type": "sms_contact_method",
                                "country_code": 44,
                                "address": f"77009{n:05d}",
                            }
                        ]
                        if n % 2
                        else []
                    ),
                ],
                "notification_rules": [
                    {
                        "id": pd_id(rng),
                        "start_delay_in_minutes": 0,
                        "urgency": "high",
                        "contact_method": {"id": email, "type": "email_contact_method"},
                    },
                    {
                        "id": pd_id(rng),
                        "start_delay_in_minutes": 5,
                        "urgency": "high",
                        "contact_method": {"id": phone, "type": "phone_contact_method"},
                    },
                    {
                        "id": pd_id(rng),
                        "start_delay_in_minutes": 0,
                        "urgency": "low",
                        "contact_method": {"id": email, "type": "email_contact_method"},
                    },
                ],
            }
        )
    scheds = [_schedule(rng, n, users, teams, now) for n in range(schedules)]
    policies = []
    for n in range(max(policy_count, len(scheds))):
        s = scheds[n % len(scheds)]
        policies.append(
            {
                "id": pd_id(rng),
                "type": "escalation_policy",
                "name": f"EP {n}",
                "num_loops": 12 if n == 3 else n % 3,
                "teams": [{"id": teams[n % 3]["id"]}],
                "escalation_rules": [
                    {
                        "id": pd_id(rng),
                        "escalation_delay_in_minutes": 15,
                        "targets": [{"id": s["id"], "type": "schedule_reference"}],
                    },
                    {
                        "id": pd_id(rng),
                        "escalation_delay_in_minutes": 30,
                        "targets": [{"id": users[n]["id"], "type": "user_reference"}],
                        "escalation_rule_assignment_strategy": "assign_to_everyone",
                    },
                    {
                        "id": pd_id(rng),
                        "escalation_delay_in_minutes": 30,
                        "targets": [
                            {"id": users[n + 1]["id"], "type": "user_reference"},
                            {"id": users[n + 2]["id"], "type": "user_reference"},
                        ],
                        "escalation_rule_assignment_strategy": "round_robin",
                    },
                ],
            }
        )
    services = []
    for n in range(service_count):
        key = "".join(rng.choices("0123456789abcdef", k=32))
        integrations = [
            {
                "id": pd_id(rng),
                "type": "events_api_v2_inbound_integration",
                "summary": f"Prometheus {n}",
                "integration_key": key,
            }
        ]
        if n == 5:
            integrations.append(
                {
                    "id": pd_id(rng),
                    "type": "generic_events_api_inbound_integration",
                    "summary": "Legacy v1 sender",
                    "integration_key": "".join(rng.choices("0123456789abcdef", k=32)),
                }
            )
        if n == 0:
            integrations.append(
                {
                    "id": pd_id(rng),
                    "type": "email_inbound_integration",
                    "summary": "E-mail",
                    "integration_email": "svc@acme.pagerduty.com",
                }
            )
        services.append(
            {
                "id": pd_id(rng),
                "type": "service",
                "name": f"PD Service {n}",
                "teams": [],
                "escalation_policy": {"id": policies[n % len(policies)]["id"]},
                "integrations": integrations,
                "incident_urgency_rule": URGENCY_RULES[n % len(URGENCY_RULES)],
            }
        )
    services[1]["teams"] = [{"id": teams[1]["id"], "type": "team_reference"}]
    windows = [
        {
            "id": pd_id(rng),
            "description": "DB upgrade",
            "start_time": now.isoformat(),
            "end_time": (now + timedelta(hours=2)).isoformat(),
            "services": [{"id": services[0]["id"]}],
        }
    ]
    return {
        "users": users,
        "teams": teams,
        "schedules": scheds,
        "escalation_policies": policies,
        "services": services,
        "maintenance_windows": windows,
        "webhook_subscriptions": subscriptions(rng, teams, services),
        "orchestrations": [
            {
                "id": pd_id(rng),
                "type": "event_orchestration",
                "name": "Global router",
                "router": {
                    "type": "router",
                    "sets": [{"id": "start", "rules": [route_rule(rng, services[2])]}],
                },
            }
        ],
        "rulesets": [ruleset(rng, services[4])],
        "service_rules": {services[4]["id"]: [suppress_rule(rng)]},
        "service_orchestrations": {
            services[3]["id"]: {"type": "service", "sets": [{"id": "start", "rules": [suppress_rule(rng)]}]}
        },
    }


def _schedule(rng: random.Random, n: int, users: list[dict], teams: list[dict], now: datetime) -> dict:
    zone = ZONES[n % len(ZONES)]
    tz = ZoneInfo(zone)
    monday = (now.astimezone(tz) - timedelta(days=now.astimezone(tz).weekday() + 14)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    pool = rng.sample(users, 6)

    def layer(name: str, members: list[dict], turn: int, start: datetime, restrictions: list[dict]) -> dict:
        return {
            "id": pd_id(rng),
            "name": name,
            "start": start.isoformat(),
            "end": None,
            "rotation_virtual_start": start.isoformat(),
            "rotation_turn_length_seconds": turn,
            "users": [{"user": {"id": u["id"], "type": "user_reference"}} for u in members],
            "restrictions": restrictions,
        }

    business = [
        {
            "type": "weekly_restriction",
            "start_day_of_week": 1,
            "start_time_of_day": "09:00:00",
            "duration_seconds": 4 * 86400 + 8 * 3600,
        }
    ]  # Mon 09:00 → Fri 17:00
    # The first four schedules hand off alike; the further ones of a big account vary the night's hours
    # and the primary layer's turn (12 hours, 2 days or a week).
    night, primary = (18, 7 * 86400) if n < 4 else (18 + 2 * (n % 2), (43200, 2 * 86400, 7 * 86400)[n % 3])
    nights = [
        {"type": "daily_restriction", "start_time_of_day": f"{night}:00:00", "duration_seconds": 14 * 3600}
    ]
    layers = [  # the winning layer first, as the API lists them
        layer("Nights", pool[4:6], 86400, monday.replace(hour=night), nights),
        layer("Business hours", pool[2:4], 86400, monday, business),
        layer("Primary", pool[:2] + [pool[5]], primary, monday, []),
    ]
    ended = (now - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    overrides = [
        {
            "id": pd_id(rng),
            "start": (ended - timedelta(hours=6)).isoformat(),
            "end": ended.isoformat(),
            "user": {"id": pool[0]["id"], "type": "user_reference"},
        }
    ]
    for k in range(2):
        start = (now + timedelta(days=5 + 20 * k)).replace(minute=0, second=0, microsecond=0)
        overrides.append(
            {
                "id": pd_id(rng),
                "start": start.isoformat(),
                "end": (start + timedelta(hours=10)).isoformat(),
                "user": {"id": pool[3]["id"], "type": "user_reference"},
            }
        )
    return {
        "id": pd_id(rng),
        "type": "schedule",
        "name": f"PD Schedule {n}",
        "time_zone": zone,
        "teams": [{"id": teams[n % 3]["id"]}],
        "schedule_layers": layers,
        "overrides": overrides,
    }


def big(seed: int, *, now: datetime) -> dict[str, list[dict]]:
    """A realistic account: 60 people, 12 schedules with overrides, 15 policies, 40 integrations."""
    return generate(seed, now=now, people=60, schedules=12, policies=15, services=38)


# --- PagerDuty's final schedule, rendered plainly --------------------------------------------------------


def _in_restriction(r: dict, local: datetime) -> bool:
    begin = time.fromisoformat(r["start_time_of_day"])
    length = timedelta(seconds=r["duration_seconds"])
    for back in range(8):
        day = local.date() - timedelta(days=back)
        if r["type"] == "weekly_restriction" and day.isoweekday() != r["start_day_of_week"]:
            continue
        start = datetime.combine(day, begin)
        if start <= local < start + length:
            return True
    return False


def _layer_user(layer: dict, tz: ZoneInfo, at: datetime) -> str | None:
    local = at.astimezone(tz).replace(tzinfo=None)
    anchor = datetime.fromisoformat(layer["rotation_virtual_start"]).astimezone(tz).replace(tzinfo=None)
    if local < anchor:
        return None
    if layer["restrictions"] and not any(_in_restriction(r, local) for r in layer["restrictions"]):
        return None
    k = int((local - anchor).total_seconds() // layer["rotation_turn_length_seconds"])
    return layer["users"][k % len(layer["users"])]["user"]["id"]


def render(sched: dict, start: datetime, end: datetime) -> list[dict]:
    """rendered_schedule_entries over [start, end): checked at every quarter hour (all edges fall on one)."""
    tz = ZoneInfo(sched["time_zone"])
    out: list[dict] = []
    at = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0)
    while at < end:
        who = next(
            (
                o["user"]["id"]
                for o in sched["overrides"]
                if datetime.fromisoformat(o["start"]) <= at < datetime.fromisoformat(o["end"])
            ),
            None,
        )
        if who is None:
            who = next((u for u in (_layer_user(la, tz, at) for la in sched["schedule_layers"]) if u), None)
        nxt = min(at + timedelta(minutes=15), end)
        if who and out and out[-1]["user"]["id"] == who and out[-1]["end"] == at.isoformat():
            out[-1]["end"] = nxt.isoformat()
        elif who:
            out.append({"start": max(at, start).isoformat(), "end": nxt.isoformat(), "user": {"id": who}})
        at = nxt
    return out


class PagerDutyServer(LoopbackServer):
    """Serves an account read-only; a 429 with Retry-After once, at the `throttle_at`-th GET."""

    def __init__(
        self, account: dict, token: str = "pd-test-key", throttle_at: int | None = 4, limit: int = 7
    ) -> None:
        super().__init__()
        self.account, self.token, self.throttle_at, self.max_limit = account, token, throttle_at, limit
        self.gets = 0
        self.throttled = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, call: Call) -> tuple[Any, ...]:
        self.gets += 1
        if call.headers.get("authorization") != f"Token token={self.token}":
            return 401, {"error": {"message": "Unauthorized", "code": 2006}}
        if self.throttle_at is not None and self.gets == self.throttle_at:
            self.throttled += 1
            return 429, {"error": {"message": "Rate Limit Exceeded", "code": 2020}}, {"Retry-After": "1"}
        parts = [p for p in call.path.split("/") if p]
        if len(parts) == 1 and parts[0] in self.account:
            return 200, self._page(call, parts[0], self.account[parts[0]])
        if parts and parts[0] == "rulesets":
            return self._ruleset(call, parts[1:])
        if len(parts) == 3 and parts[0] == "services" and parts[2] == "rules":
            return 200, self._page(call, "rules", self.account["service_rules"].get(parts[1], []))
        if parts and parts[0] == "event_orchestrations":
            return self._orchestration(call, parts[1:])
        if len(parts) >= 2 and parts[0] == "schedules":
            sched = next((s for s in self.account["schedules"] if s["id"] == parts[1]), None)
            if sched is None:
                return 404, {"error": {"message": "Not Found", "code": 2100}}
            since = datetime.fromisoformat(call.body["since"]).astimezone(UTC)
            until = datetime.fromisoformat(call.body["until"]).astimezone(UTC)
            if len(parts) == 3 and parts[2] == "overrides":
                # Like PagerDuty: only the overrides that overlap [since, until).
                overlap = [
                    o
                    for o in sched["overrides"]
                    if datetime.fromisoformat(o["end"]) > since and datetime.fromisoformat(o["start"]) < until
                ]
                return 200, self._page(call, "overrides", overlap)
            body = {k: v for k, v in sched.items() if k != "overrides"}
            body["final_schedule"] = {
                "name": "Final Schedule",
                "rendered_schedule_entries": render(sched, since, until),
            }
            return 200, {"schedule": body}
        return 404, {"error": {"message": "Not Found", "code": 2100}}

    def _ruleset(self, call: Call, rest: list[str]) -> tuple[Any, ...]:
        """GET /rulesets and /rulesets/{id}/rules (legacy global Event Rules)."""
        if not rest:
            listed = [{k: v for k, v in r.items() if k != "rules"} for r in self.account["rulesets"]]
            return 200, self._page(call, "rulesets", listed)
        found = next((r for r in self.account["rulesets"] if r["id"] == rest[0]), None)
        if found is None or rest[1:] != ["rules"]:
            return 404, {"error": {"message": "Not Found", "code": 2100}}
        return 200, self._page(call, "rules", found["rules"])

    def _orchestration(self, call: Call, rest: list[str]) -> tuple[Any, ...]:
        """GET /event_orchestrations, its /{id}/router, and /event_orchestrations/services/{id}."""
        listed = [{k: v for k, v in o.items() if k != "router"} for o in self.account["orchestrations"]]
        if not rest:
            return 200, self._page(call, "orchestrations", listed)
        if len(rest) == 2 and rest[0] == "services":
            empty = {"type": "service", "sets": [{"id": "start", "rules": []}]}
            path = self.account["service_orchestrations"].get(rest[1], empty)
            return 200, {"orchestration_path": path}
        found = next((o for o in self.account["orchestrations"] if o["id"] == rest[0]), None)
        if found is None or rest[1:] != ["router"]:
            return 404, {"error": {"message": "Not Found", "code": 2100}}
        return 200, {"orchestration_path": found["router"]}

    def _page(self, call: Call, key: str, rows: list[dict]) -> dict:
        limit = min(int(call.body.get("limit", 25)), self.max_limit)  # several pages even for small lists
        offset = int(call.body.get("offset", 0))
        return {
            key: rows[offset : offset + limit],
            "limit": limit,
            "offset": offset,
            "more": offset + limit < len(rows),
            "total": None,
        }
