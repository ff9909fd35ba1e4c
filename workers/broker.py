"""The Dramatiq broker on Redis, namespaced by REDIS_NAMESPACE. Import before any actor module."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from app.config import get_settings

QUEUES = ("escalation", "notify", "export", "monitors", "agent")


def make_broker() -> RedisBroker:
    settings = get_settings()
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set (run through `slar up` for the embedded Redis)")
    return RedisBroker(url=settings.redis_url, namespace=f"{settings.redis_namespace}-dramatiq")


broker = make_broker()
dramatiq.set_broker(broker)
