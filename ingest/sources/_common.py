"""Shared pieces of the pure source parsers: field checks that name the field, times, hashes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.alerts.events import Severity
from app.alerts.sanitise import SUMMARY_MAX
from app.errors import Invalid

MAX_ALERTS = 1000


def obj(value: Any, where: str) -> Mapping[str, Any]:
    """The value as a JSON object, or a 422 naming `where`."""
    if not isinstance(value, Mapping):
        raise Invalid(f"{where} must be a JSON object", field=where)
    return value


def items(value: Any, where: str) -> list[Mapping[str, Any]]:
    """The value as a list of JSON objects (at most MAX_ALERTS), or a 422 naming the bad element."""
    if not isinstance(value, list):
        raise Invalid(f"{where} must be a list", field=where)
    if len(value) > MAX_ALERTS:
        raise Invalid(f"{where} holds more than {MAX_ALERTS} entries", field=where)
    return [obj(v, f"{where}[{i}]") for i, v in enumerate(value)]


def text(
    payload: Mapping[str, Any], key: str, where: str, *, required: bool = False, default: str = ""
) -> str:
    """A string field (numbers are accepted as their text), or a 422 naming it."""
    value = payload.get(key)
    if value is None or value == "":
        if required:
            raise Invalid(f"{where} is required", field=where)
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Invalid(f"{where} must be a string", field=where)
    return str(value)


def str_map(value: Any, where: str) -> dict[str, str]:
    """A label/annotation map: keys and values as strings."""
    if value is None:
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in obj(value, where).items()}


def timestamp(value: Any, where: str) -> datetime | None:
    """An RFC 3339 time or epoch seconds/milliseconds; Go's zero time means 'none'."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise Invalid(f"{where} is not a valid time", field=where) from None
    if not isinstance(value, str):
        raise Invalid(f"{where} must be an RFC 3339 time", field=where)
    if value.startswith("0001-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(_trim_fraction(value.replace("Z", "+00:00")))
    except ValueError:
        raise Invalid(f"{where} is not an RFC 3339 time", field=where) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _trim_fraction(value: str) -> str:
    # Go writes nanoseconds; Python reads at most microseconds.
    head, dot, rest = value.partition(".")
    if not dot:
        return value
    digits = len(rest) - len(rest.lstrip("0123456789"))
    return f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"


def stable_hash(*parts: str) -> str:
    """A short, stable hash of some text parts (used when a source gives no identity)."""
    # surrogatepass: a lone surrogate from the sender still hashes (sanitising comes after parsing).
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def summary(value: str) -> str:
    return value.strip()[:SUMMARY_MAX]


def severity_from(value: Any, table: Mapping[str, Severity], default: Severity = "error") -> Severity:
    """Map a source's severity word through its table (case-insensitive); unknown words get the default."""
    if not isinstance(value, str):
        return default
    return table.get(value.strip().lower(), default)


def link(href: Any, text_: str) -> list[dict[str, str]]:
    return [{"href": href, "text": text_}] if isinstance(href, str) and href else []
