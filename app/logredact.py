"""Keep secrets out of every log line a SLAR process writes.

Installed once per process (`install()`) as the logging record factory, so it sees every record
of every logger before any handler formats it: uvicorn's access log (webhook tokens in the path,
the agent WebSocket's ``?token=``), SDK debug lines (``Authorization: Bearer …``), exceptions that
quote a URL with its password. What is cut: URL path tokens and known token shapes (to an 8
character prefix, so a leaked one can still be recognised), secret query parameters, credentials
in URLs, Authorization values, and the exact values of the process's configured secrets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from app.config import get_settings

PREFIX = 8
MASK = "***"
# Webhook, heartbeat and calendar URLs carry their secret as a path segment.
_SECRET_PATH = re.compile(r"(/(?:webhooks/[^/?\s]+|heartbeats|calendars)/)([^/?\s\"']+)")
# Tokens SLAR mints (app.auth.secrets.new_token) and the providers' well-known shapes.
_TOKEN = re.compile(
    r"\b(?:whk|sk|hb|slar)_[A-Za-z0-9_-]{12,}|\bxox[abposr]-[A-Za-z0-9-]{6,}|\bsk-[A-Za-z0-9_-]{12,}"
)
_QUERY = re.compile(
    r"([?&](?:token|access_token|api_key|apikey|key|secret|password|signature|sig|code)=)([^&\s\"']+)",
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)([^@/\s]+)(@)", re.IGNORECASE)
_AUTHORIZATION = re.compile(
    r"((?:authorization|x-api-key|x-slack-signature)['\"]?\s*[:=]\s*['\"]?(?:(?:bearer|basic|token)\s+)?)"
    r"([^\s'\",}]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(\b(?:bearer|basic)\s+)([A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)


def _configured_secrets() -> list[str]:
    """The values of this process's secret settings, longest first (a secret may contain another)."""
    try:
        settings = get_settings()
    except SystemExit:  # a wrong setting stops the process elsewhere, with its own message
        return []
    values = [
        s.get_secret_value()
        for s in (settings.openai_api_key, settings.slack_bot_token, settings.slack_signing_secret)
        if s is not None
    ]
    if settings.webhook_secret is not None:
        values.append(settings.webhook_secret.get_secret_value())
    if settings.smtp_url:
        match = _URL_CREDENTIALS.search(settings.smtp_url)
        if match:
            values.append(match.group(2))
    return sorted((v for v in values if len(v) >= 6), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """The text with every secret it holds cut to a prefix or masked."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _SECRET_PATH.sub(lambda m: f"{m.group(1)}{m.group(2)[:PREFIX]}…", text)
    text = _TOKEN.sub(lambda m: f"{m.group(0)[:PREFIX]}…", text)
    text = _QUERY.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)
    text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", text)


def _arg(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if value is None or isinstance(value, int | float | bool):
        return value  # kept as they are, so %d and %.2f still format
    return redact(str(value), secrets)


def redact_record(record: logging.LogRecord, secrets: list[str]) -> None:
    """Rewrite one record in place: message, arguments and traceback text."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg, secrets)
    else:
        record.msg = redact(str(record.msg), secrets)
    if isinstance(record.args, tuple):
        # Arguments stay a tuple: uvicorn's access formatter unpacks them.
        record.args = tuple(_arg(a, secrets) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _arg(v, secrets) for k, v in record.args.items()}
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info), secrets)
    if record.stack_info:
        record.stack_info = redact(record.stack_info, secrets)


class RedactTokens(logging.Filter):
    """The same rewriting as a filter, for a handler configured apart from the record factory."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record, _configured_secrets())
        return True


def install() -> None:
    """Redact every record this process creates from now on (idempotent)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "slar_redacts", False):
        return
    secrets = _configured_secrets()

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        redact_record(record, secrets)
        return record

    make.slar_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make)
