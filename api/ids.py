"""Stable short public ids: a letter per resource and the row id in base 36 ("I2S" is alert group 100).

OnCall and PagerDuty hand out opaque upper-case ids; scripts treat them as strings. Deriving them
from the row id keeps them stable without storing a second key.
"""

from __future__ import annotations

import string

from app.errors import NotFound

PREFIXES = {
    "alert_group": "I",
    "alert": "A",
    "integration": "C",
    "route": "R",
    "escalation_chain": "F",
    "escalation_policy": "E",
    "schedule": "S",
    "on_call_shift": "O",
    "override": "V",
    "user": "U",
    "team": "T",
    "notification_rule": "N",
    "webhook": "W",
    "webhook_delivery": "D",
    "api_key": "K",
    "note": "M",
    "silence": "L",
    "maintenance_window": "Z",
}
_DIGITS = string.digits + string.ascii_uppercase
# Row ids are Postgres integers; a larger number names no row (and must not reach the database).
MAX_ID = 2**31 - 1


def encode(kind: str, n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
        if n == 0:
            return PREFIXES[kind] + out


def decode(kind: str, public_id: str, field: str = "id") -> int:
    """The row id of a public id of this kind; 404 naming the field for anything else."""
    prefix = PREFIXES[kind]
    text = public_id.strip().upper()
    body = text[1:]
    if not text.startswith(prefix) or not body or len(body) > 7 or any(c not in _DIGITS for c in body):
        raise NotFound(f"{field} {public_id!r} is not a {kind.replace('_', ' ')} id", field=field)
    value = int(body, 36)
    if value > MAX_ID:
        raise NotFound(f"{field} {public_id!r} is not a {kind.replace('_', ' ')} id", field=field)
    return value


def maybe(kind: str, n: int | None) -> str | None:
    return None if n is None else encode(kind, n)
