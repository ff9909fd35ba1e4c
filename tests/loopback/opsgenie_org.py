"""A realistic Opsgenie account for the loopback API: 60 people, 6 teams, 12 schedules with overrides,
15 escalations and 40 integrations, generated from a seed (nothing large is stored).

It is opsgenie.generate's hand-written account (its first schedule, escalations, integrations,
routing rules and maintenance) with more of each drawn from a second seeded generator, so the small
account the other tests use stays as it is. The added schedules vary what Opsgenie's rotations allow
(hourly/daily/weekly of several lengths, time-of-day restrictions crossing midnight,
weekday-and-time-of-day ones over several days, overrides in force, ahead and over) in zones that
leave summer time in the next 90 days. The last schedule has a rotation with an empty turn
(a `none` participant), which SLAR cannot express: its timeline differs and the plan must say so.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.loopback import opsgenie

ZONES = ("Europe/Amsterdam", "America/New_York", "Europe/London", "America/Chicago", "UTC")
# (type, length, hour of the first handoff, restriction or None)
SHAPES = (
    ("weekly", 1, 9, None),
    (
        "daily",
        1,
        8,
        {"type": "time-of-day", "restriction": {"startHour": 8, "startMin": 0, "endHour": 20, "endMin": 0}},
    ),
    (
        "daily",
        1,
        20,
        {"type": "time-of-day", "restriction": {"startHour": 20, "startMin": 0, "endHour": 8, "endMin": 0}},
    ),
    ("hourly", 12, 7, None),
    ("daily", 2, 10, None),
    ("weekly", 2, 9, None),
    (
        "weekly",
        1,
        9,
        {
            "type": "weekday-and-time-of-day",
            "restrictions": [
                {
                    "startDay": "monday",
                    "startHour": 9,
                    "startMin": 0,
                    "endDay": "friday",
                    "endHour": 17,
                    "endMin": 30,
                },
                {
                    "startDay": "saturday",
                    "startHour": 10,
                    "startMin": 0,
                    "endDay": "saturday",
                    "endHour": 14,
                    "endMin": 0,
                },
            ],
        },
    ),
    (
        "daily",
        1,
        18,
        {
            "type": "weekday-and-time-of-day",
            "restrictions": [
                {"startDay": d, "startHour": 18, "startMin": 0, "endDay": n, "endHour": 6, "endMin": 0}
                for d, n in zip(opsgenie.DAYS[:5], opsgenie.DAYS[1:6], strict=True)
            ],
        },
    ),
)
INTEGRATION_TYPES = ("API",) * 6 + ("Webhook", "Email", "API", "Datadog")


def generate(
    seed: int,
    *,
    now: datetime,
    people: int = 60,
    teams: int = 6,
    schedules: int = 12,
    escalations: int = 15,
    integrations: int = 40,
) -> dict:
    account = opsgenie.generate(seed, now=now, people=people)
    rng = random.Random(f"opsgenie-org-{seed}")
    users = account["users"]
    for n in range(len(account["teams"]), teams):
        account["teams"].append(
            {
                "id": opsgenie._uuid(rng),
                "name": f"OG Team {n}",
                "description": "",
                "members": [
                    {"user": {"id": u["id"], "username": u["username"]}, "role": "user"}
                    for u in users[n::teams]
                ],
            }
        )
    for n in range(len(account["schedules"]), schedules):
        account["schedules"].append(_schedule(rng, n, account, now, quirky=n == schedules - 1))
    for n in range(len(account["escalations"]), escalations):
        account["escalations"].append(_escalation(rng, n, account))
    for n in range(len(account["integrations"]), integrations):
        account["integrations"].append(_integration(rng, n, account))
    for n, team in enumerate(account["teams"][2:], start=2):
        account["routing-rules"][team["id"]] = _team_rules(rng, n, team, account)
    return account


def _team_rules(rng: random.Random, n: int, team: dict, account: dict) -> list[dict]:
    """A further team's alerts go to its own first escalation, or (team 5) to its schedule directly;
    team 3 sends alerts whose message starts with [page] straight to its schedule."""
    own = next((e for e in account["escalations"] if e["ownerTeam"]["id"] == team["id"]), None)
    sched = next((s for s in account["schedules"] if s["ownerTeam"]["id"] == team["id"]), None)
    notify = {"type": "none"}
    if n == 5 and sched:
        notify = {"type": "schedule", "id": sched["id"], "name": sched["name"]}
    elif own:
        notify = {"type": "escalation", "id": own["id"], "name": own["name"]}
    rules = [
        {
            "id": opsgenie._uuid(rng),
            "name": "Default Routing Rule",
            "isDefault": True,
            "order": 1,
            "criteria": {"type": "match-all"},
            "notify": notify,
        }
    ]
    if n == 3 and sched:
        condition = {"field": "message", "operation": "starts-with", "expectedValue": "[page]"}
        rules.insert(
            0,
            {
                "id": opsgenie._uuid(rng),
                "name": "Page the schedule",
                "isDefault": False,
                "order": 0,
                "criteria": {"type": "match-all-conditions", "conditions": [condition]},
                "notify": {"type": "schedule", "id": sched["id"], "name": sched["name"]},
            },
        )
    return rules


def _participants(group: list[dict]) -> list[dict]:
    return [{"type": "user", "id": u["id"], "username": u["username"]} for u in group]


def _schedule(rng: random.Random, n: int, account: dict, now: datetime, quirky: bool) -> dict:
    zone = ZONES[n % len(ZONES)]
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz)
    pool = rng.sample(account["users"], 9)
    shapes = rng.sample(SHAPES, 3)
    rotations = []
    for i, (kind, length, hour, restriction) in enumerate(shapes):
        weeks_back = rng.randint(2, 20)
        # Anchored weeks back, often before the change to winter time: the handoffs keep the clock.
        start = (local_now - timedelta(days=local_now.weekday() + 7 * weeks_back)).replace(
            hour=hour, minute=0, second=0, microsecond=0
        )
        rotations.append(
            {
                "id": opsgenie._uuid(rng),
                "name": f"Rotation {n}.{i}",
                "startDate": start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "type": kind,
                "length": length,
                "participants": _participants(pool[i * 3 : i * 3 + rng.randint(2, 3)]),
            }
            | ({"timeRestriction": restriction} if restriction else {})
        )
    if n == 2:  # the winning rotation ends in 40 days: from then the next one shows
        end = (now + timedelta(days=40)).replace(minute=0, second=0, microsecond=0)
        rotations[0]["endDate"] = end.isoformat().replace("+00:00", "Z")
    if quirky:  # an empty turn: nobody from the first rotation every other day, the next one shows
        rotations[0]["participants"].insert(1, {"type": "none"})
    team = account["teams"][n % len(account["teams"])]
    return {
        "id": opsgenie._uuid(rng),
        "name": f"OG Schedule {n}",
        "timezone": zone,
        "enabled": True,
        "ownerTeam": {"id": team["id"], "name": team["name"]},
        "rotations": rotations,
        "overrides": _overrides(rng, pool, now),
    }


def _overrides(rng: random.Random, pool: list[dict], now: datetime) -> list[dict]:
    """One over, one in force now, and three ahead: none overlapping, as Opsgenie's calendar shows them."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    spans = [(hour - timedelta(days=3), timedelta(hours=5)), (hour - timedelta(hours=2), timedelta(hours=6))]
    at = hour + timedelta(days=1)
    for _ in range(3):
        at += timedelta(days=rng.randint(3, 25), hours=rng.randint(0, 23), minutes=rng.choice((0, 30)))
        spans.append((at, timedelta(hours=rng.randint(2, 40))))
    return [
        {
            "alias": f"cover {k}",
            "user": {"type": "user", "id": rng.choice(pool)["id"], "username": ""},
            "startDate": start.isoformat().replace("+00:00", "Z"),
            "endDate": (start + length).isoformat().replace("+00:00", "Z"),
            "rotations": [],
        }
        for k, (start, length) in enumerate(spans)
    ]


