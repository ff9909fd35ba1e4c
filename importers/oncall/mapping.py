"""A fetched Grafana OnCall organisation → a plan (pure: no database, no network)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.frontdoors.oncall import TYPES
from app.imports.service import Ref
from importers import shifts
from importers.oncall import LABEL, schedules
from importers.oncall import routes as oncall_routes
from importers.plan import Item, Line, Plan, decide

ROLES = {"admin": "admin", "editor": "responder", "viewer": "viewer"}
RULE_KINDS = {"notify_by_email": "email", "notify_by_slack": "slack"}
STEP_NAMES = {"notify_by_sms": "SMS", "notify_by_phone_call": "phone call"}
NOT_EXPOSED = {
    "notify_by_sms": "the phone number is not in OnCall's API",
    "notify_by_phone_call": "the phone number is not in OnCall's API",
    "notify_by_mobile_app": "the mobile app's device is not in OnCall's API",
    "notify_by_telegram": "the Telegram chat is not in OnCall's API",
    "notify_by_slack": "no Slack account is linked to them in OnCall",
}


def build(snapshot: dict[str, Any], refs: dict[tuple[str, str], Ref], now: datetime) -> Plan:
    """Map every kind, then decide create/update/unchanged against what earlier runs remembered."""
    plan = Plan(source=LABEL)
    skipped: list[Line] = []
    users = {u["id"]: u for u in snapshot["users"] if u.get("email")}
    skipped += [
        Line("user", "cannot_import", u.get("username", u["id"]), u["id"], "no e-mail address")
        for u in snapshot["users"]
        if not u.get("email")
    ]
    plan.items += [_user(u) for u in users.values()]
    plan.items += _teams(snapshot["teams"], users)
    plan.items += _rules(snapshot["personal_notification_rules"], users, skipped)
    plan.items += _schedules(snapshot, users, now, skipped, plan.warnings)
    plan.items += _chains(snapshot, users, skipped)
    chains = {i.source_id for i in plan.items if i.kind == "escalation_chain"}
    plan.items += _integrations(snapshot, chains, skipped)
    plan.items += _maintenance(plan.items, snapshot["integrations"], now)
    plan.items += _webhooks(snapshot.get("webhooks", []), skipped)
    plan.lines = decide(plan.items, refs) + skipped
    plan.notes.append("open incidents (alert groups) are not imported: resolve them in OnCall")
    if any(i.kind == "webhook" for i in plan.items):
        plan.notes.append(
            "imported webhooks are signed with SLAR's secret and send SLAR's payload, not OnCall's template"
        )
    plan.notes.append("personal sign-in: imported people have no password; they sign in by OIDC or a reset")
    return plan


def _user(u: dict) -> Item:
    spec = {
        "email": u["email"].lower(),
        "name": u.get("name") or u.get("username") or u["email"],
        "time_zone": u.get("timezone") or "UTC",
        "role": ROLES.get(u.get("role", ""), "responder"),
    }
    return Item("user", u["id"], spec["email"], spec)


def _slack_id(u: dict) -> str | None:
    slack = u.get("slack")
    first = slack[0] if isinstance(slack, list) and slack else slack
    return first.get("user_id") if isinstance(first, dict) else None


def _teams(teams: list[dict], users: dict[str, dict]) -> list[Item]:
    members: dict[str, list[str]] = {}
    for uid, u in users.items():
        for t in u.get("teams") or []:
            members.setdefault(t, []).append(uid)
    return [
        Item("team", t["id"], t["name"], {"name": t["name"], "members": sorted(members.get(t["id"], []))})
        for t in teams
    ]


def _rules(rules: list[dict], users: dict[str, dict], skipped: list[Line]) -> list[Item]:
    """Each person's default and important lists, with e-mail (and Slack, when known) as their methods."""
    by_user: dict[str, list[dict]] = {}
    for r in sorted(rules, key=lambda r: (r["user_id"], r.get("position", 0))):
        by_user.setdefault(r["user_id"], []).append(r)
    items = []
    for uid, u in users.items():
        lists: dict[str, list[list]] = {"default": [], "important": []}
        methods = [["email", u["email"].lower()]] + ([["slack", _slack_id(u)]] if _slack_id(u) else [])
        left_out: dict[str, list[str]] = {}
        for r in by_user.get(uid, []):
            urgency = "important" if r.get("important") else "default"
            steps = lists[urgency]
            if r["type"] == "wait":
                steps.append(["wait", max(1, round(int(r.get("duration") or 60) / 60))])
            elif r["type"] in RULE_KINDS and (r["type"] != "notify_by_slack" or _slack_id(u)):
                steps.append(["notify", [m[0] for m in methods].index(RULE_KINDS[r["type"]])])
            else:
                left_out.setdefault(r["type"], []).append(urgency)
        skipped += _left_out(u, left_out, lists, bool(by_user.get(uid)))
        spec = {"user": uid, "methods": methods, **lists}
        items.append(Item("notification_rules", uid, u["email"].lower(), spec))
    return items


