"""Inbound e-mail from the outside: smtplib talks to `slar serve smtp`; mail becomes incidents."""

from __future__ import annotations

import os
import smtplib
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.incidents.models import Alert, Incident
from ingest.smtp import mail_payload, split_address
from ingest.sources import inbound_email
from tests import factories as f
from tests import infra
from tests.loopback.ingest import free_port

DOMAIN = "alerts.test"
SLAR = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]


@pytest.fixture()
def smtp_port(database_url: str, redis_env: dict[str, str], output_dir: Path) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, **redis_env, "SLAR_INBOUND_EMAIL_DOMAIN": DOMAIN,
           "SLAR_INBOUND_EMAIL_MAX_BYTES": "20000"}  # fmt: skip
    args = [*SLAR, "serve", "smtp", "--host", "127.0.0.1", "--port", str(port)]
    with infra.process(args, env, output_dir / "smtp.log"):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=2) as probe:
                    probe.noop()
                break
            except OSError:
                time.sleep(0.2)
        yield port


def _mail(to: str, subject: str, body: str = "pg_dump failed", mid: str | None = None) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "cron@db-1.test"
    mail["To"] = to
    mail["Subject"] = subject
    if mid:
        mail["Message-ID"] = mid
    mail.set_content(body)
    return mail


def _integration() -> tuple[int, int, str]:
    with session_scope() as s:
        svc = f.service(s, policy_id=f.policy_for(s, [f.user(s)]))
        integ, token = f.integration(s, svc.id, "inbound_email")
        return svc.id, integ.id, token


def _incidents(service_id: int) -> list[Incident]:
    with session_scope() as s:
        return list(
            s.scalars(select(Incident).where(Incident.service_id == service_id).order_by(Incident.id))
        )


def test_a_mail_becomes_an_incident_a_repeat_groups_and_a_key_dedups(smtp_port: int) -> None:
    service_id, integration_id, token = _integration()
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as smtp:
        smtp.send_message(_mail(f"{token}@{DOMAIN}", "Backup of db-1 failed", mid="<m1@db-1.test>"))
        smtp.send_message(_mail(f"{token}@{DOMAIN}", "RE:  backup of DB-1 failed", mid="<m2@db-1.test>"))
        smtp.send_message(_mail(f"{token}@{DOMAIN}", "Backup of db-1 failed", mid="<m1@db-1.test>"))  # resent
        smtp.send_message(_mail(f"{token}+disk-7@{DOMAIN}", "Disk 91%", mid="<m3@db-1.test>"))
        smtp.send_message(_mail(f"{token}+disk-7@{DOMAIN}", "Disk 95%", mid="<m4@db-1.test>"))
    found = _incidents(service_id)  # 250 came after the commit: no waiting needed
    assert [(i.title, i.alert_count) for i in found] == [("Backup of db-1 failed", 2), ("Disk 91%", 2)]
    assert found[1].dedup_key == "disk-7"
    with session_scope() as s:
        first = s.scalar(select(Alert).where(Alert.integration_id == integration_id).order_by(Alert.id))
        assert first.annotations["description"].strip() == "pg_dump failed"
        assert first.labels["from"] == "cron@db-1.test"


def test_unknown_addresses_are_refused_at_rcpt_and_big_mail_at_data(smtp_port: int) -> None:
    _, _, token = _integration()
    with session_scope() as s:
        other, other_token = f.integration(s, f.service(s).id, "generic")  # a token of another kind
        del other
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as smtp:
        for to in (f"nobody@{DOMAIN}", f"{token}@elsewhere.test", f"{other_token}@{DOMAIN}"):
            with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
                smtp.send_message(_mail(to, "hello"))
            assert next(iter(err.value.recipients.values()))[0] == 550
        with pytest.raises(smtplib.SMTPException) as big:
            smtp.send_message(_mail(f"{token}@{DOMAIN}", "huge", body="x" * 50_000))
        assert "552" in str(big.value) or getattr(big.value, "smtp_code", 0) == 552


def test_parsing_of_addresses_and_mail() -> None:
    assert split_address("<Tok+key@Alerts.Test>", DOMAIN) == ("Tok", "key")
    assert split_address("tok@other.test", DOMAIN) is None
    payload = mail_payload(bytes(_mail("t@x", "Re: Fwd: Disk  FULL", mid="<a@b>")), "t@x", "")
    event = inbound_email.parse(payload)[0]
    assert event.summary == "Re: Fwd: Disk  FULL" and event.fingerprint == "<a@b>"
    assert (
        event.dedup_key
        == inbound_email.parse({**payload, "subject": "disk full", "message_id": ""})[0].dedup_key
    )
