"""A Grafana OnCall public API (/api/v1) on loopback, over a seeded, realistic organisation.

Shapes follow OnCall's API reference: lists paged as {count, next, previous, results}; users with
slack and teams; on_call_shifts (rolling_users, override) with start/duration/frequency/interval/
by_day/level; escalation_chains and escalation_policies; integrations with their link and
default_route; routes; personal_notification_rules; webhooks; schedules/{id}/final_shifts.

final_shifts is computed here with a straightforward expansion of each shift's occurrences
(independent of SLAR's resolver), so an import can be checked against what OnCall would say.
"""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.loopback._http import Call, LoopbackServer

ZONES = ("Europe/Berlin", "America/New_York", "Europe/London", "UTC")
DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
HOURS = {"hourly": 1, "daily": 24, "weekly": 168}
PAGE = 25


def _id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choices(string.ascii_uppercase + string.digits, k=12))


def generate(
    seed: int = 19,
    *,
    people: int = 60,
    schedules: int = 12,
    chains: int = 15,
    integrations: int = 40,
    now: datetime,
    quirky: bool = True,
) -> dict[str, list[dict]]:
    """An organisation of the given size; with `quirky`, the last schedule has what SLAR cannot express."""
    rng = random.Random(seed)
    teams = [{"id": _id(rng, "T"), "name": f"Team {n}", "email": "", "avatar_url": ""} for n in range(6)]
    users = []
    for n in range(people):
        users.append(
            {
                "id": _id(rng, "U"),
                "email": f"person{n}@example.org",
                "username": f"person{n}",
                "name": f"Person {n}",
                "role": rng.choice(("admin", "editor", "editor", "viewer")),
                "timezone": rng.choice(ZONES),
                "slack": [{"user_id": _id(rng, "W"), "team_id": "TSLACK"}],
                "teams": [teams[n % len(teams)]["id"]],
                "is_phone_number_verified": n % 3 == 0,
            }
        )
    rules = []
    for u in users:
        steps = [
            ("notify_by_slack", 0, False),
            ("wait", 300, False),
            ("notify_by_email", 0, False),
            ("notify_by_slack", 0, True),
        ]
        if u["is_phone_number_verified"]:
            steps.append(("notify_by_phone_call", 0, True))
        if u["username"] == "person2":  # reached by phone only: nothing of theirs maps to a SLAR method
            steps = [("notify_by_sms", 0, False), ("wait", 120, False), ("notify_by_phone_call", 0, True)]
        for pos, (kind, duration, important) in enumerate(steps):
            rule = {
                "id": _id(rng, "N"),
                "user_id": u["id"],
                "position": pos,
                "important": important,
                "type": kind,
            }
            rules.append(rule | ({"duration": duration} if kind == "wait" else {}))
    shifts, scheds = _schedules(rng, users, teams, schedules, now, quirky)
    chain_rows, policies = _chains(rng, users, teams, scheds, chains)
    ints, routes = _integrations(rng, chain_rows, teams, integrations, now)
    webhooks = [
        {
            "id": _id(rng, "WH"),
            "name": f"Notify CMDB {n}",
            "url": f"https://cmdb.example/hook/{n}",
            "http_method": "POST",
            "trigger_type": "acknowledge",
            "enabled": True,
        }
        for n in range(3)
    ]
    return {
        "users": users,
        "teams": teams,
        "personal_notification_rules": rules,
        "schedules": scheds,
        "on_call_shifts": shifts,
        "escalation_chains": chain_rows,
        "escalation_policies": policies,
        "integrations": ints,
        "routes": routes,
        "webhooks": webhooks,
    }


