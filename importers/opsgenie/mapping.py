"""A fetched Opsgenie account → a plan (pure: no database, no network)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.imports.service import Ref
from importers import shifts
from importers.opsgenie import LABEL, alerting, people, routing
from importers.plan import Item, Line, Plan, decide

ROLES = {"Owner": "admin", "Admin": "admin", "User": "responder", "Observer": "viewer"}
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HOURS = {"hourly": 1, "daily": 24, "weekly": 168}
MINUTES = {"minutes": 1, "hours": 60, "days": 1440}


def build(snapshot: dict[str, Any], refs: dict[tuple[str, str], Ref], now: datetime) -> Plan:
    """Map every kind, then decide create/update/unchanged against what earlier runs remembered."""
    plan = Plan(source=LABEL)
    skipped: list[Line] = []
    users = {u["id"]: u for u in snapshot["users"]}
    for u in users.values():
        spec = {
            "email": u["username"].lower(),
            "name": u.get("fullName") or u["username"],
            "time_zone": u.get("timeZone") or "UTC",
            "role": ROLES.get((u.get("role") or {}).get("name"), "responder"),
        }
        plan.items.append(Item("user", u["id"], spec["email"], spec))
    for t in snapshot["teams"]:
        members = sorted(m["user"]["id"] for m in t.get("members") or [] if m["user"]["id"] in users)
        plan.items.append(Item("team", t["id"], t["name"], {"name": t["name"], "members": members}))
    plan.items += [people.rules_item(u, skipped) for u in users.values()]
    plan.items += [_schedule(s, set(users), now, skipped, plan.warnings) for s in snapshot["schedules"]]
    plan.items += _escalations(snapshot["escalations"], set(users), skipped)
    chains = {i.source_id for i in plan.items if i.kind == "escalation_chain"}
    schedules = {i.source_id: i for i in plan.items if i.kind == "schedule"}
    route_items, team_rules = routing.team_routes(snapshot["teams"], chains, schedules, skipped)
    routes = alerting.default_chains(snapshot["teams"], set(schedules))
    made = {i.source_id for i in route_items}
    for sid, item in schedules.items():  # a default rule that notifies a schedule: its policy too
        if routing.schedule_chain_id(sid) in set(routes.values()) - made:
            route_items.append(routing.schedule_chain(item))
    plan.items += route_items
    integrations = _integrations(
        snapshot["integrations"], snapshot["escalations"], routes, team_rules, skipped
    )
    skipped += alerting.routing_lines(snapshot["teams"], set(schedules))
    plan.items += integrations
    imported = {i.source_id for i in integrations}
    plan.items += alerting.maintenance(snapshot.get("maintenance", []), imported, now, skipped)
    plan.items += alerting.webhooks(snapshot["integrations"], skipped)
    plan.lines = decide(plan.items, refs) + skipped
    plan.notes.append("open alerts are not imported: close them in Opsgenie")
    plan.notes.append("imported people have no password; they sign in by OIDC or a reset")
    if any(i.kind == "webhook" for i in plan.items):
        plan.notes.append(
            "imported webhooks send SLAR's payload, signed, on triggered, acknowledged, note and resolved"
            " (Opsgenie's API does not say which alert actions post to the URL)"
        )
    return plan


def _minutes(hour: int, minute: int) -> str:
    return f"{hour % 24:02d}:{minute:02d}"


def restrictions_of(rotation: dict) -> tuple[list[dict], str | None]:
    """time-of-day or weekday-and-time-of-day restrictions as SLAR's (each at most 24 h)."""
    tr = rotation.get("timeRestriction")
    if not tr:
        return [], None
    if tr["type"] == "time-of-day":
        r = tr["restriction"]
        start, end = _minutes(r["startHour"], r["startMin"]), _minutes(r["endHour"], r["endMin"])
        note = (
            f"rotation {rotation['name']!r} has a time restriction crossing midnight" if end < start else None
        )
        return [{"days": list(range(7)), "start": start, "end": end}], note
    out: list[dict] = []
    for r in tr.get("restrictions") or []:
        first, last = DAYS.index(r["startDay"]), DAYS.index(r["endDay"])
        start, end = _minutes(r["startHour"], r["startMin"]), _minutes(r["endHour"], r["endMin"])
        span = (last - first) % 7
        if span == 0 and end <= start:
            span = 7
        for d in range(span + 1):
            piece_start = start if d == 0 else "00:00"
            piece_end = end if d == span else "00:00"
            if d == span and piece_end == "00:00":
                continue
            out.append({"days": [(first + d) % 7], "start": piece_start, "end": piece_end})
    note = (
        f"rotation {rotation['name']!r}: restrictions over several days are imported day by day"
        if len(out) > len(tr.get("restrictions") or [])
        else None
    )
    return out, note


