"""An Opsgenie REST API v2 on loopback over a seeded account: {data, paging: {next}} lists.

Shapes follow Opsgenie's API reference: users (username is the e-mail, role.name), teams/{id} with
members, schedules?expand=rotation (rotations: startDate, type, length, participants,
timeRestriction), schedules/{id}/overrides, schedules/{id}/timeline (finalTimeline.rotations[].
periods), escalations (rules with delay.timeAmount from the alert, recipient; repeat.count),
integrations and integrations/{id} with its apiKey (an API one) or url and headers (a Webhook one),
users/{id}/contacts, users/{id}/notification-rules (listed without steps; /{ruleId} with its criteria and
steps: contact, sendAfter), teams/{id}/routing-rules (isDefault, criteria, notify) and /v1/maintenance
(?type=non-expired; /{id} with its rules over integrations and policies). The timeline is rendered
plainly here.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.loopback._http import Call, LoopbackServer
from tests.loopback.opsgenie_people import contacts_of, maintenance_of, routing_of, rules_of

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PAGE = 5


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


def _rule(minutes: int, kind: str, target: str) -> dict:
    """An escalation rule paging `target` (a schedule, user or team) `minutes` after the alert, unacked."""
    return {
        "condition": "if-not-acked",
        "notifyType": "default",
        "delay": {"timeAmount": minutes, "timeUnit": "minutes"},
        "recipient": {"type": kind, "id": target},
    }


def generate(seed: int, *, now: datetime, people: int = 12) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    users = [
        {
            "id": _uuid(rng),
            "username": f"og{n}@example.net",
            "fullName": f"Genie {n}",
            "role": {"id": "User", "name": rng.choice(("Admin", "User", "Observer"))},
            "timeZone": "Europe/Istanbul",
        }
        for n in range(people)
    ]
    teams = [
        {
            "id": _uuid(rng),
            "name": f"OG Team {n}",
            "description": "",
            "members": [
                {"user": {"id": u["id"], "username": u["username"]}, "role": "user"} for u in users[n::2]
            ],
        }
        for n in range(2)
    ]
    tz = ZoneInfo("Europe/Amsterdam")
    monday = (now.astimezone(tz) - timedelta(days=now.astimezone(tz).weekday() + 7)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )

    def participants(group: list[dict]) -> list[dict]:
        return [{"type": "user", "id": u["id"], "username": u["username"]} for u in group]

    rotations = [  # the first listed wins
        {
            "id": _uuid(rng),
            "name": "EU nights",
            "startDate": monday.replace(hour=22).astimezone(UTC).isoformat(),
            "type": "daily",
            "length": 1,
            "participants": participants(users[0:3]),
            "timeRestriction": {
                "type": "time-of-day",
                "restriction": {"startHour": 22, "startMin": 0, "endHour": 6, "endMin": 0},
            },
        },
        {
            "id": _uuid(rng),
            "name": "Weekdays",
            "startDate": monday.astimezone(UTC).isoformat(),
            "type": "weekly",
            "length": 1,
            "participants": participants(users[3:6]),
            "timeRestriction": {
                "type": "weekday-and-time-of-day",
                "restrictions": [
                    {
                        "startDay": "monday",
                        "startHour": 8,
                        "startMin": 0,
                        "endDay": "friday",
                        "endHour": 18,
                        "endMin": 0,
                    }
                ],
            },
        },
        {
            "id": _uuid(rng),
            "name": "Backstop",
            "startDate": monday.astimezone(UTC).isoformat(),
            "type": "weekly",
            "length": 2,
            "participants": participants(users[6:9]),
        },
        {
            "id": _uuid(rng),
            "name": "Team on call",
            "startDate": monday.astimezone(UTC).isoformat(),
            "type": "daily",
            "length": 1,
            "participants": [{"type": "team", "id": teams[0]["id"]}],
        },
    ]
    start = (now + timedelta(days=9)).replace(minute=0, second=0, microsecond=0)
    schedule = {
        "id": _uuid(rng),
        "name": "OG Primary",
        "timezone": "Europe/Amsterdam",
        "enabled": True,
        "ownerTeam": {"id": teams[0]["id"], "name": teams[0]["name"]},
        "rotations": rotations,
        "overrides": [
            {
                "alias": "dentist",
                "user": {"type": "user", "id": users[9]["id"]},
                "startDate": start.isoformat(),
                "endDate": (start + timedelta(hours=6)).isoformat(),
                "rotations": [],
            }
        ],
    }
    escalations = [
        {
            "id": _uuid(rng),
            "name": "OG Escalation",
            "ownerTeam": {"id": teams[0]["id"]},
            "rules": [
                _rule(0, "schedule", schedule["id"]),
                _rule(10, "user", users[0]["id"]),
                _rule(30, "team", teams[1]["id"]),
            ],
            "repeat": {"waitInterval": 10, "count": 2},
        }
    ]
    integrations = [
        {
            "id": _uuid(rng),
            "name": "Prometheus API",
            "type": "API",
            "enabled": True,
            "ownerTeam": {"id": teams[0]["id"]},
            "apiKey": _uuid(rng),
        },
        {
            "id": _uuid(rng),
            "name": "Email",
            "type": "Email",
            "enabled": True,
            "ownerTeam": {"id": teams[0]["id"]},
        },
    ]
    integrations.append(
        {
            "id": _uuid(rng),
            "name": "Chat bridge",
            "type": "Webhook",
            "enabled": True,
            "ownerTeam": {"id": teams[0]["id"]},
            "url": "https://hooks.example.net/opsgenie",
            "headers": {"X-Bridge-Token": "b1"},
            "addAlertDescription": True,
            "addAlertDetails": True,
        }
    )
    escalations.append(  # the one a team routing rule sends database alerts to
        {
            "id": _uuid(rng),
            "name": "OG DB Escalation",
            "ownerTeam": {"id": teams[0]["id"]},
            "rules": [_rule(0, "user", users[1]["id"])],
            "repeat": {"waitInterval": 10, "count": 0},
        }
    )
    return {
        "users": users,
        "teams": teams,
        "schedules": [schedule],
        "escalations": escalations,
        "integrations": integrations,
        "contacts": {u["id"]: contacts_of(u, n) for n, u in enumerate(users)},
        "notification-rules": {u["id"]: rules_of(rng, u, n) for n, u in enumerate(users)},
        "routing-rules": routing_of(rng, teams, escalations[0], escalations[-1], schedule),
        "maintenance": maintenance_of(rng, now, integrations[0]),
    }


def _in_restriction(tr: dict | None, local: datetime) -> bool:
    if not tr:
        return True
    minute = local.hour * 60 + local.minute
    if tr["type"] == "time-of-day":
        r = tr["restriction"]
        lo, hi = r["startHour"] * 60 + r["startMin"], r["endHour"] * 60 + r["endMin"]
        return lo <= minute < hi if lo < hi else (minute >= lo or minute < hi)
    week = local.weekday() * 1440 + minute
    for r in tr["restrictions"]:
        lo = DAYS.index(r["startDay"]) * 1440 + r["startHour"] * 60 + r["startMin"]
        hi = DAYS.index(r["endDay"]) * 1440 + r["endHour"] * 60 + r["endMin"]
        if (lo <= week < hi) if lo < hi else (week >= lo or week < hi):
            return True
    return False


class _Rotation:
    """A rotation read once, asked who is on at wall-clock instants of its schedule's zone."""

    def __init__(self, rot: dict, tz: ZoneInfo) -> None:
        kinds = {p["type"] for p in rot["participants"]}
        # A team or escalation participant: Opsgenie routes to it; nobody by name.
        self.by_name = not kinds - {"user", "none"}
        self.anchor = datetime.fromisoformat(rot["startDate"]).astimezone(tz).replace(tzinfo=None)
        self.turn = timedelta(hours={"hourly": 1, "daily": 24, "weekly": 168}[rot["type"]] * rot["length"])
        self.restriction = rot.get("timeRestriction")
        self.slots = [p["id"] if p["type"] == "user" else None for p in rot["participants"]]
        end = rot.get("endDate")
        self.end = datetime.fromisoformat(end).astimezone(tz).replace(tzinfo=None) if end else None

    def user_at(self, local: datetime) -> str | None:
        if not self.by_name or local < self.anchor or (self.end and local >= self.end):
            return None
        if not _in_restriction(self.restriction, local):
            return None
        # A `none` turn has nobody: the next rotation shows.
        return self.slots[((local - self.anchor) // self.turn) % len(self.slots)]


def timeline(sched: dict, start: datetime, end: datetime) -> list[dict]:
    """finalTimeline periods over [start, end), checked every quarter hour (every edge falls on one)."""
    tz = ZoneInfo(sched["timezone"])
    rotations = [_Rotation(r, tz) for r in sched["rotations"]]
    overrides = [
        (datetime.fromisoformat(o["startDate"]), datetime.fromisoformat(o["endDate"]), o["user"]["id"])
        for o in sched["overrides"]
    ]
    periods: list[dict] = []
    at = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0)
    while at < end:
        who = next((u for lo, hi, u in overrides if lo <= at < hi), None)
        if who is None:
            local = at.astimezone(tz).replace(tzinfo=None)
            who = next((u for u in (r.user_at(local) for r in rotations) if u), None)
        nxt = min(at + timedelta(minutes=15), end)
        if who and periods and periods[-1]["recipient"]["id"] == who and periods[-1]["endDate"] == at:
            periods[-1]["endDate"] = nxt
        elif who:
            periods.append(
                {
                    "startDate": max(at, start),
                    "endDate": nxt,
                    "type": "default",
                    "recipient": {"type": "user", "id": who},
                }
            )
        at = nxt
    return [
        p | {"startDate": p["startDate"].isoformat(), "endDate": p["endDate"].isoformat()} for p in periods
    ]


class OpsgenieServer(LoopbackServer):
    """Serves an account read-only; a 429 with Retry-After once, at the `throttle_at`-th GET."""

    def __init__(self, account: dict, key: str = "og-test-key", throttle_at: int | None = 2) -> None:
        super().__init__()
        self.account, self.key, self.throttle_at = account, key, throttle_at
        self.gets = 0
        self.throttled = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, call: Call) -> tuple[Any, ...]:
        self.gets += 1
        if call.headers.get("authorization") != f"GenieKey {self.key}":
            return 401, {"message": "Could not authenticate", "took": 0.0, "requestId": "r"}
        if self.throttle_at is not None and self.gets == self.throttle_at:
            self.throttled += 1
            return 429, {"message": "You are making too many requests!"}, {"Retry-After": "1"}
        parts = [p for p in call.path.split("/") if p][1:]  # after v2
        if len(parts) == 1 and parts[0] in self.account:
            rows = self.account[parts[0]]
            if parts[0] == "integrations":  # the key and the URL only on a get
                rows = [{k: v for k, v in r.items() if k not in ("apiKey", "url", "headers")} for r in rows]
            if parts[0] == "maintenance":
                expired = call.body.get("type") == "non-expired"
                rows = [
                    {k: v for k, v in r.items() if k != "rules"}
                    for r in rows
                    if not expired or r["status"] != "past"
                ]
            if parts[0] == "schedules":
                rows = [{k: v for k, v in r.items() if k != "overrides"} for r in rows]
            return 200, self._page(call, rows)
        if len(parts) >= 2 and parts[0] in self.account:
            row = next((r for r in self.account[parts[0]] if r["id"] == parts[1]), None)
            if row is None:
                return 404, {"message": "not found"}
            if len(parts) >= 3 and parts[2] in ("contacts", "notification-rules", "routing-rules"):
                return self._nested(parts)
            if len(parts) == 3 and parts[2] == "overrides":
                return 200, {"data": row["overrides"]}
            if len(parts) == 3 and parts[2] == "timeline":
                start = datetime.fromisoformat(call.body["date"]).astimezone(UTC)
                end = start + timedelta(days=92)
                final = {
                    "rotations": [{"id": "final", "name": "final", "periods": timeline(row, start, end)}]
                }
                return 200, {
                    "data": {
                        "startDate": start.isoformat(),
                        "endDate": end.isoformat(),
                        "finalTimeline": final,
                    }
                }
            return 200, {"data": row}
        return 404, {"message": "not found"}

    def _nested(self, parts: list[str]) -> tuple[int, dict]:
        rows = self.account[parts[2]].get(parts[1], [])
        if parts[2] == "notification-rules" and len(parts) == 4:
            rule = next((r for r in rows if r["id"] == parts[3]), None)
            return (200, {"data": rule}) if rule else (404, {"message": "not found"})
        if parts[2] == "notification-rules":  # listed without criteria and steps
            rows = [{k: v for k, v in r.items() if k not in ("criteria", "steps")} for r in rows]
        return 200, {"data": rows, "took": 0.01}

    def _page(self, call: Call, rows: list[dict]) -> dict:
        offset = int(call.body.get("offset", 0))
        page = rows[offset : offset + PAGE]
        kept = "".join(f"&{k}={v}" for k, v in call.body.items() if k in ("type", "limit"))
        nxt = f"{self.url}{call.path}?offset={offset + PAGE}{kept}" if offset + PAGE < len(rows) else None
        return {
            "data": page,
            "paging": {"next": nxt, "first": f"{self.url}{call.path}?offset=0"},
            "took": 0.01,
        }
