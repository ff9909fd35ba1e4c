"""Push via Firebase Cloud Messaging (HTTP v1 `messages:send`), behind a small transport seam.

firebase-admin loads the service-account credential and mints its OAuth token (against the
credential's token_uri); the message goes out through `FcmTransport`, whose endpoint can point at a
loopback server speaking the same protocol. firebase-admin's own client has no endpoint option.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel

from app.config import Settings
from app.notifications.logic import Outbound, Result, push_message

KIND = "push"
FCM_URL = "https://fcm.googleapis.com"
# Token errors: the device is gone, so the contact method is disabled rather than retried forever.
DEAD_TOKEN = {"UNREGISTERED", "SENDER_ID_MISMATCH"}
RETRYABLE = {"UNAVAILABLE", "INTERNAL", "QUOTA_EXCEEDED"}


class Config(BaseModel):
    credentials_path: str | None = None
    endpoint: str = FCM_URL
    timeout_s: float = 10.0


def config_from(settings: Settings) -> Config:
    return Config(credentials_path=settings.firebase_credentials, endpoint=settings.fcm_endpoint or FCM_URL)


@dataclass
class FcmTransport:
    """POSTs FCM v1 messages with a bearer token from the firebase-admin credential."""

    endpoint: str
    credential: Any
    project_id: str
    http: httpx.Client

    def send(self, message: dict[str, Any]) -> httpx.Response:
        token = self.credential.get_access_token().access_token
        url = f"{self.endpoint.rstrip('/')}/v1/projects/{self.project_id}/messages:send"
        return self.http.post(url, json={"message": message}, headers={"Authorization": f"Bearer {token}"})


def make_client(config: Config) -> FcmTransport | None:
    if not config.credentials_path:
        return None
    from firebase_admin import credentials

    cert = credentials.Certificate(config.credentials_path)
    return FcmTransport(
        endpoint=config.endpoint,
        credential=cert,
        project_id=cert.project_id,
        http=httpx.Client(timeout=config.timeout_s),
    )


def _error_code(resp: httpx.Response) -> str:
    try:
        error = resp.json().get("error", {})
    except ValueError:
        return f"HTTP_{resp.status_code}"
    for detail in error.get("details", []):
        if "errorCode" in detail:
            return str(detail["errorCode"])
    return str(error.get("status") or f"HTTP_{resp.status_code}")


def send(out: Outbound, config: Config, client: FcmTransport | None) -> Result:
    """One data+notification message to the device token; a dead token disables the method."""
    if client is None:
        return Result(ok=False, error="push: FIREBASE_CREDENTIALS is not set", permanent=True)
    try:
        resp = client.send(push_message(out))
    except httpx.HTTPError as exc:
        return Result(ok=False, error=f"push: {type(exc).__name__}: {exc}")
    if resp.is_success:
        return Result(ok=True, provider_message_id=resp.json().get("name"))
    code = _error_code(resp)
    dead = code in DEAD_TOKEN
    retry = code in RETRYABLE or resp.status_code == 429 or resp.status_code >= 500
    return Result(ok=False, error=f"push: {code}", permanent=dead or not retry, disable_contact=dead)
