"""E-mail over SMTP (SMTP_URL: smtp://[user:pass@]host[:port], smtps:// for TLS)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, SecretStr

from app.config import Settings
from app.notifications.logic import Outbound, Result, email_text

KIND = "email"


class Config(BaseModel):
    host: str = "127.0.0.1"
    port: int = 25
    tls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "slar@localhost"
    timeout_s: float = 10.0


def config_from(settings: Settings) -> Config:
    if not settings.smtp_url:
        return Config(sender=settings.smtp_from)
    url = urlsplit(settings.smtp_url)
    tls = url.scheme == "smtps"
    return Config(
        host=url.hostname or "127.0.0.1",
        port=url.port or (465 if tls else 25),
        tls=tls,
        username=unquote(url.username) if url.username else None,
        password=SecretStr(unquote(url.password)) if url.password else None,
        sender=settings.smtp_from,
    )


def make_client(config: Config) -> Config:
    # SMTP connections are opened per message: pages are rare, and a pooled one goes stale.
    return config


def send(out: Outbound, config: Config, client: Config) -> Result:
    """Send one message; a refused recipient is final, a connection problem is retried."""
    subject, body = email_text(out.incident)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = config.sender, out.address, subject
    msg["Message-ID"] = make_msgid(domain="slar")
    msg.set_content(body)
    return _deliver(msg, config)


def _deliver(msg: EmailMessage, config: Config) -> Result:
    smtp_cls = smtplib.SMTP_SSL if config.tls else smtplib.SMTP
    try:
        with smtp_cls(config.host, config.port, timeout=config.timeout_s) as smtp:
            if config.username and config.password:
                smtp.login(config.username, config.password.get_secret_value())
            smtp.send_message(msg)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        return Result(ok=False, error=f"smtp: {exc}", permanent=True)
    except (OSError, smtplib.SMTPException) as exc:
        return Result(ok=False, error=f"smtp: {type(exc).__name__}: {exc}")
    return Result(ok=True, provider_message_id=msg["Message-ID"])


def send_text(address: str, subject: str, text: str, config: Config, client: Config) -> Result:
    """A plain e-mail (shift reminders and handoff notices)."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = config.sender, address, f"[SLAR] {subject}"
    msg["Message-ID"] = make_msgid(domain="slar")
    msg.set_content(text + "\n")
    return _deliver(msg, config)
