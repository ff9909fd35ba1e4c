"""The two Dramatiq brokers for tests: Redis (isolated by namespace) or RabbitMQ (a vhost per use)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from dramatiq import Broker
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker

from app.embedded import tcp_reachable

RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672


def rabbitmq_available() -> str | None:
    """None when a RabbitMQ and its rabbitmqctl are here, else why not (the skip message)."""
    if not tcp_reachable(RABBIT_HOST, RABBIT_PORT):
        return f"RabbitMQ does not answer on {RABBIT_HOST}:{RABBIT_PORT}"
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is not installed (needed to give the test its own vhost)"
    return None


def _ctl(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60, text=True
    )
    return done.stdout


def vhost_queues(url: str) -> set[str]:
    """The queues declared on the vhost of an amqp:// URL (proof that the workers used it)."""
    vhost = url.rsplit("/", 1)[1]
    return {line.split()[0] for line in _ctl("list_queues", "-p", vhost, "name").splitlines() if line}


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """An amqp:// URL on a vhost of its own, deleted afterwards: parallel runs never share queues."""
    vhost = f"slar-test-{uuid.uuid4().hex[:8]}"
    _ctl("add_vhost", vhost)
    try:
        _ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/{vhost}"
    finally:
        _ctl("delete_vhost", vhost)


def client_broker(broker_url: str | None, redis_url: str, namespace: str) -> Broker:
    """A broker on which the test enqueues, on the same queues as the workers under test."""
    if broker_url and broker_url.startswith("amqp"):
        return RabbitmqBroker(url=broker_url, confirm_delivery=True)
    return RedisBroker(url=broker_url or redis_url, namespace=f"{namespace}-dramatiq")
