"""Silence matchers, Alertmanager style, and which silence or window holds an alert: pure functions.

A matcher names a field and compares it with `=`, `!=`, `=~` or `!~`. The names `service`,
`severity` and `source` (the integration kind) read SLAR's own fields; any other name reads the
label of that name (`labels.severity` reaches a label that shares a reserved name). As in
Alertmanager, a missing label reads as the empty string and a regex must match the whole value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from app.errors import Invalid

OPS = ("=", "!=", "=~", "!~")
RESERVED = ("service", "severity", "source")
MAX_MATCHERS = 20
MAX_VALUE = 1000


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str


@dataclass(frozen=True)
class AlertFields:
    """What a matcher can see of one alert."""

    service: str
    severity: str
    source: str
    labels: Mapping[str, Any]


@dataclass(frozen=True)
class ActiveSilence:
    id: int
    matchers: tuple[Matcher, ...]
    ends_at: datetime


@lru_cache(maxsize=1024)
def _pattern(value: str) -> re.Pattern[str]:
    return re.compile(value)


def field_of(alert: AlertFields, name: str) -> str:
    """The text a matcher named `name` compares against ('' when the alert has no such label)."""
    if name in RESERVED:
        return str(getattr(alert, name))
    label = name.removeprefix("labels.") if name.startswith("labels.") else name
    value = alert.labels.get(label)
    return "" if value is None else str(value)


def matches(matcher: Matcher, alert: AlertFields) -> bool:
    """Whether one matcher holds for the alert."""
    text = field_of(alert, matcher.name)
    if matcher.op in ("=", "!="):
        return (text == matcher.value) == (matcher.op == "=")
    found = _pattern(matcher.value).fullmatch(text) is not None
    return found == (matcher.op == "=~")


def silenced_by(silences: Iterable[ActiveSilence], alert: AlertFields) -> ActiveSilence | None:
    """The active silence that lasts longest among those whose matchers all hold, or None."""
    best: ActiveSilence | None = None
    for silence in silences:
        if all(matches(m, alert) for m in silence.matchers) and (
            best is None or silence.ends_at > best.ends_at
        ):
            best = silence
    return best


def _one(item: Any, at: str) -> Matcher:
    if isinstance(item, Matcher):
        item = item.__dict__
    if not isinstance(item, Mapping):
        raise Invalid(f"{at} must be an object with name, op and value", field=at)
    name, op, value = item.get("name"), item.get("op"), item.get("value", "")
    if not isinstance(name, str) or not name.strip():
        raise Invalid(f"{at}.name must be a non-empty string", field=f"{at}.name")
    if op not in OPS:
        raise Invalid(f"{at}.op must be one of {' '.join(OPS)}", field=f"{at}.op")
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise Invalid(f"{at}.value must be a string of at most {MAX_VALUE} characters", field=f"{at}.value")
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as err:
            raise Invalid(f"{at}.value is not a valid regex: {err}", field=f"{at}.value") from None
    return Matcher(name.strip(), op, value)


def parse_matchers(raw: Any, where: str = "matchers") -> tuple[Matcher, ...]:
    """Validate matchers sent by the console, CLI or API ({name, op, value} objects)."""
    if not isinstance(raw, list | tuple) or not raw or len(raw) > MAX_MATCHERS:
        raise Invalid(f"{where} must be a list of 1 to {MAX_MATCHERS} matchers", field=where)
    return tuple(_one(item, f"{where}[{i}]") for i, item in enumerate(raw))


_TEXT = re.compile(r'^\s*([A-Za-z_][\w.]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


def parse_matcher_text(text: str, where: str = "matchers") -> Matcher:
    """One matcher written as Alertmanager's amtool does: `alertname=~"Disk.*"`."""
    found = _TEXT.match(text)
    if found is None:
        raise Invalid(
            f"{where}: {text!r} is not NAME=VALUE, NAME!=VALUE, NAME=~REGEX or NAME!~REGEX", field=where
        )
    return _one({"name": found[1], "op": found[2], "value": found[3]}, where)


def like_alert(alert: AlertFields, names: Iterable[str] | None = None) -> tuple[Matcher, ...]:
    """Equality matchers that silence alerts like this one ("silence alerts like this for 2 h")."""
    if names is None:
        # The alert rule's name is what tells "alerts like this" apart; without one, every label.
        names = ["service", *(["alertname"] if "alertname" in alert.labels else sorted(alert.labels))]
    chosen = list(names)
    return tuple(Matcher(n, "=", field_of(alert, n)) for n in chosen[:MAX_MATCHERS])
