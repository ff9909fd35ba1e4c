"""Opsgenie contact methods and "new alert" notification rules → SLAR's default/important lists (pure)."""

from __future__ import annotations

from typing import Any

from importers.plan import Item, Line

METHODS = ("email", "sms", "voice")
MINUTES = {"minutes": 1, "hours": 60, "days": 1440}
# Opsgenie picks the first enabled rule (by order) whose criteria match the alert; SLAR's important list
# is for the alerts Opsgenie calls P1, its default list for the rest (an ordinary alert is P3).
PRIORITY_OF = {"important": "P1", "default": "P3"}
APP_PUSH = "push to Opsgenie's mobile app cannot be carried over: sign in to SLAR's app to get push"


def address_of(method: str, to: str) -> str:
    """Opsgenie writes phone numbers as `country-number` (e.g. 1-5551234567); SLAR wants E.164."""
    if method == "email":
        return to.strip().lower()
    return "+" + "".join(ch for ch in to if ch.isdigit())


def matches(criteria: dict | None, priority: str) -> bool | None:
    """Whether an alert of this priority (and nothing else known) meets the criteria; None: can't tell."""
    kind = (criteria or {}).get("type", "match-all")
    if kind == "match-all":
        return True
    results = []
    for c in (criteria or {}).get("conditions") or []:
        if c.get("field") != "priority" or c.get("operation") != "equals":
            return None
        results.append((c.get("expectedValue") == priority) != bool(c.get("not")))
    if not results:
        return True
    return any(results) if kind == "match-any-condition" else all(results)


def rules_item(user: dict, skipped: list[Line]) -> Item:
    """One user's contact methods and their default and important lists (waits between the steps)."""
    email = user["username"].lower()
    methods: list[list[str]] = []
    pushes = 0
    for c in user.get("contacts") or []:
        if c.get("method") not in METHODS:
            pushes += c.get("method") == "mobile"
            continue
        pair = [c["method"], address_of(c["method"], c["to"])]
        if pair not in methods:
            methods.append(pair)
    rules = sorted(
        (r for r in user.get("notificationRules") or [] if r.get("actionType") == "create-alert"),
        key=lambda r: r.get("order", 0),
    )
    lists: dict[str, list[list[Any]]] = {}
    for urgency, priority in PRIORITY_OF.items():
        for r in rules:
            if not r.get("enabled", True):
                continue
            fits = matches(r.get("criteria"), priority)
            if fits is None:
                if urgency == "default":
                    skipped.append(
                        Line(
                            "notification_rules",
                            "cannot_import",
                            f"{email} rule {r.get('name')!r}",
                            r["id"],
                            "criteria on fields other than priority cannot be expressed in SLAR's lists",
                        )
                    )
                continue
            if fits:
                lists[urgency], more = _steps(r, methods)
                pushes += more
                break
    lists.setdefault("default", [])
    lists.setdefault("important", lists["default"])
    if pushes:
        skipped.append(Line("notification_rules", "cannot_import", f"{email} mobile", user["id"], APP_PUSH))
    spec = {"user": user["id"], "methods": methods, **lists}
    return Item("notification_rules", user["id"], email, spec)


def _steps(rule: dict, methods: list[list[str]]) -> tuple[list[list[Any]], int]:
    """A rule's enabled steps as notify/wait pairs (sendAfter counts from the alert); mobile steps left."""
    timed = []
    pushes = 0
    for s in rule.get("steps") or []:
        contact = s.get("contact") or {}
        if not s.get("enabled", True):
            continue
        if contact.get("method") not in METHODS:
            pushes += contact.get("method") == "mobile"
            continue
        pair = [contact["method"], address_of(contact["method"], contact.get("to", ""))]
        if pair not in methods:
            methods.append(pair)  # a step may name an address that is not among the listed contacts
        after = s.get("sendAfter") or {}
        minutes = int(after.get("timeAmount") or 0) * MINUTES.get(after.get("timeUnit", "minutes"), 1)
        timed.append((minutes, methods.index(pair)))
    out: list[list[Any]] = []
    waited = 0
    for minutes, index in sorted(timed):
        if minutes > waited:
            out.append(["wait", minutes - waited])
            waited = minutes
        out.append(["notify", index])
    return out, pushes
