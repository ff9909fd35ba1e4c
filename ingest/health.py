"""Health checks of the stores ingest depends on."""

from __future__ import annotations

import logging

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text

from app.config import get_settings
from app.db import get_engine

log = logging.getLogger(__name__)
TIMEOUT_S = 2.0


def _postgres() -> str:
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as err:  # noqa: BLE001 - any failure means "down", reported, never raised
        log.warning("postgres health check failed: %s", type(err).__name__)
        return "down"


def _redis() -> str:
    import redis

    url = get_settings().redis_url
    if not url:
        return "not configured"
    try:
        client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
        try:
            client.ping()
        finally:
            client.close()
        return "ok"
    except Exception as err:  # noqa: BLE001
        log.warning("redis health check failed: %s", type(err).__name__)
        return "down"


async def check() -> dict[str, str]:
    """{"postgres": ok|down, "redis": ok|down|not configured}."""
    return {"postgres": await run_in_threadpool(_postgres), "redis": await run_in_threadpool(_redis)}
