"""The inbound e-mail listener (`slar serve smtp`): each accepted mail becomes an alert.

An `inbound_email` integration receives mail at `<token>@<domain>`; `<token>+<key>@<domain>` sets
the dedup key. An unknown, revoked or disabled address is refused at RCPT time (550), a mail over
the size limit at DATA (552, by aiosmtpd). Accepted mail goes through the same path as a webhook
(authorise, rate-limit, templates, silences, store, then enqueue), so 250 is answered only once
the alert is committed; 451 means "the database is unavailable, retry" and the sender's MTA will.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy.exc import DBAPIError

from app.auth.secrets import token_matches
from app.config import get_settings
from app.db import session_scope
from app.directory.service import integration_by_token
from app.errors import DomainError
from ingest.errors import RateLimited
from ingest.webhooks import _kick, _store_with_retry

log = logging.getLogger("ingest.smtp")
KIND = "inbound_email"
MAX_RECIPIENTS = 20


def split_address(address: str, domain: str) -> tuple[str, str] | None:
    """(token, key) of `token[+key]@domain`, or None when the domain is not ours."""
    local, at, host = address.strip().strip("<>").rpartition("@")
    if not at or host.lower() != domain.lower() or not local:
        return None
    token, _, key = local.partition("+")
    return token, key


def _known(token: str) -> bool:
    with session_scope() as session:
        found = integration_by_token(session=session, token=token)
        return bool(
            found is not None
            and token_matches(token, found.token_hash)
            and found.kind == KIND
            and not found.revoked_at
            and not found.disabled
        )


def _text_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        return str(part.get_content())
    except (LookupError, ValueError):
        return part.get_payload(decode=True).decode("utf-8", errors="replace") if part.get_payload() else ""


def mail_payload(raw: bytes, recipient: str, key: str) -> dict[str, Any]:
    """The inbound_email source's JSON for one mail and one recipient."""
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return {
        "subject": str(mail.get("Subject", "")),
        "text": _text_of(mail),
        "from": str(mail.get("From", "")),
        "to": recipient,
        "key": key,
        "message_id": str(mail.get("Message-ID", "")),
    }


class InboundHandler:
    """aiosmtpd handler: RCPT checks the address, DATA stores one alert per recipient."""

    def __init__(self, domain: str) -> None:
        self.domain = domain

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:  # noqa: N802
        parts = split_address(address, self.domain)
        if parts is None:
            return f"550 5.1.2 this server only takes mail for @{self.domain}"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 too many recipients"
        try:
            known = await asyncio.to_thread(_known, parts[0])
        except DBAPIError:
            return "451 4.3.0 the database is unavailable; try again later"
        if not known:
            return "550 5.1.1 no such integration address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        for address in envelope.rcpt_tos:
            token, key = split_address(address, self.domain) or ("", "")
            body = json.dumps(mail_payload(raw, address, key)).encode()
            try:
                outcome = await asyncio.to_thread(_store_with_retry, KIND, token, body)
            except RateLimited:
                return "451 4.7.0 too many mails for this integration; try again later"
            except DomainError as err:
                return f"550 5.6.0 {err.message}"[:500]
            except DBAPIError:
                return "451 4.3.0 the database is unavailable; try again later"
            await asyncio.to_thread(_kick, outcome.kicks)
        return "250 Message accepted"


def build(host: str, port: int) -> Controller:
    settings = get_settings()
    return Controller(
        InboundHandler(settings.inbound_email_domain),
        hostname=host,
        port=port,
        data_size_limit=settings.inbound_email_max_bytes,
    )


def main(argv: list[str] | None = None) -> None:
    """Listen until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m ingest.smtp")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    controller = build(args.host or settings.host, args.port or settings.inbound_smtp_port)
    controller.start()
    log.info(
        "taking mail for @%s on %s:%s", settings.inbound_email_domain, controller.hostname, controller.port
    )
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(KeyboardInterrupt):
        loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