def _schedule(sched: dict, known: set[str], now: datetime, skipped: list[Line], warnings: list[str]) -> Item:
    zone = sched.get("timezone") or "UTC"
    tz = ZoneInfo(zone)
    spec: dict[str, Any] = {
        "name": sched["name"],
        "zone": zone,
        "team": (sched.get("ownerTeam") or {}).get("id"),
        "layers": [],
        "overrides": [],
        "ical_url": None,
    }
    rotations = sched.get("rotations") or []
    for position, rot in enumerate(rotations):  # the first listed rotation wins
        if rot.get("endDate") and shifts.parse_instant(rot["endDate"]) <= now:
            continue
        members = [p["id"] for p in rot.get("participants") or [] if p.get("type") == "user"]
        if (
            len(members) != len(rot.get("participants") or [])
            or any(m not in known for m in members)
            or not members
        ):
            skipped.append(
                Line(
                    "schedule",
                    "cannot_import",
                    f"{sched['name']}: rotation {rot['name']}",
                    rot["id"],
                    "participants other than users (teams, escalations, nobody) are not imported",
                )
            )
            continue
        hours = HOURS[rot["type"]] * int(rot.get("length") or 1)
        kind = {1: "hourly", 24: "daily", 168: "weekly"}.get(hours, "custom")
        restrictions, note = restrictions_of(rot)
        if note:
            warnings.append(
                f"schedule {sched['name']!r}: {note}: imported as {len(restrictions)} restriction(s)"
            )
        anchor = shifts.parse_instant(rot["startDate"]).astimezone(tz).replace(tzinfo=None)
        spec["layers"].append(
            {
                "name": rot["name"],
                "priority": len(rotations) - position,
                "kind": kind,
                "hours": hours if kind == "custom" else None,
                "anchor": anchor.isoformat(),
                "members": members,
                "restrictions": restrictions,
            }
            # A rotation that ends: the layer ends then too (the key only then, so specs stay as before).
            | ({"until": shifts.parse_instant(rot["endDate"]).isoformat()} if rot.get("endDate") else {})
        )
    for o in sched.get("overrides") or []:
        end = shifts.parse_instant(o["endDate"])
        if end > now and o["user"].get("id") in known:
            spec["overrides"].append(
                {
                    "user": o["user"]["id"],
                    "start": shifts.parse_instant(o["startDate"]).isoformat(),
                    "end": end.isoformat(),
                }
            )
    final = ((sched.get("timeline") or {}).get("finalTimeline") or {}).get("rotations") or []
    theirs = shifts.merge(
        [
            (p["recipient"]["id"], shifts.parse_instant(p["startDate"]), shifts.parse_instant(p["endDate"]))
            for r in final
            for p in r.get("periods") or []
            if p.get("recipient")
        ]
    )
    warning = shifts.difference(spec, theirs, now, "Opsgenie's final timeline")
    if warning:
        warnings.append(warning)
    return Item("schedule", sched["id"], sched["name"], spec)


def _escalations(escalations: list[dict], known: set[str], skipped: list[Line]) -> list[Item]:
    """Rules fire at a delay from the alert; SLAR's levels wait after each other: group by delay."""
    items = []
    for e in escalations:
        at: dict[int, list[dict]] = {}
        for i, rule in enumerate(e.get("rules") or []):
            r = rule.get("recipient") or {}
            kind = r.get("type")
            if kind not in ("user", "schedule", "team") or (kind == "user" and r.get("id") not in known):
                skipped.append(
                    Line(
                        "escalation_chain",
                        "cannot_import",
                        f"{e['name']}: rule {i + 1}",
                        r.get("id", ""),
                        f"recipient type {kind} is not imported",
                    )
                )
                continue
            delay = rule.get("delay") or {}
            minutes = int(delay.get("timeAmount") or 0) * MINUTES.get(delay.get("timeUnit", "minutes"), 1)
            at.setdefault(minutes, []).append({"kind": kind, "id": r["id"]})
        if not at:
            skipped.append(
                Line("escalation_chain", "cannot_import", e["name"], e["id"], "no rule SLAR can page")
            )
            continue
        marks = sorted(at)
        levels = [
            {"delay": (marks[i + 1] - m) if i + 1 < len(marks) else 0, "important": False, "targets": at[m]}
            for i, m in enumerate(marks)
        ]
        if marks[0] > 0:
            skipped.append(
                Line(
                    "escalation_chain",
                    "cannot_import",
                    e["name"],
                    e["id"],
                    f"the first rule's {marks[0]} min delay is dropped: SLAR pages the first level at once",
                )
            )
        repeat = min(int((e.get("repeat") or {}).get("count") or 0), 10)
        team = (e.get("ownerTeam") or {}).get("id")
        items.append(
            Item(
                "escalation_chain",
                e["id"],
                e["name"],
                {"name": e["name"], "team": team, "repeat": repeat, "levels": levels},
            )
        )
    return items


def _integrations(
    integrations: list[dict],
    escalations: list[dict],
    routes: dict[str, str],
    team_rules: dict[str, list[dict]],
    skipped: list[Line],
) -> list[Item]:
    """API integrations keep their key, which works unchanged as the GenieKey on /v2/alerts; they page
    the escalation their team's default routing rule notifies (else the team's first escalation), and
    alerts their team's other routing rules match go to those rules' routes."""
    by_team: dict[str | None, str] = {}
    for e in escalations:
        by_team.setdefault((e.get("ownerTeam") or {}).get("id"), e["id"])
    by_team.update(routes)
    items = []
    for i in integrations:
        if i.get("type") == "Webhook":
            continue  # an outgoing webhook: alerting.webhooks
        if i.get("type") != "API" or not i.get("apiKey"):
            skipped.append(
                Line(
                    "integration",
                    "cannot_import",
                    i["name"],
                    i["id"],
                    f"integration type {i.get('type')} has no SLAR door (API integrations do)",
                )
            )
            continue
        team = (i.get("ownerTeam") or {}).get("id") or i.get("teamId")
        spec = {
            "name": i["name"],
            "kind": "opsgenie",
            "token": i["apiKey"],
            "team": team,
            "chain": by_team.get(team),
        }
        if team in team_rules:
            spec["routes"] = team_rules[team]
        items.append(Item("integration", i["id"], i["name"], spec))
    return items
