"""Routing rules: which service an alert goes to. Pure functions over plain data.

A rule is an ordered list of matchers that must all match; the first rule whose matchers all
match sends the alert to its target service, otherwise the integration's default service gets it.
A matcher names a field of the alert by a dotted path (``labels.team``, ``annotations.runbook``,
``severity``, ``summary``, ``source``, ``raw.org.name``; ``raw`` alone is the alert's whole raw part
as JSON text, which is what a Grafana OnCall regex route searches) and an operator:

- ``equals``: the field's text equals ``value`` exactly;
- ``regex``: ``value`` (a Python regular expression) matches anywhere in the field's text;
- ``exists``: the field is present and not null;
- ``expression``: ``value`` is a Jinja expression over ``alert`` (and ``payload``, the alert's raw
  part) that must be true, e.g. ``alert.labels.team in ("db", "storage") and alert.severity != "info"``.

A rule marked ``continue_matching`` sends the alert to its service and goes on to later rules, so
an alert may reach several services; the default service gets it only when no rule matched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from app.alerts.events import AlertEvent
from app.alerts.templates import check_expression, context_of, expression_true
from app.errors import Invalid

_MISSING = object()
_TOP_LEVEL = ("severity", "summary", "source", "fingerprint", "dedup_key", "action")
_CONTAINERS = ("labels", "annotations", "raw")
MAX_MATCHERS = 20
MAX_VALUE = 1000


@dataclass(frozen=True)
class Matcher:
    field: str
    op: str
    value: str | None = None


@dataclass(frozen=True)
class Rule:
    matchers: tuple[Matcher, ...]
    target_service_id: int
    continue_matching: bool = False


def field_value(event: AlertEvent, path: str) -> Any:
    """The value at a dotted path of the alert, or _MISSING when there is none."""
    head, _, rest = path.partition(".")
    if head in _TOP_LEVEL and not rest:
        return getattr(event, head)
    if head == "raw" and not rest:
        # json.dumps's own separators, as OnCall searches json.dumps(payload) with its route regex.
        return json.dumps(event.raw, default=str)
    if head not in _CONTAINERS or not rest:
        return _MISSING
    value: Any = getattr(event, head)
    # Labels may themselves contain dots (Kubernetes style), so try the whole rest first.
    if isinstance(value, Mapping) and rest in value:
        return value[rest]
    for part in rest.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _equals(value: Any, expected: str | None) -> bool:
    return value is not _MISSING and value is not None and _text(value) == expected


def _regex(value: Any, expected: str | None) -> bool:
    if value is _MISSING or value is None or expected is None:
        return False
    return _compiled(expected).search(_text(value)) is not None


def _exists(value: Any, expected: str | None) -> bool:
    return value is not _MISSING and value is not None


OPERATORS: dict[str, Callable[[Any, str | None], bool]] = {
    "equals": _equals,
    "regex": _regex,
    "exists": _exists,
}


EXPRESSION = "expression"


def matches(matcher: Matcher, event: AlertEvent) -> bool:
    """Whether one matcher holds for the alert."""
    if matcher.op == EXPRESSION:
        return expression_true(matcher.value or "", context_of(event, event.raw))
    return OPERATORS[matcher.op](field_value(event, matcher.field), matcher.value)


def route(rules: Iterable[Rule], event: AlertEvent, default_service_id: int) -> int:
    """The service the alert belongs to: the first rule that fully matches, else the default."""
    for rule in rules:
        if all(matches(m, event) for m in rule.matchers):
            return rule.target_service_id
    return default_service_id


def route_all(rules: Iterable[Rule], event: AlertEvent, default_service_id: int) -> list[int]:
    """Every service the alert goes to: matching rules in order until one without continue."""
    targets: list[int] = []
    for rule in rules:
        if all(matches(m, event) for m in rule.matchers):
            if rule.target_service_id not in targets:
                targets.append(rule.target_service_id)
            if not rule.continue_matching:
                break
    return targets or [default_service_id]


def _check_field(path: Any, where: str) -> str:
    if not isinstance(path, str) or not path:
        raise Invalid(f"{where}.field must be a non-empty string", field=f"{where}.field")
    head, _, rest = path.partition(".")
    if not ((head in _TOP_LEVEL and not rest) or (head in _CONTAINERS and rest) or path == "raw"):
        allowed = ", ".join(_TOP_LEVEL) + ", labels.<name>, annotations.<name>, raw, raw.<path>"
        raise Invalid(f"{where}.field {path!r} is not one of {allowed}", field=f"{where}.field")
    return path


def _check_value(op: str, value: Any, where: str) -> str | None:
    if op == "exists":
        return None
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise Invalid(
            f"{where}.value must be a string of at most {MAX_VALUE} characters", field=f"{where}.value"
        )
    if op == "regex":
        try:
            re.compile(value)
        except re.error as err:
            raise Invalid(f"{where}.value is not a valid regex: {err}", field=f"{where}.value") from None
    return value


def parse_matchers(raw: Any, where: str = "matchers") -> tuple[Matcher, ...]:
    """Validate matchers as stored in the database or sent by the console."""
    if not isinstance(raw, list) or not raw or len(raw) > MAX_MATCHERS:
        raise Invalid(f"{where} must be a list of 1 to {MAX_MATCHERS} matchers", field=where)
    out = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            raise Invalid(f"{at} must be an object", field=at)
        op = item.get("op")
        if op == EXPRESSION:
            out.append(Matcher("", op, check_expression(item.get("value"), f"{at}.value")))
            continue
        if op not in OPERATORS:
            raise Invalid(f"{at}.op must be one of {', '.join([*OPERATORS, EXPRESSION])}", field=f"{at}.op")
        out.append(Matcher(_check_field(item.get("field"), at), op, _check_value(op, item.get("value"), at)))
    return tuple(out)
