"""Outbound webhook: the page as JSON, signed with X-SLAR-Signature (HMAC-SHA256 of the body)."""

from __future__ import annotations

import json

import httpx
from pydantic import BaseModel, SecretStr

from app.config import Settings
from app.notifications.logic import Outbound, Result, sign, webhook_body
from workers.outbound import from_response

KIND = "webhook"


class Config(BaseModel):
    secret: SecretStr | None = None
    timeout_s: float = 10.0


def config_from(settings: Settings) -> Config:
    return Config(secret=settings.webhook_secret)


def make_client(config: Config) -> httpx.Client:
    return httpx.Client(timeout=config.timeout_s)


def send(out: Outbound, config: Config, client: httpx.Client) -> Result:
    """POST the page; 2xx is sent, 408/429/5xx and network errors are retried, other 4xx are final."""
    body = webhook_body(out)
    headers = {"Content-Type": "application/json", "X-SLAR-Delivery": str(out.delivery_id)}
    if config.secret is not None:
        headers["X-SLAR-Signature"] = sign(body, config.secret.get_secret_value())
    try:
        resp = client.post(out.address, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Result(ok=False, error=f"webhook: {type(exc).__name__}: {exc}")
    if resp.is_success:
        return Result(ok=True, provider_message_id=resp.headers.get("X-Request-Id") or str(resp.status_code))
    retry = resp.status_code in (408, 429) or resp.status_code >= 500
    return Result(ok=False, error=f"webhook: HTTP {resp.status_code}", permanent=not retry)


def send_text(address: str, subject: str, text: str, config: Config, client: httpx.Client) -> Result:
    """A shift notice as JSON ({"event": "shift.notice", ...}), signed like a page."""
    body = json.dumps({"event": "shift.notice", "subject": subject, "text": text}, sort_keys=True).encode()
    headers = {"Content-Type": "application/json"}
    if config.secret is not None:
        headers["X-SLAR-Signature"] = sign(body, config.secret.get_secret_value())
    try:
        resp = client.post(address, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Result(ok=False, error=f"webhook: {type(exc).__name__}: {exc}")
    return from_response(KIND, resp)
