"""What the front doors share: the request body schema for /docs, timing and request metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ingest import metrics

JSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
    }
}


class Timer:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.status = 500

    @property
    def took(self) -> float:
        return round(time.perf_counter() - self.started, 3)


@contextmanager
def measured(label: str) -> Iterator[Timer]:
    """Count the request and its latency under the door's label, like the native webhooks."""
    timer = Timer()
    try:
        yield timer
    finally:
        metrics.REQUESTS.labels(label, str(timer.status)).inc()
        metrics.LATENCY.labels(label).observe(time.perf_counter() - timer.started)