def _rotation(
    rng: random.Random, name: str, level: int, members: list[str], now: datetime, kind: str
) -> dict:
    monday = (now - timedelta(days=now.weekday() + 7 * rng.randint(2, 30))).replace(tzinfo=None)
    base = {
        "id": _id(rng, "O"),
        "name": name,
        "type": "rolling_users",
        "team_id": None,
        "time_zone": None,
        "level": level,
        "rolling_users": [[m] for m in members],
        "start_rotation_from_user_index": rng.randrange(len(members)),
        "week_start": "MO",
    }
    day = monday.replace(hour=0, minute=0, second=0, microsecond=0)
    shapes = {
        "weekly": {"start": day.replace(hour=9), "duration": 7 * 86400, "frequency": "weekly", "interval": 1},
        "daytime": {"start": day.replace(hour=8), "duration": 12 * 3600, "frequency": "daily", "interval": 1},
        "two_days": {
            "start": day.replace(hour=10),
            "duration": 2 * 86400,
            "frequency": "daily",
            "interval": 2,
        },
        "eights": {"start": day, "duration": 8 * 3600, "frequency": "hourly", "interval": 8},
        "weekdays": {
            "start": day.replace(hour=9),
            "duration": 86400,
            "frequency": "daily",
            "interval": 1,
            "by_day": ["MO", "TU", "WE", "TH", "FR"],
        },
        # A whole month each: 31 days, the later occurrence taking over where two overlap.
        "monthly": {
            "start": day.replace(day=min(day.day, 28), hour=9),
            "duration": 86400 * 31,
            "frequency": "monthly",
            "interval": 1,
        },
        "bimonthly": {
            "start": day.replace(day=min(day.day, 28), hour=9),
            "duration": 86400 * 62,
            "frequency": "monthly",
            "interval": 2,
        },
    }
    shape = shapes[kind]
    return base | shape | {"start": shape["start"].isoformat()}


def _schedules(
    rng: random.Random, users: list[dict], teams: list[dict], count: int, now: datetime, quirky: bool
) -> tuple[list[dict], list[dict]]:
    shifts, scheds = [], []
    for n in range(count):
        pool = rng.sample([u["id"] for u in users], min(8, len(users)))
        kinds = ["weekly", rng.choice(["daytime", "two_days", "eights"])]
        if n == 1 and count > 2:
            kinds = ["weekly", "monthly"]
        if quirky and n == count - 1:
            kinds = ["weekly", "weekdays", "bimonthly"]
        mine = [
            _rotation(rng, f"Rotation {n}.{i}", i, pool[i * 3 : i * 3 + 3] or pool[:2], now, k)
            for i, k in enumerate(kinds)
        ]
        for k in range(3):  # overrides in the next weeks, and one already over
            start = (now + timedelta(days=rng.randint(1, 80), hours=rng.randint(0, 23))).replace(
                minute=0, second=0, microsecond=0, tzinfo=None
            )
            if k == 2:
                start = (now - timedelta(days=10)).replace(minute=0, second=0, microsecond=0, tzinfo=None)
            mine.append(
                {
                    "id": _id(rng, "O"),
                    "name": f"Override {n}.{k}",
                    "type": "override",
                    "team_id": None,
                    "time_zone": "UTC",
                    "level": 0,
                    "start": start.isoformat(),
                    "duration": 3600 * rng.randint(3, 30) if k < 2 else 7200,
                    "rolling_users": [[rng.choice(pool)]],
                }
            )
        _no_overlap(mine)
        shifts += mine
        scheds.append(
            {
                "id": _id(rng, "S"),
                "name": f"Schedule {n}",
                "type": "web",
                "team_id": teams[n % 6]["id"],
                "time_zone": ZONES[n % len(ZONES)],
                "shifts": [s["id"] for s in mine],
                "on_call_now": [],
                "slack": None,
            }
        )
    return shifts, scheds


def _no_overlap(shifts: list[dict]) -> None:
    """Overlapping overrides of a schedule are moved a day apart (OnCall allows them; SLAR does not)."""
    overrides = sorted((s for s in shifts if s["type"] == "override"), key=lambda s: s["start"])
    for a, b in zip(overrides, overrides[1:], strict=False):
        a_end = datetime.fromisoformat(a["start"]) + timedelta(seconds=a["duration"])
        if datetime.fromisoformat(b["start"]) < a_end:
            b["start"] = (a_end + timedelta(days=1)).isoformat()


def _chains(rng: random.Random, users: list[dict], teams: list[dict], scheds: list[dict], count: int):  # type: ignore[no-untyped-def]
    chains, policies = [], []
    for n in range(count):
        chain = {"id": _id(rng, "F"), "name": f"Chain {n}", "team_id": teams[n % 6]["id"]}
        chains.append(chain)
        steps: list[dict] = [
            {
                "type": "notify_on_call_from_schedule",
                "notify_on_call_from_schedule": scheds[n % len(scheds)]["id"],
                "important": n % 4 == 0,
            },
            {"type": "wait", "duration": rng.choice((300, 600, 900))},
            {"type": "notify_persons", "persons_to_notify": [rng.choice(users)["id"]], "important": False},
            {"type": "wait", "duration": 900},
            {"type": "notify_team_members", "notify_to_team_members": teams[n % 6]["id"], "important": False},
        ]
        if n % 5 == 0:
            steps.append({"type": "trigger_webhook", "action_to_trigger": "WH1"})
        if n % 3 == 0:
            steps.append({"type": "repeat_escalation"})
        for pos, step in enumerate(steps):
            policies.append({"id": _id(rng, "E"), "escalation_chain_id": chain["id"], "position": pos} | step)
    return chains, policies


