"""A fetched PagerDuty account → a plan (pure: no database, no network)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.imports.service import Ref
from importers import shifts
from importers.pagerduty import LABEL, services
from importers.pagerduty.webhooks import webhooks
from importers.plan import Item, Line, Plan, decide

ROLES = {"admin": "admin", "owner": "admin", "user": "responder", "limited_user": "responder"}
METHODS = {"email_contact_method": "email", "sms_contact_method": "sms", "phone_contact_method": "voice"}
DAY = 86400


def build(snapshot: dict[str, Any], refs: dict[tuple[str, str], Ref], now: datetime) -> Plan:
    """Map every kind, then decide create/update/unchanged against what earlier runs remembered."""
    plan = Plan(source=LABEL)
    skipped: list[Line] = []
    users = {u["id"]: u for u in snapshot["users"] if u.get("email")}
    for u in users.values():
        spec = {
            "email": u["email"].lower(),
            "name": u.get("name") or u["email"],
            "time_zone": u.get("time_zone") or "UTC",
            "role": ROLES.get(u.get("role", ""), "viewer"),
        }
        plan.items.append(Item("user", u["id"], spec["email"], spec))
    members: dict[str, list[str]] = {}
    for uid, u in users.items():
        for t in u.get("teams") or []:
            members.setdefault(t["id"], []).append(uid)
    plan.items += [
        Item("team", t["id"], t["name"], {"name": t["name"], "members": sorted(members.get(t["id"], []))})
        for t in snapshot["teams"]
    ]
    plan.items += [_rules(u, skipped) for u in users.values()]
    for sched in snapshot["schedules"]:
        item = _schedule(sched, set(users), now, skipped, plan.warnings)
        plan.items.append(item)
    plan.items += _policies(snapshot["escalation_policies"], set(users), skipped)
    plan.items += services.integrations(snapshot["services"], skipped)
    plan.items += services.urgencies(snapshot["services"], skipped)
    plan.items += services.maintenance(
        snapshot.get("maintenance_windows", []), snapshot["services"], now, skipped
    )
    plan.items += webhooks(snapshot.get("webhook_subscriptions", []), snapshot["services"], skipped)
    services.orchestrations(snapshot, skipped)
    plan.lines = decide(plan.items, refs) + skipped
    plan.notes.append("open incidents are not imported: resolve them in PagerDuty")
    v1 = services.v1_note(snapshot["services"])
    if v1:
        plan.notes.append(v1)
    if any(i.kind == "webhook" for i in plan.items):
        plan.notes.append(
            "imported webhooks are signed with SLAR's secret and send SLAR's payload, "
            "not PagerDuty's v3 event"
        )
    plan.notes.append("imported people have no password; they sign in by OIDC or a reset")
    return plan


def _rules(u: dict, skipped: list[Line]) -> Item:
    """High urgency rules become the important list, low urgency the default; delays become waits."""
    methods: list[list[str]] = []
    index: dict[str, int] = {}
    for cm in u.get("contact_methods") or []:
        kind = METHODS.get(cm.get("type", ""))
        if kind is None:
            skipped.append(
                Line(
                    "notification_rules",
                    "cannot_import",
                    f"{u['email']} {cm.get('type')}",
                    cm["id"],
                    "push to PagerDuty's app cannot be carried over",
                )
            )
            continue
        address = cm["address"] if kind == "email" else f"+{cm.get('country_code', '')}{cm['address']}"
        index[cm["id"]] = len(methods)
        methods.append([kind, address])
    lists: dict[str, list[list]] = {"default": [], "important": []}
    for urgency, name in (("low", "default"), ("high", "important")):
        waited = 0
        rules = [r for r in u.get("notification_rules") or [] if r.get("urgency") == urgency]
        for r in sorted(rules, key=lambda r: r.get("start_delay_in_minutes", 0)):
            cm = (r.get("contact_method") or {}).get("id")
            if cm not in index:
                continue
            delay = int(r.get("start_delay_in_minutes") or 0)
            if delay > waited:
                lists[name].append(["wait", delay - waited])
                waited = delay
            lists[name].append(["notify", index[cm]])
    spec = {"user": u["id"], "methods": methods, **lists}
    return Item("notification_rules", u["id"], u["email"].lower(), spec)


def restrictions_of(layer: dict) -> tuple[list[dict], str | None]:
    """PagerDuty restrictions as SLAR's (at most 24 h each): a longer weekly one becomes one per day."""
    out = []
    note = None
    for r in layer.get("restrictions") or []:
        start = datetime.strptime(r["start_time_of_day"][:8], "%H:%M:%S")
        length = int(r["duration_seconds"])
        if r["type"] == "daily_restriction":
            days, first = list(range(7)), None
        else:
            first = int(r["start_day_of_week"]) - 1
            days = []
        if first is None:
            out.append(
                {
                    "days": days,
                    "start": start.strftime("%H:%M"),
                    "end": (start + timedelta(seconds=length)).strftime("%H:%M"),
                }
            )
            continue
        pieces = 0
        while length > 0:
            piece = min(length, DAY)
            out.append(
                {
                    "days": [(first + pieces) % 7],
                    "start": start.strftime("%H:%M"),
                    "end": (start + timedelta(seconds=piece)).strftime("%H:%M"),
                }
            )
            length -= piece
            pieces += 1
        if pieces > 1:
            name = layer.get("name")
            note = f"layer {name!r} has a restriction over {pieces} days: imported as {pieces} restrictions"
    return out, note


