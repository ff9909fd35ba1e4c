"""Amazon SNS message signatures (SignatureVersion 1 and 2), checked before anything is stored.

SNS signs a canonical string of the message's fields with the key of a certificate it serves at
`SigningCertURL`. Only certificates from `https://sns.<region>.amazonaws.com/` are fetched (a
forged message could otherwise name a certificate of its own), and each is cached by URL.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.config import get_settings
from ingest.errors import Unauthorized

_AWS_CERT = re.compile(r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[^?#]+\.pem$")
_CONFIRMATION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
FIELDS: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRMATION,
    "UnsubscribeConfirmation": _CONFIRMATION,
}
HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
FETCH_TIMEOUT_S = 5.0


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The canonical text SNS signs: each present field's name and value on their own lines."""
    fields = FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise Unauthorized("Type is not a signed SNS message type", field="Type")
    lines = []
    for name in fields:
        value = message.get(name)
        if value is None:
            if name == "Subject":  # the one optional field: left out when the message has none
                continue
            raise Unauthorized(f"{name} is required in a signed SNS message", field=name)
        lines += [name, str(value)]
    # surrogatepass: a body holding a lone surrogate is judged by its signature like any other.
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


def cert_url_allowed(url: str) -> bool:
    """Only SNS's own certificate host, or the prefix a test configured (SLAR_SNS_CERT_URL_PREFIX)."""
    extra = get_settings().sns_cert_url_prefix
    return bool(_AWS_CERT.match(url)) or bool(extra and url.startswith(extra))


@lru_cache(maxsize=32)
def _public_key(url: str) -> rsa.RSAPublicKey:
    # A failed fetch raises and so is not cached: the next message tries again.
    response = httpx.get(url, timeout=FETCH_TIMEOUT_S, follow_redirects=False)
    response.raise_for_status()
    key = x509.load_pem_x509_certificate(response.content).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the SNS signing certificate does not hold an RSA key")
    return key


def verify(message: Any) -> None:
    """Refuse (401) an SNS message that is unsigned, badly signed or signed by a foreign certificate."""
    if not isinstance(message, Mapping):
        return  # not an SNS envelope at all: the parser refuses it by name
    version = str(message.get("SignatureVersion") or "")
    if version not in HASHES:
        raise Unauthorized(
            "SignatureVersion must be 1 or 2 (the message is unsigned)", field="SignatureVersion"
        )
    url = message.get("SigningCertURL")
    if not isinstance(url, str) or not cert_url_allowed(url):
        raise Unauthorized(
            "SigningCertURL is not an https://sns.<region>.amazonaws.com/ certificate", field="SigningCertURL"
        )
    signature = message.get("Signature")
    try:
        raw = _b64(signature)
        key = _public_key(url)
    except (ValueError, httpx.HTTPError) as err:
        raise Unauthorized(
            f"the SNS signature cannot be checked: {type(err).__name__}", field="Signature"
        ) from None
    try:
        key.verify(raw, string_to_sign(message), padding.PKCS1v15(), HASHES[version]())
    except InvalidSignature:
        raise Unauthorized("the SNS signature does not match the message", field="Signature") from None


def _b64(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise ValueError("Signature is missing")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as err:
        raise ValueError("Signature is not base64") from err
