"""A loopback FCM HTTP v1 server (`messages:send`) with its OAuth token endpoint, and a test credential."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from tests.loopback._http import Call, LoopbackServer


class FcmServer(LoopbackServer):
    """Answers like FCM: a message name, or 404 UNREGISTERED for tokens in `unregistered`."""

    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)
        self.unregistered: set[str] = set()
        self.unavailable_times = 0  # answer 503 UNAVAILABLE this many times first

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, call: Call) -> tuple[int, dict[str, Any]]:
        if call.path.startswith("/token"):
            return 200, {"access_token": "ya29.loopback", "expires_in": 3600, "token_type": "Bearer"}
        if not call.path.endswith("/messages:send"):
            return 404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "no such method"}}
        if call.headers.get("authorization") != "Bearer ya29.loopback":
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "bad token"}}
        if self.unavailable_times > 0:
            self.unavailable_times -= 1
            return 503, {"error": {"code": 503, "status": "UNAVAILABLE", "message": "try later"}}
        token = call.body.get("message", {}).get("token")
        if token in self.unregistered:
            detail = {
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": "UNREGISTERED",
            }
            return 404, {
                "error": {"code": 404, "status": "NOT_FOUND", "message": "gone", "details": [detail]}
            }
        project = call.path.split("/projects/")[1].split("/")[0]
        return 200, {"name": f"projects/{project}/messages/{next(self._ids)}"}

    def sends(self) -> list[Call]:
        return self.calls_to("/messages:send")


def write_credentials(path: Path, token_uri: str, project_id: str = "slar-test") -> Path:
    """A service-account JSON with a fresh RSA key whose token_uri is the loopback server."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": "loopback",
        "private_key": pem,
        "client_email": f"slar@{project_id}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(info))
    return path