def _left_out(u: dict, left_out: dict[str, list[str]], lists: dict[str, list], had: bool) -> list[Line]:
    """One line per person: the steps that could not come across and what to do, and who is unreachable."""
    who = f"{u.get('name') or u.get('username') or u['email']} ({u['email']})"
    out = []
    phone = [STEP_NAMES[k] for k in ("notify_by_sms", "notify_by_phone_call") if k in left_out]
    if phone:
        verified = " (verified in OnCall)" if u.get("is_phone_number_verified") else ""
        out.append(
            Line(
                "notification_rules",
                "cannot_import",
                who,
                u["id"],
                f"{' and '.join(phone)} step not kept: OnCall's API has no phone numbers; add the number"
                f"{verified} as a contact method in SLAR and its step to their rules",
            )
        )
    for kind in sorted(set(left_out) - {"notify_by_sms", "notify_by_phone_call"}):
        why = NOT_EXPOSED.get(kind, f"SLAR has no step like {kind}")
        out.append(
            Line("notification_rules", "cannot_import", f"{who} {kind}", u["id"], f"step not kept: {why}")
        )
    for urgency, steps in lists.items():
        lost = any(urgency in where for where in left_out.values())
        if had and lost and not any(s[0] == "notify" for s in steps):
            # Without a notify step SLAR pages every contact method at once: here only the e-mail.
            out.append(
                Line(
                    "notification_rules",
                    "cannot_import",
                    f"{who} {urgency}",
                    u["id"],
                    f"no {urgency} step of theirs could be imported: until they add one, SLAR reaches them "
                    "by e-mail only",
                )
            )
    return out


def _schedules(
    snapshot: dict, users: dict[str, dict], now: datetime, skipped: list[Line], warnings: list[str]
) -> list[Item]:
    shifts = {s["id"]: s for s in snapshot["on_call_shifts"]}
    known = set(users)
    items = []
    for sched in snapshot["schedules"]:
        zone = sched.get("time_zone") or "UTC"
        spec: dict[str, Any] = {
            "name": sched["name"],
            "zone": zone,
            "team": sched.get("team_id"),
            "layers": [],
            "overrides": [],
            "ical_url": None,
        }
        if sched.get("type") == "ical":
            spec["ical_url"] = sched.get("ical_url_primary")
            if sched.get("ical_url_overrides"):
                skipped.append(
                    Line(
                        "schedule",
                        "cannot_import",
                        sched["name"],
                        sched["id"],
                        "the iCal overrides calendar is not imported (its primary calendar is)",
                    )
                )
            items.append(Item("schedule", sched["id"], sched["name"], spec))
            continue
        for sid in sched.get("shifts") or []:
            shift = shifts.get(sid)
            if shift is None:
                continue
            if shift["type"] == "override":
                override, why = schedules.map_override(shift, zone, known, now)
                if override:
                    spec["overrides"].append(override)
                elif why:
                    skipped.append(Line("schedule", "cannot_import", f"{sched['name']}: {why}", sid))
                continue
            layer, notes = schedules.map_rotation(shift, zone, known)
            if layer:
                spec["layers"].append(layer)
                warnings += [f"schedule {sched['name']!r}: {n}" for n in notes]
            else:
                skipped += [Line("schedule", "cannot_import", f"{sched['name']}: {n}", sid) for n in notes]
        spec["overrides"] = _no_overlaps(spec["overrides"], sched["name"], skipped)
        items.append(Item("schedule", sched["id"], sched["name"], spec))
        _compare(spec, snapshot.get("final_shifts", {}).get(sched["id"]), users, now, warnings)
    return items


