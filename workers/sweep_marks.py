"""Sweep marks: the sweeper enqueues an item only while no earlier sweep's message for it is waiting.

In a storm the queues hold more than one sweep interval of work. Without marks every sweep
re-enqueued every overdue step and due delivery again, so the backlog grew by itself each 15 s.

A mark is a Redis key per item (`<namespace>:swept:<actor>:<args>`), set with SET NX just before
the sweeper enqueues, carried in the message's options, and deleted by `ReleaseSweepMark` once that
message is done for good (processed, skipped, or failed with no retry left). So a mark lives exactly
as long as the sweeper's message does, and:

- with the Redis broker the marks sit in the broker's own Redis: a FLUSHALL loses marks and messages
  together, and the next sweep re-enqueues everything still due in Postgres;
- a worker killed mid-message leaves its message unacked; the broker redelivers it, and it releases
  the mark when it finishes;
- anything else that loses a message but not its mark (a purged RabbitMQ queue) is covered by the
  mark's TTL: the item is swept again at most MARK_TTL_S later.

Where no Redis is reachable the sweeper enqueues as before (a duplicate is idempotent; a lost page
is not).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from typing import Any

import redis
from dramatiq import Broker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

from app.config import get_settings
from workers.dispatch import send

log = logging.getLogger(__name__)

# Bounds how long a lost message whose mark survived keeps its item from being swept again.
MARK_TTL_S = 300
OPTION = "sweep_mark"


@cache
def _redis_of(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def marks_store(broker: Broker) -> tuple[redis.Redis, str] | None:
    """(client, key prefix) for the marks: the Redis broker's own Redis, else REDIS_URL's, else None."""
    if isinstance(broker, RedisBroker):
        return broker.client, f"{broker.namespace}:swept"
    settings = get_settings()
    if settings.redis_url:
        return _redis_of(settings.redis_url), f"{settings.redis_namespace}:swept"
    return None


def mark_key(prefix: str, actor: str, args: Sequence[Any]) -> str:
    return ":".join([prefix, actor, *(str(a) for a in args)])


def claim(broker: Broker, actor: str, items: Sequence[Sequence[Any]]) -> list[str | None]:
    """Per item: its new mark (enqueue it, carrying the mark), "" (enqueue, unmarked) or None (skip)."""
    store = marks_store(broker)
    if store is None or not items:
        return [""] * len(items)
    client, prefix = store
    keys = [mark_key(prefix, actor, args) for args in items]
    try:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.set(key, 1, nx=True, ex=MARK_TTL_S)
        won = pipe.execute()
    except redis.RedisError:
        # The broker's Redis is probably down too; enqueue tries anyway and logs its own failure.
        log.warning("sweep marks unavailable; enqueueing every due %s", actor, exc_info=True)
        return [""] * len(items)
    return [key if ok else None for key, ok in zip(keys, won, strict=True)]


def release(broker: Broker, key: str) -> None:
    """Forget a mark (its message is done, or was never enqueued): the next sweep may send again."""
    store = marks_store(broker)
    if store is None:
        return
    try:
        store[0].delete(key)
    except redis.RedisError:
        log.warning("cannot release sweep mark %s; it expires in %d s", key, MARK_TTL_S, exc_info=True)


def send_swept(broker: Broker, queue: str, actor: str, items: Sequence[Sequence[Any]]) -> int:
    """Enqueue each item that no earlier sweep's message is still waiting for; returns how many."""
    sent = 0
    for args, mark in zip(items, claim(broker, actor, items), strict=True):
        if mark is None:
            continue
        if send(queue, actor, *args, options={OPTION: mark} if mark else None):
            sent += 1
        elif mark:
            release(broker, mark)  # not enqueued: the next sweep must try again
    return sent


class ReleaseSweepMark(Middleware):
    """Release the mark a swept message carries once the message will not run again."""

    def after_process_message(
        self, broker: Broker, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        # On an exception with retries left, Retries has re-enqueued a copy carrying the same mark.
        if exception is None or message.failed:
            self._release(broker, message)

    def after_skip_message(self, broker: Broker, message: Any) -> None:
        self._release(broker, message)

    @staticmethod
    def _release(broker: Broker, message: Any) -> None:
        key = message.options.get(OPTION)
        if key:
            release(broker, key)
