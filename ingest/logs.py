"""Keep secret URL tokens out of access logs: only a recognisable prefix is written."""

from __future__ import annotations

import logging
import re

# Webhook, heartbeat and calendar URLs carry their secret as a path segment.
_SECRET_PATH = re.compile(r"(/(?:webhooks/[^/?\s]+|heartbeats|calendars)/)([^/?\s\"]+)")
PREFIX = 8


def redact(text: str) -> str:
    """The text with every URL token cut to its prefix."""
    return _SECRET_PATH.sub(lambda m: f"{m.group(1)}{m.group(2)[:PREFIX]}…", text)


class RedactTokens(logging.Filter):
    """Rewrites uvicorn access-log records (their path is the third argument) before formatting."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Attach the filter to the access logger (idempotent)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
