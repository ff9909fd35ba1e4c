"""The Dramatiq broker: RabbitMQ for an amqp:// BROKER_URL, else Redis (namespaced by REDIS_NAMESPACE).

Import before any actor module. Both brokers carry messages only: Postgres holds every due time, and
the sweeper re-derives whatever a broker lost.
"""

from __future__ import annotations

import dramatiq
from dramatiq import Broker
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker

from app.config import get_settings

QUEUES = ("escalation", "notify", "export", "monitors", "agent", "webhooks")
# Longest wait between polls of an idle queue. Dramatiq's default (1 s) can add a second per hop
# (escalate, then notify) to the first page on a quiet system; 100 ms costs ~10 cheap polls/s/queue.
# RabbitMQ pushes messages to consumers, so it needs no such setting.
IDLE_POLL_MS = 100


class PagingRedisBroker(RedisBroker):
    """A RedisBroker whose consumers poll an idle queue at least every IDLE_POLL_MS."""

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):  # type: ignore[no-untyped-def]
        return super().consume(queue_name, prefetch, min(timeout, IDLE_POLL_MS))


def is_amqp(url: str) -> bool:
    return url.startswith(("amqp://", "amqps://"))


def make_broker() -> Broker:
    settings = get_settings()
    url = settings.dramatiq_url
    if not url:
        raise RuntimeError("REDIS_URL (or BROKER_URL) is not set (`slar up` runs an embedded Redis)")
    if is_amqp(url):
        # Publisher confirms: a message RabbitMQ did not take raises, so the caller knows it was
        # not sent (the sweeper covers it) instead of believing a page is on its way.
        return RabbitmqBroker(url=url, confirm_delivery=True)
    return PagingRedisBroker(url=url, namespace=f"{settings.redis_namespace}-dramatiq")


def queue_depth(broker: Broker, queue: str) -> int:
    """Messages waiting on a queue, delayed ones included (what /metrics reports as queue depth)."""
    if isinstance(broker, RabbitmqBroker):
        ready, delayed, _dead = broker.get_queue_message_counts(queue)
        return ready + delayed
    assert isinstance(broker, RedisBroker)
    key = f"{broker.namespace}:{queue}"
    return int(broker.client.llen(key)) + int(broker.client.llen(f"{key}.DQ"))


broker = make_broker()
dramatiq.set_broker(broker)
