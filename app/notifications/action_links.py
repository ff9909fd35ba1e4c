"""Signed, single-use action links (ntfy buttons, Teams card actions, Mattermost button contexts).

A token names the delivery, the action and a random nonce, and carries an HMAC-SHA256 over them
with SLAR_CALLBACK_SECRET; the nonce is spent in Postgres on first use, so a link acts once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

ACTIONS = ("acknowledge", "resolve", "escalate")
MAX_AGE_S = 7 * 24 * 3600


@dataclass(frozen=True)
class ActionToken:
    delivery_id: int
    action: str
    nonce: str
    issued: int


def _mac(payload: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(
    delivery_id: int, action: str, secret: str, *, now: float | None = None, nonce: str | None = None
) -> str:
    """A URL-safe token: "<delivery>.<action>.<nonce>.<issued>.<mac>"."""
    payload = f"{delivery_id}.{action}.{nonce or secrets.token_urlsafe(12)}.{int(now or time.time())}"
    return f"{payload}.{_mac(payload, secret)}"


def verify(token: str, secret: str, *, now: float | None = None) -> ActionToken | None:
    """The token's content when its MAC is right and it is not too old; None otherwise."""
    parts = token.split(".")
    if len(parts) != 5:
        return None
    payload, mac = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(mac, _mac(payload, secret)):
        return None
    delivery, action, nonce, issued = parts[:4]
    if not (delivery.isdigit() and issued.isdigit()) or action not in ACTIONS:
        return None
    if (now or time.time()) - int(issued) > MAX_AGE_S:
        return None
    return ActionToken(delivery_id=int(delivery), action=action, nonce=nonce, issued=int(issued))
