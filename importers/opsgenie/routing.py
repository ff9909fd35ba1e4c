"""Opsgenie team routing rules other than the default → SLAR routes (pure).

Opsgenie sends an alert of a team's integration down the first routing rule (by `order`) whose
criteria hold, else the default rule. SLAR routes an integration's alerts by ordered rules to a
service, so each such rule becomes a service holding the escalation it notifies, and rules on every
API integration of the team send matching alerts there. Criteria become matchers over the alert's
raw Opsgenie body (`raw.message`, `raw.tags`, `raw.details.<key>`, …):

- match-all: every alert; match-all-conditions: one SLAR rule with a matcher per condition;
  match-any-condition: one SLAR rule per condition, all to the same service (SLAR's rules are
  first-match, so consecutive rules to one service are an "or").
- contains, starts-with, ends-with, equals and matches (a whole-text regex, as Opsgenie's is) become
  regex matchers; `not` becomes a negative lookahead, or an expression that the field is absent
  (Opsgenie's negated conditions hold for an alert without the field); tags become expressions.
  Time restrictions and the other operations are reported instead.

A rule that notifies a schedule directly gets a service of its own too, whose escalation policy
(one level: that schedule, no repeat; remembered by the schedule's id, so every rule notifying that
schedule shares it) pages whoever the schedule has on call, as Opsgenie does.
"""

from __future__ import annotations

import itertools
import json
import re

from importers.plan import Item, Line

# Opsgenie's text fields and where the SLAR alert keeps them. Priority is read from the label SLAR's
# Opsgenie door always sets (P3 when the alert gave none, as Opsgenie does), so it is never missing.
_TEXT = {f: f"raw.{f}" for f in ("message", "alias", "description", "source", "entity")} | {
    "priority": "labels.priority"
}
_PATTERNS = {
    "contains": (r"{v}", r"^(?![\s\S]*{v})"),
    "starts-with": (r"^{v}", r"^(?!{v})"),
    "ends-with": (r"{v}\Z", r"^(?![\s\S]*{v}\Z)"),
    "equals": (r"^{v}\Z", r"^(?!{v}\Z)"),
}
# A negated condition makes a criterion's rules at most double; past this, it is reported.
MAX_RULES = 16


def _absent(cond: dict) -> dict | None:
    """A matcher that holds when the condition's field is missing from the alert (or null).

    Opsgenie's negated conditions ("not contains", "not equals", …) hold for an alert without the
    field, while SLAR's regex matcher never matches a missing field; so a negated condition is "the
    field is absent, or the negative regex matches", two SLAR alternatives. None: never absent.
    """
    field = cond.get("field")
    if field == "priority":
        return None
    if field == "extra-properties":
        value = f"(payload.details or {{}})[{json.dumps(str(cond['key']))}]"
    else:
        value = f"payload[{json.dumps(field)}]"
    return {"op": "expression", "value": f"{value} is not defined or {value} is none"}


def condition_matchers(cond: dict) -> tuple[list[dict] | None, str]:
    """The SLAR matchers, any one of which holds when an Opsgenie condition does, or None and why not."""
    field, op, value = cond.get("field"), cond.get("operation"), str(cond.get("expectedValue", ""))
    negate = bool(cond.get("not"))
    if field == "tags" and op == "contains":
        # An alert without tags has none: "not contains" holds, as in Opsgenie.
        test = f"{json.dumps(value)} in (payload.tags or [])"
        return [{"op": "expression", "value": f"not ({test})" if negate else test}], ""
    if field == "extra-properties" and cond.get("key"):
        path = f"raw.details.{cond['key']}"
    elif field in _TEXT:
        path = _TEXT[field]
    else:
        return None, f"a condition on {field} cannot be expressed in SLAR"
    if op == "matches":
        try:
            re.compile(value)
        except re.error as err:
            return None, f"its regex does not compile in Python: {err}"
        pattern = rf"^(?!(?:{value})\Z)" if negate else rf"^(?:{value})\Z"
    elif op in _PATTERNS:
        pattern = _PATTERNS[op][negate].format(v=re.escape(value))
    else:
        return None, f"the operation {op} cannot be expressed in SLAR"
    matcher = {"field": path, "op": "regex", "value": pattern}
    absent = _absent(cond) if negate else None
    return [matcher, absent] if absent else [matcher], ""


