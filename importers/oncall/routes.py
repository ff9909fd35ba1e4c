"""Grafana OnCall routes other than an integration's default → SLAR routing rules (pure).

OnCall sends an alert down the first route whose condition holds, else the default route; each route
has its own escalation chain. SLAR routes an integration's alert to a service by ordered rules, so
each such route becomes a service holding the route's chain, and a rule sending matching alerts there.

- A regex route: OnCall searches ``json.dumps(payload)`` with it; SLAR's ``raw`` field is that text.
- A Jinja2 route ``{{ expression }}``: SLAR evaluates the same expression over ``payload``; templates
  with statements (``{% ... %}``), several parts or OnCall's own filters are reported, not guessed.
"""

from __future__ import annotations

import re

from app.alerts.templates import check_expression
from app.errors import Invalid
from importers.plan import Item, Line

_ONE_EXPRESSION = re.compile(r"^\{\{(?P<expr>(?:(?!\{\{|\}\}|\{%|%\}).)+)\}\}$", re.DOTALL)


def matchers_of(route: dict) -> tuple[list[dict] | None, str]:
    """SLAR matchers for one route's condition, or None and why SLAR cannot evaluate it."""
    text = (route.get("routing_regex") or "").strip()
    if not text:
        return None, "the route has no condition"
    if route.get("routing_type", "regex") == "regex":
        try:
            re.compile(text)
        except re.error as err:
            return None, f"its regex does not compile in Python: {err}"
        return [{"field": "raw", "op": "regex", "value": text}], ""
    found = _ONE_EXPRESSION.match(text)
    if found is None:
        return None, "its Jinja2 template is not one {{ expression }}: SLAR cannot evaluate it"
    expression = found["expr"].strip()
    try:
        check_expression(expression, "route")
    except Invalid as err:
        return None, f"SLAR cannot evaluate its Jinja2 template ({err})"
    return [{"op": "expression", "value": expression}], ""


def map_routes(
    integration: dict, routes: list[dict], known_chains: set[str], skipped: list[Line]
) -> tuple[list[Item], list[dict]]:
    """Route items (a service each) and the integration's rules, in OnCall's order; the rest reported."""
    default = (integration.get("default_route") or {}).get("id")
    ordered = sorted(
        (r for r in routes if not r.get("is_the_last_route") and r.get("id") != default),
        key=lambda r: r.get("position", 0),
    )
    items, rules = [], []
    for n, r in enumerate(ordered, start=1):
        label = f"{integration['name']}: route {n} ({r.get('routing_regex', '')})"[:200]
        matchers, why = matchers_of(r)
        if matchers is None:
            skipped.append(Line("route", "cannot_import", label, r["id"], why))
            continue
        chain = r.get("escalation_chain_id")
        if chain and chain not in known_chains:
            skipped.append(
                Line("route", "cannot_import", label, r["id"], "its escalation chain is not imported")
            )
            continue
        spec = {
            "name": f"{integration['name']} route {n}",
            "team": integration.get("team_id"),
            "chain": chain,
        }
        items.append(Item("route", r["id"], label, spec))
        rules.append({"route": r["id"], "matchers": matchers})
    return items, rules