def _no_overlaps(overrides: list[dict], name: str, skipped: list[Line]) -> list[dict]:
    """SLAR refuses overlapping overrides: keep the earliest, report the rest."""
    kept: list[dict] = []
    for o in sorted(overrides, key=lambda o: o["start"]):
        if kept and o["start"] < kept[-1]["end"]:
            skipped.append(
                Line("schedule", "cannot_import", f"{name}: override from {o['start']} overlaps another")
            )
        else:
            kept.append(o)
    return kept


def _compare(
    spec: dict, final: list[dict] | None, users: dict[str, dict], now: datetime, warnings: list[str]
) -> None:
    """Warn, before anything is applied, where SLAR would put someone else on call than the source does."""
    if final is None or spec["ical_url"]:
        return
    theirs = schedules.source_shifts(final, {u["email"].lower(): k for k, u in users.items()})
    warning = shifts.difference(spec, theirs, now, "OnCall's final shifts")
    if warning:
        warnings.append(warning)


def _chains(snapshot: dict, users: dict[str, dict], skipped: list[Line]) -> list[Item]:
    steps: dict[str, list[dict]] = {}
    for p in sorted(snapshot["escalation_policies"], key=lambda p: p.get("position", 0)):
        steps.setdefault(p["escalation_chain_id"], []).append(p)
    items = []
    for chain in snapshot["escalation_chains"]:
        levels, repeat, reasons = chain_levels(steps.get(chain["id"], []), set(users))
        skipped += [
            Line("escalation_chain", "cannot_import", f"{chain['name']}: {r}", chain["id"]) for r in reasons
        ]
        if not levels:
            skipped.append(
                Line("escalation_chain", "cannot_import", chain["name"], chain["id"], "no step SLAR can page")
            )
            continue
        spec = {"name": chain["name"], "team": chain.get("team_id"), "repeat": repeat, "levels": levels}
        items.append(Item("escalation_chain", chain["id"], chain["name"], spec))
    return items


def chain_levels(policies: list[dict], known: set[str]) -> tuple[list[dict], int, list[str]]:
    """OnCall steps → SLAR levels: notify steps up to a wait are one level, the wait is its delay."""
    levels: list[dict] = []
    current: dict = {"delay": 0, "important": False, "targets": []}
    repeat, reasons = 0, []
    for p in policies:
        kind = p["type"]
        if kind == "wait":
            minutes = round(int(p.get("duration") or 0) / 60)
            if current["targets"]:
                current["delay"] = minutes
                levels.append(current)
                current = {"delay": 0, "important": False, "targets": []}
            elif levels:
                levels[-1]["delay"] += minutes
            else:
                reasons.append(f"a {minutes} min wait before anyone is paged is dropped")
            continue
        targets = _targets(p, known, reasons)
        if targets:
            current["targets"] += targets
            current["important"] = current["important"] or bool(p.get("important"))
        elif kind == "repeat_escalation":
            repeat = min(repeat + 1, 5)
    if current["targets"]:
        levels.append(current)
    return levels, repeat, reasons


def _targets(p: dict, known: set[str], reasons: list[str]) -> list[dict]:
    kind = p["type"]
    if kind in ("notify_persons", "notify_person_next_each_time"):
        people = p.get("persons_to_notify") or p.get("persons_to_notify_next_each_time") or []
        if kind == "notify_person_next_each_time":
            reasons.append("'notify one person, next each time' is imported as notifying each of them")
        return [{"kind": "user", "id": u} for u in people if u in known]
    if kind == "notify_on_call_from_schedule" and p.get("notify_on_call_from_schedule"):
        return [{"kind": "schedule", "id": p["notify_on_call_from_schedule"]}]
    if kind == "notify_team_members" and p.get("notify_to_team_members"):
        return [{"kind": "team", "id": p["notify_to_team_members"]}]
    if kind != "repeat_escalation":
        reasons.append(f"step {kind} has no SLAR equivalent and is left out")
    return []


