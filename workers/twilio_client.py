"""The Twilio REST client for the SMS and voice channels, pointable at another base URL.

The SDK builds absolute https://<domain>.twilio.com URLs; `RebasedHttpClient` swaps the scheme and
host for TWILIO_API_URL (a loopback server in tests, a proxy in a locked-down network) and keeps
each thread's last response so a 429's Retry-After can be read after the SDK raised.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from app.config import Settings
from app.notifications.logic import Result
from workers.outbound import is_transient, retry_after_s

# Twilio error codes that name a number no retry will reach (invalid, unreachable, opted out).
DEAD_NUMBER = {21211, 21214, 21610, 21614}


class Config(BaseModel):
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = None
    api_url: str | None = None
    callback_base: str = ""
    timeout_s: float = 10.0


def config_from(settings: Settings) -> Config:
    return Config(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        from_number=settings.twilio_from_number,
        api_url=settings.twilio_api_url,
        callback_base=settings.ingest_url.rstrip("/"),
    )


class RebasedHttpClient(TwilioHttpClient):
    def __init__(self, base_url: str | None, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.local = threading.local()

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if self.base_url:
            parts = urlsplit(url)
            url = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        resp = super().request(method, url, *args, **kwargs)
        self.local.last = resp
        return resp


def make_client(config: Config) -> Client | None:
    if not (config.account_sid and config.auth_token):
        return None
    http = RebasedHttpClient(config.api_url, config.timeout_s)
    return Client(config.account_sid, config.auth_token.get_secret_value(), http_client=http)


def failure(kind: str, client: Client, exc: TwilioRestException) -> Result:
    """A Twilio error as a Result: 5xx/429 retried (after Retry-After), a dead number disables the method."""
    last = (
        getattr(client.http_client.local, "last", None)
        if isinstance(client.http_client, RebasedHttpClient)
        else None
    )
    headers = (last.headers or {}) if last is not None else {}
    dead = exc.code in DEAD_NUMBER
    return Result(
        ok=False,
        error=f"{kind}: Twilio {exc.status} {exc.code or ''} {exc.msg}".strip()[:500],
        permanent=not is_transient(exc.status),
        disable_contact=dead,
        retry_after_s=retry_after_s(headers.get("Retry-After")),
    )


def status_callback(config: Config, delivery_id: int) -> str:
    return f"{config.callback_base}/callbacks/twilio/status/{delivery_id}"
