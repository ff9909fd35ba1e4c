"""Inbound e-mail, as the SMTP listener (`slar serve smtp`) hands each accepted mail over.

One object per mail: ``subject``, ``text`` (the plain-text body), ``from``, ``to``,
``message_id`` and ``key`` (the ``+key`` of the address, if any). The same JSON may be posted
to /webhooks/inbound_email/{token} by a mail gateway that parses mail itself.
Title: the subject (``(no subject)`` when empty); description: the body.
Dedup: the ``+key`` when given, else the subject with case, spacing and ``Re:``/``Fwd:`` prefixes
folded, so a repeat of a mail groups into its incident. Fingerprint: the Message-ID (each mail
is its own alert), else a hash of subject and body. Severity: error. Every mail triggers; a
resolve needs an integration template (``resolve_condition``).
"""

from __future__ import annotations

import re
from typing import Any

from app.alerts.events import AlertEvent
from ingest.sources._common import obj, stable_hash, summary, text

KIND = "inbound_email"
BODY_MAX = 20_000
_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg)\s*:\s*)+", re.IGNORECASE)


def subject_key(subject: str) -> str:
    """The grouping form of a subject: prefixes, case and runs of spaces folded."""
    return " ".join(_PREFIX.sub("", subject).lower().split())


def parse(payload: Any) -> list[AlertEvent]:
    """One mail → one firing alert."""
    mail = obj(payload, "body")
    subject = summary(text(mail, "subject", "subject")) or "(no subject)"
    body = text(mail, "text", "text")[:BODY_MAX]
    sender = text(mail, "from", "from")
    key = text(mail, "key", "key")[:200]
    message_id = text(mail, "message_id", "message_id")
    return [
        AlertEvent(
            fingerprint=message_id[:500] or stable_hash(subject, body, sender),
            dedup_key=key or f"subject:{stable_hash(subject_key(subject))}",
            action="trigger",
            summary=subject,
            source=sender[:200],
            labels={"from": sender, "to": text(mail, "to", "to"), **({"key": key} if key else {})},
            annotations={"description": body} if body else {},
            raw={"subject": subject, "text": body, "from": sender, "key": key, "message_id": message_id},
        )
    ]