def _integrations(snapshot: dict, chains: set[str], skipped: list[Line]) -> list[Item]:
    routes: dict[str, list[dict]] = {}
    for r in snapshot.get("routes", []):
        routes.setdefault(r["integration_id"], []).append(r)
    items = []
    for i in snapshot["integrations"]:
        kind = TYPES.get(i.get("type", ""))
        token = _token(i.get("link") or "")
        if kind is None or token is None:
            why = (
                f"SLAR has no source for OnCall type {i.get('type')!r}"
                if kind is None
                else "no token in its link"
            )
            skipped.append(Line("integration", "cannot_import", i["name"], i["id"], why))
            continue
        default = i.get("default_route") or {}
        route_items, rules = oncall_routes.map_routes(i, routes.get(i["id"], []), chains, skipped)
        items += route_items
        spec = {
            "name": i["name"],
            "type": i["type"],
            "kind": kind,
            "token": token,
            "team": i.get("team_id"),
            "chain": default.get("escalation_chain_id"),
        }
        if rules:  # only then, so integrations imported before routes were keep their fingerprint
            spec["routes"] = rules
        items.append(Item("integration", i["id"], i["name"], spec))
    return items


def _maintenance(items: list[Item], integrations: list[dict], now: datetime) -> list[Item]:
    """Integrations in maintenance or debug mode (OnCall pages nobody for them) until a later time."""
    imported = {i.source_id for i in items if i.kind == "integration"}
    out = []
    for i in integrations:
        end = i.get("maintenance_end_at")
        if (
            not i.get("maintenance_mode")
            or i["id"] not in imported
            or not end
            or shifts.parse_instant(end) <= now
        ):
            continue
        start = i.get("maintenance_started_at") or now.isoformat()
        spec = {
            "integrations": [i["id"]],
            "reason": f"Grafana OnCall {i['maintenance_mode']} mode",
            "start": shifts.parse_instant(start).isoformat(),
            "end": shifts.parse_instant(end).isoformat(),
        }
        # Keyed by its start: a later maintenance of the same integration is a new window.
        out.append(
            Item("maintenance_window", f"{i['id']}@{start}", f"{i['name']} {i['maintenance_mode']}", spec)
        )
    return out


def _token(link: str) -> str | None:
    """The token in an OnCall integration URL: .../integrations/v1/{type}/{token}/."""
    parts = [p for p in link.split("/") if p]
    if "integrations" in parts and len(parts) >= parts.index("integrations") + 4:
        return parts[parts.index("integrations") + 3]
    return None


WEBHOOK_EVENTS = {
    "alert group created": ["triggered"],
    "acknowledge": ["acknowledged"],
    "unacknowledge": ["unacknowledged"],
    "resolve": ["resolved"],
    "unresolve": ["reopened"],
    "escalation": ["escalated"],
    "resolution note added": ["note"],
    "status change": ["triggered", "acknowledged", "resolved", "unacknowledged", "reopened"],
}


def _webhooks(hooks: list[dict], skipped: list[Line]) -> list[Item]:
    """Outgoing webhooks whose trigger SLAR has an event for; their URL and team are kept."""
    items = []
    for w in hooks:
        events = WEBHOOK_EVENTS.get(str(w.get("trigger_type", "")).lower())
        if events is None or not w.get("url"):
            why = f"SLAR has no event like OnCall's trigger {w.get('trigger_type')!r}"
            skipped.append(Line("webhook", "cannot_import", w.get("name", w["id"]), w["id"], why))
            continue
        team = w.get("team") if isinstance(w.get("team"), str) else w.get("team_id")
        spec = {"name": w.get("name") or w["id"], "url": w["url"], "events": events, "team": team}
        items.append(Item("webhook", w["id"], spec["name"], spec))
    return items
