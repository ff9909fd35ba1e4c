"""A loopback Twilio REST API (2010-04-01 Messages and Calls), and signed requests as Twilio sends them."""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

from tests.loopback._http import Call, LoopbackServer

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-test-auth-token"
FROM_NUMBER = "+15550001111"


class TwilioServer(LoopbackServer):
    """Accepts Messages.json and Calls.json like Twilio; `fail_next` queues error answers first."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = itertools.count(1)
        self.fail_next: deque[tuple[int, dict[str, Any], dict[str, str]]] = deque()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            "SLAR_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "SLAR_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "SLAR_TWILIO_FROM_NUMBER": FROM_NUMBER,
            "SLAR_TWILIO_API_URL": self.api_url,
        }

    def handle(self, call: Call) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self.fail_next:
            return self.fail_next.popleft()
        if not call.headers.get("authorization", "").startswith("Basic "):
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}, {}
        if call.path.endswith(f"/Accounts/{ACCOUNT_SID}/Messages.json"):
            sid = f"SM{next(self.seq):032d}"
            return (
                201,
                {"sid": sid, "status": "queued", "to": call.body.get("To"), "body": call.body.get("Body")},
                {},
            )
        if call.path.endswith(f"/Accounts/{ACCOUNT_SID}/Calls.json"):
            sid = f"CA{next(self.seq):032d}"
            return 201, {"sid": sid, "status": "queued", "to": call.body.get("To")}, {}
        return 404, {"code": 20404, "message": "not found", "status": 404}, {}

    def messages(self) -> list[Call]:
        return self.calls_to("/Messages.json")

    def voice_calls(self) -> list[Call]:
        return self.calls_to("/Calls.json")


def signed_post(
    url: str, params: dict[str, str], *, token: str = AUTH_TOKEN, sign: bool = True
) -> httpx.Response:
    """POST a form as Twilio does, with X-Twilio-Signature computed over the full URL and params."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign:
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(url, params)
    return httpx.post(url, content=urlencode(params), headers=headers, timeout=10)