def rules_of(criteria: dict) -> tuple[list[list[dict]] | None, str]:
    """The SLAR rules (each a list of matchers) any one of which holds when the criteria do (SLAR's
    rules are first-match, so consecutive rules to one service are an "or"), or None and why not."""
    kind = criteria.get("type", "match-all")
    if kind == "match-all":
        return [[{"op": "expression", "value": "true"}]], ""
    alternatives = []
    for cond in criteria.get("conditions") or []:
        matchers, why = condition_matchers(cond)
        if matchers is None:
            return None, why
        alternatives.append(matchers)
    if not alternatives:
        return None, "it has no conditions"
    if kind == "match-any-condition":
        rules = [[m] for matchers in alternatives for m in matchers]
    else:
        rules = [list(combination) for combination in itertools.product(*alternatives)]
    if len(rules) > MAX_RULES:
        return None, f"its negated conditions need {len(rules)} SLAR rules (at most {MAX_RULES})"
    return rules, ""


def schedule_chain_id(schedule_id: str) -> str:
    """The source id the escalation policy paging a schedule for its routing rules is remembered by."""
    return f"{schedule_id}@routing"


def team_routes(
    teams: list[dict], known_chains: set[str], schedules: dict[str, Item], skipped: list[Line]
) -> tuple[list[Item], dict[str, list[dict]]]:
    """Route items (a service each), the escalation items of rules notifying a schedule, and, per team
    id, its integrations' rules in Opsgenie's order."""
    items: list[Item] = []
    by_team: dict[str, list[dict]] = {}
    for t in teams:
        ordered = sorted((r for r in t.get("routingRules") or [] if not r.get("isDefault")), key=_order)
        for r in ordered:
            label = f"{t['name']}: routing rule {r.get('name') or r.get('order')}"
            why = _why_not(r, known_chains, set(schedules))
            rules, cannot = rules_of(r.get("criteria") or {})
            if why or rules is None:
                skipped.append(Line("route", "cannot_import", label, r["id"], why or cannot))
                continue
            notify = r.get("notify") or {}
            chain = notify.get("id") if notify.get("type") == "escalation" else None
            if notify.get("type") == "schedule":
                chain = schedule_chain_id(notify["id"])
                if not any(i.source_id == chain for i in items):
                    items.append(schedule_chain(schedules[notify["id"]]))
            spec = {"name": f"{t['name']} {r.get('name') or 'route'}", "team": t["id"], "chain": chain}
            items.append(Item("route", r["id"], label, spec))
            by_team.setdefault(t["id"], []).extend({"route": r["id"], "matchers": m} for m in rules)
    return items, by_team


def _order(rule: dict) -> int:
    return int(rule.get("order") or 0)


def schedule_chain(schedule: Item) -> Item:
    """An escalation policy paging a schedule's on-call person at once, once (no repeat)."""
    name = f"{schedule.name} on call"
    levels = [{"delay": 0, "important": False, "targets": [{"kind": "schedule", "id": schedule.source_id}]}]
    spec = {"name": name, "team": schedule.spec.get("team"), "repeat": 0, "levels": levels}
    return Item("escalation_chain", schedule_chain_id(schedule.source_id), name, spec)


def _why_not(rule: dict, known_chains: set[str], known_schedules: set[str]) -> str:
    notify = rule.get("notify") or {}
    if rule.get("timeRestriction"):
        return "it has a time restriction: SLAR's routing rules hold at all times"
    if notify.get("type") == "schedule" and notify.get("id") not in known_schedules:
        return "its schedule is not imported"
    if notify.get("type") == "escalation" and notify.get("id") not in known_chains:
        return "its escalation is not imported"
    if notify.get("type") not in ("escalation", "schedule", "none"):
        return f"it notifies {notify.get('type')}"
    return ""
