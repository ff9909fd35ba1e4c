"""Sign SNS messages as Amazon does, with a certificate of our own served by a loopback server.

`sns_certificates()` serves the certificate and points SLAR_SNS_CERT_URL_PREFIX at it (for the
in-process app and, through `env`, for child processes); `sign()` adds SignatureVersion, Signature
and SigningCertURL to an envelope.
"""

from __future__ import annotations

import base64
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from app.config import reset_settings
from ingest.sns import string_to_sign

CERT_PATH = "/SimpleNotificationService-test.pem"


def _certificate(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = _certificate(KEY)
_state: dict[str, str] = {}
FETCHES: list[str] = []  # every certificate request the loopback server answered


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        FETCHES.append(self.path)
        found = self.path == CERT_PATH
        body = PEM if found else b"not found"
        self.send_response(200 if found else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def sns_certificates() -> Iterator[dict[str, str]]:
    """Serve the test certificate; yields the environment that lets SLAR fetch it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    previous = os.environ.get("SLAR_SNS_CERT_URL_PREFIX")
    env = {"SLAR_SNS_CERT_URL_PREFIX": base + "/"}
    os.environ.update(env)
    reset_settings()
    _state["cert_url"] = base + CERT_PATH
    try:
        yield env
    finally:
        server.shutdown()
        server.server_close()
        _state.pop("cert_url", None)
        if previous is None:
            os.environ.pop("SLAR_SNS_CERT_URL_PREFIX", None)
        else:
            os.environ["SLAR_SNS_CERT_URL_PREFIX"] = previous
        reset_settings()


def sign(
    message: dict[str, Any], *, version: str = "1", key: rsa.RSAPrivateKey = KEY, cert_url: str | None = None
) -> dict[str, Any]:
    """The envelope with SignatureVersion, SigningCertURL and a Signature over its canonical text."""
    out = {k: v for k, v in message.items() if k not in ("Signature", "SignatureVersion", "SigningCertURL")}
    out["SignatureVersion"] = version
    out["SigningCertURL"] = cert_url or _state.get("cert_url", "")
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(string_to_sign(out), padding.PKCS1v15(), digest)
    out["Signature"] = base64.b64encode(signature).decode()
    return out


def signed_envelope(
    message: str, *, subject: str | None = "ALARM", kind: str = "Notification"
) -> dict[str, Any]:
    """A signed SNS Notification carrying `message`."""
    envelope: dict[str, Any] = {
        "Type": kind,
        "MessageId": str(uuid.uuid4()),
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:alarms",
        "Message": message,
        "Timestamp": "2026-03-01T12:00:00.000Z",
    }
    if subject is not None:
        envelope["Subject"] = subject
    return sign(envelope)