def _escalation(rng: random.Random, n: int, account: dict) -> dict:
    teams, scheds, users = account["teams"], account["schedules"], account["users"]
    rules = [
        opsgenie._rule(0, "schedule", scheds[n % len(scheds)]["id"]),
        opsgenie._rule(rng.choice((5, 10, 15)), "user", rng.choice(users)["id"]),
        opsgenie._rule(30, "team", teams[n % len(teams)]["id"]),
    ]
    if n % 4 == 0:  # two recipients at once: the schedule and its backup schedule
        rules.insert(1, opsgenie._rule(0, "schedule", scheds[(n + 1) % len(scheds)]["id"]))
    return {
        "id": opsgenie._uuid(rng),
        "name": f"OG Escalation {n}",
        "ownerTeam": {"id": teams[n % len(teams)]["id"]},
        "rules": rules,
        "repeat": {"waitInterval": 10, "count": n % 3},
    }


def _integration(rng: random.Random, n: int, account: dict) -> dict:
    kind = INTEGRATION_TYPES[n % len(INTEGRATION_TYPES)]
    team = account["teams"][n % len(account["teams"])]
    row = {
        "id": opsgenie._uuid(rng),
        "name": f"{kind} {n}",
        "type": kind,
        "enabled": True,
        "ownerTeam": {"id": team["id"], "name": team["name"]},
    }
    if kind in ("API", "Datadog"):
        row["apiKey"] = opsgenie._uuid(rng)
    if kind == "Webhook":
        row |= {"url": f"https://hooks.example.net/og/{n}", "headers": {}, "addAlertDescription": True}
    return row