def _schedule(sched: dict, known: set[str], now: datetime, skipped: list[Line], warnings: list[str]) -> Item:
    zone = sched.get("time_zone") or "UTC"
    tz = ZoneInfo(zone)
    spec: dict[str, Any] = {
        "name": sched["name"],
        "zone": zone,
        "team": (sched.get("teams") or [{}])[0].get("id"),
        "layers": [],
        "overrides": [],
        "ical_url": None,
    }
    layers = sched.get("schedule_layers") or []
    for position, layer in enumerate(layers):  # listed with the winning layer first
        if layer.get("end") and shifts.parse_instant(layer["end"]) <= now:
            continue
        members = [m["user"]["id"] for m in layer.get("users") or []]
        if not members or any(m not in known for m in members):
            skipped.append(
                Line(
                    "schedule",
                    "cannot_import",
                    f"{sched['name']}: layer {layer.get('name')}",
                    layer.get("id", ""),
                    "names a user that is not imported",
                )
            )
            continue
        turn = int(layer["rotation_turn_length_seconds"])
        if turn % 3600:
            skipped.append(
                Line(
                    "schedule",
                    "cannot_import",
                    f"{sched['name']}: layer {layer.get('name')}",
                    layer.get("id", ""),
                    "turns are not whole hours",
                )
            )
            continue
        hours = turn // 3600
        kind = {1: "hourly", 24: "daily", 168: "weekly"}.get(hours, "custom")
        anchor = shifts.parse_instant(layer["rotation_virtual_start"]).astimezone(tz).replace(tzinfo=None)
        restrictions, note = restrictions_of(layer)
        if note:
            warnings.append(f"schedule {sched['name']!r}: {note}")
        spec["layers"].append(
            {
                "name": layer.get("name") or f"Layer {position + 1}",
                "priority": len(layers) - position,
                "kind": kind,
                "hours": hours if kind == "custom" else None,
                "anchor": anchor.isoformat(),
                "members": members,
                "restrictions": restrictions,
            }
        )
    for o in sched.get("overrides") or []:
        end = shifts.parse_instant(o["end"])
        if end > now and o["user"]["id"] in known:
            spec["overrides"].append(
                {
                    "user": o["user"]["id"],
                    "start": shifts.parse_instant(o["start"]).isoformat(),
                    "end": end.isoformat(),
                }
            )
    entries = ((sched.get("final_schedule") or {}).get("rendered_schedule_entries")) or []
    theirs = shifts.merge(
        [(e["user"]["id"], shifts.parse_instant(e["start"]), shifts.parse_instant(e["end"])) for e in entries]
    )
    warning = shifts.difference(spec, theirs, now, "PagerDuty's final schedule")
    if warning:
        warnings.append(warning)
    return Item("schedule", sched["id"], sched["name"], spec)


TARGETS = {"user_reference": "user", "user": "user", "schedule_reference": "schedule", "schedule": "schedule"}
MAX_REPEATS = 10  # SLAR's ceiling on a policy's repeats


def _strategy(rule: dict) -> str:
    """escalation_rule_assignment_strategy is a string in REST v2, {type: ...} in some clients' views."""
    raw = rule.get("escalation_rule_assignment_strategy") or "assign_to_everyone"
    return str(raw.get("type") if isinstance(raw, dict) else raw)


def _policy_lines(p: dict, skipped: list[Line]) -> None:
    """What of a policy SLAR pages differently, one line each."""
    loops = int(p.get("num_loops") or 0)
    if loops > MAX_REPEATS:
        why = f"repeats {loops} times: SLAR repeats at most {MAX_REPEATS}, imported with {MAX_REPEATS}"
        skipped.append(Line("escalation_chain", "cannot_import", f"{p['name']}: repeats", p["id"], why))
    if len(p.get("teams") or []) > 1:
        names = ", ".join(t.get("summary") or t["id"] for t in p["teams"])
        why = f"belongs to teams {names}: SLAR keeps the first"
        skipped.append(Line("escalation_chain", "cannot_import", f"{p['name']}: teams", p["id"], why))
    for i, rule in enumerate(p.get("escalation_rules") or []):
        many = len(rule.get("targets") or []) > 1
        if _strategy(rule) == "round_robin" and many:
            why = (
                "round robin over its targets: SLAR rotates only over a team's members, "
                f"so all {len(rule['targets'])} targets are paged"
            )
            name = f"{p['name']}: rule {i + 1} round robin"
            skipped.append(Line("escalation_chain", "cannot_import", name, rule.get("id", ""), why))


def _policies(policies: list[dict], known: set[str], skipped: list[Line]) -> list[Item]:
    """Rules become levels (a rule's delay is its wait before the next); user and schedule targets kept."""
    items = []
    for p in policies:
        levels = []
        for i, rule in enumerate(p.get("escalation_rules") or []):
            targets = []
            for t in rule.get("targets") or []:
                kind = TARGETS.get(t.get("type", ""))
                if kind and (kind != "user" or t["id"] in known):
                    targets.append({"kind": kind, "id": t["id"]})
                else:
                    why = f"target type {t.get('type')} is not imported"
                    if kind == "user":
                        why = "names a user that is not imported"
                    name = f"{p['name']}: rule {i + 1} target"
                    skipped.append(Line("escalation_chain", "cannot_import", name, t.get("id", ""), why))
            if targets:
                levels.append(
                    {
                        "delay": int(rule.get("escalation_delay_in_minutes") or 0),
                        "important": False,
                        "targets": targets,
                    }
                )
        if not levels:
            skipped.append(
                Line("escalation_chain", "cannot_import", p["name"], p["id"], "no rule SLAR can page")
            )
            continue
        _policy_lines(p, skipped)
        spec = {
            "name": p["name"],
            "team": (p.get("teams") or [{}])[0].get("id"),
            "repeat": min(int(p.get("num_loops") or 0), MAX_REPEATS),
            "levels": levels,
        }
        items.append(Item("escalation_chain", p["id"], p["name"], spec))
    return items
