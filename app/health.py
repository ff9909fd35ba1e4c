"""Health of the stores the HTTP processes depend on: liveness and readiness, for load balancers.

Readiness means "alerts can be stored": Postgres. Redis only carries messages (the sweeper
re-derives from Postgres whatever it lost), so a Redis outage is reported, never a reason to take a
process out of rotation while it still stores webhooks.
"""

from __future__ import annotations

import asyncio
import logging

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
    import redis  # heavy: loaded only by the readiness probe (cryptography, opentelemetry)

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
    return {"postgres": await asyncio.to_thread(_postgres), "redis": await asyncio.to_thread(_redis)}


async def readiness() -> tuple[bool, dict[str, str]]:
    """(ready, body): ready when Postgres answers; the body names each store's state."""
    checks = await check()
    ready = checks["postgres"] == "ok"
    return ready, {"status": "ok" if ready else "down", **checks}


LIVE = {"status": "ok"}  # liveness: the process answers HTTP; it checks no store, so no restart storm