def _integrations(rng: random.Random, chains: list[dict], teams: list[dict], count: int, now: datetime):  # type: ignore[no-untyped-def]
    types = ("alertmanager", "grafana_alerting", "webhook", "formatted_webhook")
    ints, routes = [], []
    for n in range(count):
        kind = "zabbix" if n == count - 1 else types[n % len(types)]
        token = "".join(rng.choices(string.ascii_letters + string.digits, k=25))
        route = {"id": _id(rng, "R"), "escalation_chain_id": chains[n % len(chains)]["id"]}
        ints.append(
            {
                "id": _id(rng, "C"),
                "name": f"Integration {n}",
                "team_id": teams[n % 6]["id"],
                "type": kind,
                "link": f"https://oncall.example.org/integrations/v1/{kind}/{token}/",
                "default_route": route,
                "templates": {},
                "heartbeat": None,
            }
            | _maintenance(n, now)
        )
        routes.append(
            {
                "id": route["id"],
                "integration_id": ints[-1]["id"],
                "escalation_chain_id": route["escalation_chain_id"],
                "routing_regex": ".*",
                "position": 1,
                "is_the_last_route": True,
            }
        )
        if n % 10 == 0:
            routes += _routes(rng, ints[-1]["id"], chains[(n + 1) % len(chains)]["id"], every=n == 0)
    return ints, routes


def _maintenance(n: int, now: datetime) -> dict:
    """Integration 1 is in maintenance for two more hours; integration 2's debug mode ended yesterday."""
    mode, start, end = None, None, None
    if n in (1, 2):
        start = now - timedelta(hours=1 if n == 1 else 30)
        end = start + timedelta(hours=3)
        mode = "maintenance" if n == 1 else "debug"
    iso = {"maintenance_started_at": start, "maintenance_end_at": end}
    return {"maintenance_mode": mode} | {k: v and v.astimezone(UTC).isoformat() for k, v in iso.items()}


# Conditions as OnCall's routes hold them: a regex over the payload's JSON, or a Jinja2 template.
ROUTES = (
    ("jinja2", '{{ payload.labels.team == "db" }}'),
    ("regex", '"severity": "critical"'),
    ("jinja2", '{% if payload.status == "firing" %}true{% endif %}'),  # a statement: not one expression
)


def _routes(rng: random.Random, integration_id: str, chain_id: str, every: bool) -> list[dict]:
    return [
        {
            "id": _id(rng, "R"),
            "integration_id": integration_id,
            "escalation_chain_id": chain_id,
            "routing_type": kind,
            "routing_regex": condition,
            "position": pos,
            "is_the_last_route": False,
            "slack": {"channel_id": None, "enabled": False},
        }
        for pos, (kind, condition) in enumerate(ROUTES if every else ROUTES[1:2])
    ]


# --- OnCall's own final schedule, computed plainly --------------------------------------------------


