"""The Dramatiq broker on Redis, namespaced by REDIS_NAMESPACE. Import before any actor module."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from app.config import get_settings

QUEUES = ("escalation", "notify", "export", "monitors", "agent")
# Longest wait between polls of an idle queue. Dramatiq's default (1 s) can add a second per hop
# (escalate, then notify) to the first page on a quiet system; 100 ms costs ~10 cheap polls/s/queue.
IDLE_POLL_MS = 100


class PagingRedisBroker(RedisBroker):
    """A RedisBroker whose consumers poll an idle queue at least every IDLE_POLL_MS."""

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):  # type: ignore[no-untyped-def]
        return super().consume(queue_name, prefetch, min(timeout, IDLE_POLL_MS))


def make_broker() -> RedisBroker:
    settings = get_settings()
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set (run through `slar up` for the embedded Redis)")
    return PagingRedisBroker(url=settings.redis_url, namespace=f"{settings.redis_namespace}-dramatiq")


broker = make_broker()
dramatiq.set_broker(broker)