def _occurrences(shift: dict, zone: str, until_local: datetime):  # type: ignore[no-untyped-def]
    """(local start, local end, users) of each occurrence of a shift, in order, until `until_local`."""
    start = datetime.fromisoformat(shift["start"])
    length = timedelta(seconds=shift["duration"])
    if shift["type"] == "override":
        yield start, start + length, [u for g in shift["rolling_users"] for u in g]
        return
    groups = shift["rolling_users"]
    first = shift.get("start_rotation_from_user_index") or 0
    n, k = 0, 0
    while True:
        if shift["frequency"] == "monthly":
            month = start.month - 1 + k * shift["interval"]
            try:
                at = start.replace(year=start.year + month // 12, month=month % 12 + 1)
            except ValueError:  # no 31st this month: RFC 5545 skips the occurrence
                k += 1
                continue
        elif shift.get("by_day"):
            at = start + timedelta(days=k)
            if DAY_CODES[at.weekday()] not in shift["by_day"]:
                k += 1
                continue
        else:
            at = start + timedelta(hours=HOURS[shift["frequency"]] * shift["interval"] * k)
        if at > until_local:
            return
        yield at, at + length, groups[(first + n) % len(groups)]
        n, k = n + 1, k + 1


def final_shifts(org: dict, schedule_id: str, start: datetime, end: datetime) -> list[dict]:
    """What OnCall's final_shifts answers: the winning event at every instant, overrides first."""
    sched = next(s for s in org["schedules"] if s["id"] == schedule_id)
    shifts = [s for s in org["on_call_shifts"] if s["id"] in sched["shifts"]]
    events = []
    for order, shift in enumerate(shifts):
        tz = ZoneInfo(shift.get("time_zone") or sched["time_zone"])
        rank = 10**6 if shift["type"] == "override" else shift["level"]
        for s, e, who in _occurrences(
            shift, tz.key, end.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
        ):
            su, eu = s.replace(tzinfo=tz).astimezone(UTC), e.replace(tzinfo=tz).astimezone(UTC)
            if eu > start and su < end:
                # Where occurrences of one rotation overlap (a monthly one of 31 days), the later wins.
                events.append((max(su, start), min(eu, end), rank, order, su, who[0]))
    cuts = sorted({start, end} | {t for s, e, *_ in events for t in (s, e)})
    out: list[dict] = []
    emails = {u["id"]: u["email"] for u in org["users"]}
    for lo, hi in zip(cuts, cuts[1:], strict=False):
        live = [ev for ev in events if ev[0] <= lo < ev[1]]
        if not live:
            continue
        who = max(live, key=lambda ev: (ev[2], ev[3], ev[4]))[5]
        if out and out[-1]["user_pk"] == who and out[-1]["shift_end"] == lo.isoformat():
            out[-1]["shift_end"] = hi.isoformat()
        else:
            out.append(
                {
                    "user_pk": who,
                    "user_email": emails[who],
                    "user_username": emails[who].split("@")[0],
                    "shift_start": lo.isoformat(),
                    "shift_end": hi.isoformat(),
                }
            )
    return out


# --- the server ---------------------------------------------------------------------------------------


class OnCallServer(LoopbackServer):
    """Serves an organisation read-only; answers 429 with Retry-After once, at the `throttle_at`-th GET."""

    def __init__(self, org: dict, token: str = "oncall-test-token", throttle_at: int | None = 3) -> None:
        super().__init__()
        self.org, self.token, self.throttle_at = org, token, throttle_at
        self.gets = 0
        self.throttled: list[float] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, call: Call) -> tuple[Any, ...]:
        self.gets += 1
        if call.headers.get("authorization") != self.token:
            return 401, {"detail": "Invalid token."}
        if self.throttle_at is not None and self.gets == self.throttle_at:
            self.throttled.append(call.at)
            return 429, {"detail": "Request was throttled."}, {"Retry-After": "1"}
        parts = [p for p in call.path.split("/") if p]
        if parts[:2] != ["api", "v1"]:
            return 404, {"detail": "Not found."}
        if len(parts) == 5 and parts[2] == "schedules" and parts[4] == "final_shifts":
            start = datetime.fromisoformat(call.body["start_date"]).replace(tzinfo=UTC)
            end = datetime.fromisoformat(call.body["end_date"]).replace(tzinfo=UTC)
            return 200, self._page(call, final_shifts(self.org, parts[3], start, end))
        if len(parts) == 3 and parts[2] in self.org:
            return 200, self._page(call, self.org[parts[2]])
        return 404, {"detail": "Not found."}

    def _page(self, call: Call, rows: list[dict]) -> dict:
        page = int(call.body.get("page", 1))
        query = "&".join(f"{k}={v}" for k, v in call.body.items() if k != "page")
        link = f"{self.url}{call.path}?{query + '&' if query else ''}page="
        last = max(1, -(-len(rows) // PAGE))
        return {
            "count": len(rows),
            "next": f"{link}{page + 1}" if page < last else None,
            "previous": f"{link}{page - 1}" if page > 1 else None,
            "results": rows[(page - 1) * PAGE : page * PAGE],
            "current_page_number": page,
            "page_size": PAGE,
            "total_pages": last,
        }
